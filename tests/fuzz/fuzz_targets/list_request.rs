//! A list request's text parameters (`filter`, `sort`, `cursor`, `q`, one per line of the
//! input), through parsing, resolution and the SQL of both backends.
#![no_main]

use crm_core::list::ListParams;
use libfuzzer_sys::fuzz_target;

#[path = "catalog.rs"]
mod catalog;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.splitn(4, '\n');
    let mut next = || lines.next().map(str::to_string);
    let params = ListParams { filter: next(), sort: next(), cursor: next(), q: next(), ..Default::default() };
    catalog::resolve_and_build(&params);
});
