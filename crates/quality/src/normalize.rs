//! Normalized forms of names for comparison.

/// Legal forms dropped from company names before they are compared (after folding to ASCII
/// lower case: `주식회사` folds to `jusighoesa`, `株式会社` to `zhu shi hui she`).
const COMPANY_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "ltd",
    "limited",
    "llc",
    "llp",
    "plc",
    "gmbh",
    "ag",
    "kg",
    "ohg",
    "ug",
    "sa",
    "sarl",
    "sas",
    "bv",
    "nv",
    "kk",
    "jusighoesa",
    "yuhanhoesa",
    "zhu shi hui she",
    "you xian hui she",
    "the",
];

/// A name folded for comparison: ASCII (accents dropped, Hangul and kana transliterated), lower
/// case, letters and digits only, single spaces.
pub fn fold(s: &str) -> String {
    let ascii = deunicode::deunicode(s).to_ascii_lowercase();
    let mut out = String::with_capacity(ascii.len());
    for word in ascii.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// A person's full name folded, given name first (`Min-jun Kim` → `min jun kim`).
pub fn person(first: Option<&str>, last: Option<&str>) -> String {
    fold(&format!("{} {}", first.unwrap_or_default(), last.unwrap_or_default()))
}

/// A company name folded, without its legal form (`ACME Korea Co., Ltd.` → `acme korea`).
pub fn company(name: &str) -> String {
    let folded = format!(" {} ", fold(name));
    let mut s = folded;
    for suffix in COMPANY_SUFFIXES {
        let pat = format!(" {suffix} ");
        while let Some(i) = s.find(&pat) {
            s.replace_range(i..i + pat.len(), " ");
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How alike two folded names are, 0 to 1: Jaro–Winkler, also with the words of each sorted
/// (so `kim min jun` and `min jun kim` compare equal); the better of the two.
pub fn similarity(a: &str, b: &str) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let sorted = |s: &str| {
        let mut w: Vec<&str> = s.split(' ').collect();
        w.sort_unstable();
        w.join(" ")
    };
    strsim::jaro_winkler(a, b).max(strsim::jaro_winkler(&sorted(a), &sorted(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_scripts_and_punctuation() {
        assert_eq!(fold("  José  Müller-Lüdenscheidt "), "jose muller ludenscheidt");
        assert_eq!(person(Some("Min-jun"), Some("KIM")), "min jun kim");
        // Hangul is transliterated, so the same name typed in Hangul and in Latin letters
        // comes close.
        assert_eq!(fold("김"), "gim");
        assert!(!fold("김민준").is_empty() && fold("김민준").is_ascii());
    }

    #[test]
    fn company_legal_forms_go() {
        assert_eq!(company("ACME Korea Co., Ltd."), "acme korea");
        assert_eq!(company("Müller GmbH"), "muller");
        assert_eq!(company("The Coca-Cola Company"), "coca cola");
        assert_eq!(company("Inc"), "");
    }

    #[test]
    fn word_order_does_not_matter() {
        assert_eq!(similarity("kim min jun", "min jun kim"), 1.0);
        assert_eq!(similarity("", "x"), 0.0);
        // Jaro–Winkler of MARTHA/MARHTA is 0.961 (Winkler's example).
        assert!((similarity("martha", "marhta") - 0.9611).abs() < 1e-3);
    }
}
