//! Printable address labels for a post campaign: an HTML page of A4 sheets, 21 labels each
//! (3 × 7 labels of 63.5 × 38.1 mm, the common L7160 layout), laid out in millimetres with print
//! CSS, so any browser prints it at 100 % or saves it as PDF. Merged values are HTML-escaped.

use crm_campaigns::mailing::MailingAddress;

/// The page's own content security policy: its inline style, nothing else.
pub const POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Labels per sheet.
pub const PER_SHEET: usize = 21;

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Labels: {{ campaign }}</title>
<style>
@page { size: A4; margin: 0 }
* { box-sizing: border-box }
html, body { margin: 0; padding: 0 }
body { font: 10pt/1.25 "DejaVu Sans", Arial, sans-serif; color: #000 }
.sheet { width: 210mm; height: 297mm; padding: 15.15mm 7.25mm 0; display: grid;
  grid-template-columns: repeat(3, 63.5mm); grid-auto-rows: 38.1mm; column-gap: 2.5mm;
  overflow: hidden; break-after: page }
.sheet:last-child { break-after: auto }
.label { padding: 4mm 5mm; overflow: hidden; white-space: nowrap }
.label p { margin: 0; overflow: hidden; text-overflow: ellipsis }
.country { font-weight: bold }
@media screen { body { background: #ccc } .sheet { background: #fff; margin: 8mm auto } .label { outline: 1px dashed #bbb } }
</style></head><body>
{% for sheet in sheets %}<section class="sheet">
{% for l in sheet %}<div class="label" data-contact="{{ l.contact_id }}"><p>{{ l.name }}</p>
{% if l.company %}<p>{{ l.company }}</p>{% endif %}<p>{{ l.street }}</p>
<p>{{ l.postal_code }} {{ l.city }}</p>{% if l.region %}<p>{{ l.region }}</p>{% endif %}<p class="country">{{ l.country }}</p></div>
{% endfor %}</section>
{% endfor %}</body></html>"#;

/// The label sheets of `letters`.
pub fn render(campaign: &str, letters: &[MailingAddress]) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    let sheets: Vec<&[MailingAddress]> = letters.chunks(PER_SHEET).collect();
    env.render_named_str(
        "labels.html",
        PAGE,
        minijinja::context! { campaign, sheets => minijinja::value::Serde(sheets) },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(n: usize) -> MailingAddress {
        MailingAddress {
            contact_id: crm_core::ids::ContactId(uuid::Uuid::now_v7()),
            name: format!("Person <{n}>"),
            title: None,
            company: n.is_multiple_of(2).then(|| "Acme & Co".to_string()),
            street: format!("{n} Main St"),
            postal_code: "04524".into(),
            city: "Seoul".into(),
            region: None,
            country: "KR".into(),
            status: crm_campaigns::MemberStatus::Targeted,
        }
    }

    #[test]
    fn sheets_hold_21_labels_and_values_are_escaped() {
        let letters: Vec<_> = (0..22).map(letter).collect();
        let page = render("Year-end <card>", &letters).unwrap();
        assert_eq!(page.matches("<section class=\"sheet\">").count(), 2);
        assert_eq!(page.matches("<div class=\"label\"").count(), 22);
        assert!(page.contains("Person &lt;3&gt;") && page.contains("Acme &amp; Co"));
        assert!(page.contains("<title>Labels: Year-end &lt;card&gt;</title>"));
    }
}
