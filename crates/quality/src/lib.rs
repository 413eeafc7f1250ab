//! Data quality: finding the duplicates that every CRM accumulates (the same person typed twice,
//! once with a work email and once with a phone; "Acme Korea Co., Ltd." and "ACME Korea").
//!
//! Values are compared normalized: emails and phones as the records store them (lower case,
//! E.164), names folded to ASCII (accents dropped; Hangul and kana transliterated by
//! `deunicode`), lower case, punctuation and company suffixes removed, then compared with
//! Jaro–Winkler (`strsim`). Candidates come from blocks (same email, same phone, same account,
//! same city and family name; same domain, same country and name prefix), so no record is
//! compared with the whole base. Each rule has a weight; a pair's score combines the rules it
//! matched as independent evidence: `1 − Π(1 − weight × similarity)`.

pub mod matching;
pub mod normalize;
pub mod scan;
pub mod settings;

pub use matching::{Candidate, DuplicateResource, RuleMatch};
pub use settings::DuplicateSettings;

/// The data-quality side of writes: a new contact or account that is likely a duplicate is
/// refused (`matching::check_new_contact`), and pairs that name a merged record leave the
/// scan's list.
pub fn hooks() -> crm_records::hooks::Hooks {
    fn settled(
        conn: &mut crm_db::AnyConnection,
        resource: &'static str,
        losers: &[uuid::Uuid],
    ) -> Result<Vec<crm_records::hooks::Moved>, crm_records::RecordError> {
        use crm_db::schema::duplicate_candidates as d;
        use crm_db::types::DbUuid;
        use diesel::prelude::*;
        let gone: Vec<DbUuid> = losers.iter().copied().map(DbUuid).collect();
        let pairs = diesel::delete(
            d::table.filter(d::resource.eq(resource)).filter(d::a_id.eq_any(&gone).or(d::b_id.eq_any(&gone))),
        )
        .execute(conn)?;
        Ok(vec![crm_records::hooks::Moved { resource: "duplicate_candidates", field: "a_id, b_id", count: pairs }])
    }
    crm_records::hooks::Hooks::new()
        .on_merge("contact", |conn, _, losers, _| settled(conn, "contacts", losers))
        .on_merge("account", |conn, _, losers, _| settled(conn, "accounts", losers))
        .on_create_check("contact", matching::check_new_contact)
        .on_create_check("account", matching::check_new_account)
}
