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
