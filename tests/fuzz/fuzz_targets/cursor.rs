//! Cursors: any text as a cursor, and cursors that carry the right signature for their sort
//! (so they pass the first check) with any values, which the SQL binds.
#![no_main]

use crm_core::list::{Cursor, ListParams, list_signature};
use libfuzzer_sys::fuzz_target;

#[path = "catalog.rs"]
mod catalog;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Any text: refused or decoded, and what decodes encodes back to itself.
    if let Some(c) = Cursor::decode(text) {
        assert_eq!(Cursor::decode(&c.encode()).as_ref(), Some(&c));
    }
    // `sort` on the first line, the filter on the second, the cursor's values (JSON) after.
    let mut parts = text.splitn(3, '\n');
    let (sort, filter, values) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
    let base = ListParams { sort: sort.map(String::from), filter: filter.map(String::from), ..Default::default() };
    let Some(q) = catalog::resolve_and_build(&base) else { return };
    let Ok(v) = serde_json::from_str::<Vec<serde_json::Value>>(values) else { return };
    let cursor = Cursor { s: list_signature(&q.sort, q.id_desc, q.origin), v, id: uuid::Uuid::nil() };
    catalog::resolve_and_build(&ListParams { cursor: Some(cursor.encode()), ..base });
});
