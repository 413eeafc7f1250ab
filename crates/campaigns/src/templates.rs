//! Email templates: subject, HTML and text parts written in Jinja (minijinja, with HTML escaping
//! in the HTML part), with the contact's, its account's and the campaign's fields to merge, and
//! the links each message carries: `{{ unsubscribe_url }}` (required: every marketing email can
//! be left) and `{{ response_url }}` (the web response form). Rendering adds the open pixel and
//! turns every `http(s)` link of the HTML part into a tracked one that redirects only to the
//! link the message held.

use crm_core::external::parse_external_ids;
use crm_core::ids::EmailTemplateId;
use crm_core::values::{self, clean};
use crm_core::{Actor, ExternalId, FieldErrors, Scope, Timestamp};
use crm_db::AnyConnection;
use crm_records::{Record, RecordError};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Longest HTML or text part.
pub const MAX_BODY: usize = 256 * 1024;
/// How much work one rendering may do (minijinja's fuel): loops cannot run away.
const FUEL: u64 = 200_000;

/// An email template.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = email_templates)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject),
    graphql(name = "EmailTemplateFields", visible = false)
)]
pub struct EmailTemplate {
    /// The record's id (UUIDv7: time-ordered).
    pub id: EmailTemplateId,
    /// The name people see.
    #[filter(sort)]
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The subject line (a template: `Hello {{ contact.first_name }}`).
    pub subject: String,
    /// The HTML part (a template; merged values are HTML-escaped). Must link `{{ unsubscribe_url }}`.
    pub html: String,
    /// The plain-text part (a template; when set, must hold `{{ unsubscribe_url }}` too).
    #[stored(column = "text_body")]
    pub text: Option<String>,
    /// The sender's name (defaults to the server's, `CRM_SMTP_FROM`).
    pub from_name: Option<String>,
    /// The sender's address (defaults to the server's).
    pub from_email: Option<String>,
    /// Where replies go.
    pub reply_to: Option<String>,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the record was archived; null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// A new template, or the whole writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = EmailTemplatePatch, record = EmailTemplate)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct EmailTemplateInput {
    /// The name people see.
    #[cfg_attr(feature = "openapi", schema(example = "Spring renewal"))]
    pub name: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The subject line, at most 500 characters once merged.
    #[cfg_attr(feature = "openapi", schema(example = "{{ contact.first_name }}, your plan renews soon"))]
    pub subject: Option<String>,
    /// The HTML part, at most 256 KiB; must link `{{ unsubscribe_url }}`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "<p>Hello {{ contact.first_name }},</p><p><a href=\"https://example.com/renew\">Renew</a></p><p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>"
        )
    )]
    pub html: Option<String>,
    /// The plain-text part (optional), at most 256 KiB; holds `{{ unsubscribe_url }}` when set.
    #[serde(default)]
    pub text: Option<String>,
    /// The sender's name.
    #[serde(default)]
    pub from_name: Option<String>,
    /// The sender's address.
    #[serde(default)]
    pub from_email: Option<String>,
    /// Where replies go.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    /// Ids in other systems, each unique among templates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// How strict rendering is about variables that do not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// When a template is saved: an unknown variable (a typo) is an error, so it fails then and
    /// not in a customer's inbox.
    Strict,
    /// When a message is rendered: a value the recipient lacks (a contact without an account)
    /// renders as nothing.
    Lenient,
}

/// The environment templates render in: HTML escaping for the HTML part, `none` printed as
/// nothing, and bounded work.
fn environment(html: bool, check: Check) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(match check {
        Check::Strict => UndefinedBehavior::Strict,
        Check::Lenient => UndefinedBehavior::Chainable,
    });
    env.set_auto_escape_callback(move |_| if html { AutoEscape::Html } else { AutoEscape::None });
    env.set_formatter(
        |out, state, value| {
            if value.is_none() { Ok(()) } else { minijinja::escape_formatter(out, state, value) }
        },
    );
    env.set_fuel(Some(FUEL));
    env
}

/// Renders one part.
pub(crate) fn render_part(source: &str, html: bool, check: Check, data: &Value) -> Result<String, String> {
    let env = environment(html, check);
    let tmpl = env.template_from_str(source).map_err(describe)?;
    tmpl.render(minijinja::value::Serde(data)).map_err(describe)
}

/// A rendering error as its author reads it: what went wrong, where.
fn describe(e: minijinja::Error) -> String {
    let what = match e.kind() {
        minijinja::ErrorKind::UndefinedError => "unknown variable".to_string(),
        kind => kind.to_string(),
    };
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    match e.line() {
        Some(line) => format!("{what} (line {line}){detail}"),
        None => format!("{what}{detail}"),
    }
}

/// The variables a template may use, filled with sample values (a template is checked against
/// them when it is saved). `contact` and `account` carry every field of those records, their
/// custom fields included.
pub fn sample_data(conn: &mut AnyConnection) -> Result<Value, RecordError> {
    let fields = crm_records::custom::live_fields(conn, None)?;
    Ok(sample_with(fields.into_iter().map(|f| (f.resource, f.name))))
}

/// The sample variables, with these custom fields.
fn sample_with(custom: impl IntoIterator<Item = (crm_records::custom::CustomResource, String)>) -> Value {
    use crm_records::Stored;
    use crm_records::custom::CustomResource;
    let mut contact = serde_json::to_value(crm_contacts::Contact::blank()).unwrap_or_default();
    let mut account = serde_json::to_value(crm_accounts::Account::blank()).unwrap_or_default();
    merge(
        &mut contact,
        json!({"first_name": "Min-jun", "last_name": "Kim", "email": "minjun.kim@example.kr", "title": "CTO"}),
    );
    merge(&mut account, json!({"name": "Acme Korea", "domain": "acme.co.kr"}));
    for (resource, name) in custom {
        let record = match resource {
            CustomResource::Contacts => &mut contact,
            CustomResource::Accounts => &mut account,
            _ => continue,
        };
        merge(record, json!({"custom_fields": {name: null}}));
    }
    json!({
        "contact": contact,
        "account": account,
        "campaign": {"id": "0193a4e8-0000-7000-8000-000000000002", "name": "Spring renewal", "type": "retention"},
        "unsubscribe_url": "https://crm.example.com/t/u/sample",
        "response_url": "https://crm.example.com/t/r/sample",
    })
}

/// Writes `patch`'s members into `target` (objects merged, the rest replaced).
fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p,
    }
}

/// A message, rendered.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: Option<String>,
    /// The `http(s)` links of the HTML part, in order (their tracked forms point at these).
    pub links: Vec<String>,
}

/// Renders a template for one recipient. `data` holds `contact`, `account`, `campaign`,
/// `unsubscribe_url` and `response_url`; `click(i)` is the tracked URL of the i-th link and
/// `pixel` the open pixel's URL (both `None` renders the message as written: a preview).
pub fn render(
    t: &EmailTemplate,
    data: &Value,
    click: Option<&dyn Fn(usize) -> String>,
    pixel: Option<&str>,
) -> Result<Rendered, String> {
    let subject = render_part(&t.subject, false, Check::Lenient, data)?.replace(['\r', '\n'], " ").trim().to_string();
    let html = render_part(&t.html, true, Check::Lenient, data)?;
    let text = t.text.as_deref().map(|s| render_part(s, false, Check::Lenient, data)).transpose()?;
    let unsubscribe = data["unsubscribe_url"].as_str().unwrap_or_default();
    let response = data["response_url"].as_str().unwrap_or_default();
    let (mut html, links) = match click {
        Some(click) => track_links(&html, &[unsubscribe, response], click),
        None => (html, Vec::new()),
    };
    if let Some(p) = pixel {
        let img = format!("<img src=\"{p}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">");
        match html.to_ascii_lowercase().rfind("</body>") {
            Some(at) => html.insert_str(at, &img),
            None => html.push_str(&img),
        }
    }
    Ok(Rendered { subject, html, text, links })
}

/// Replaces each `href` to an `http(s)` URL (but `keep`) by its tracked form; returns the HTML
/// and the links replaced, as the browser would read them (entities decoded).
fn track_links(html: &str, keep: &[&str], click: &dyn Fn(usize) -> String) -> (String, Vec<String>) {
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len() + 64);
    let mut links = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find("href") {
        let start = at + found;
        let mut i = start + 4;
        let bytes = html.as_bytes();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            out.push_str(&html[at..start + 4]);
            at = start + 4;
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let quote = bytes.get(i).copied().filter(|q| *q == b'"' || *q == b'\'');
        let (value_start, value_end) = match quote {
            Some(q) => match html[i + 1..].find(q as char) {
                Some(len) => (i + 1, i + 1 + len),
                None => break,
            },
            None => {
                let len = html[i..].find(|c: char| c.is_ascii_whitespace() || c == '>').unwrap_or(html.len() - i);
                (i, i + len)
            }
        };
        let url = unescape(&html[value_start..value_end]);
        out.push_str(&html[at..value_start]);
        let tracked = (url.starts_with("http://") || url.starts_with("https://")) && !keep.contains(&url.as_str());
        if tracked {
            out.push_str(&click(links.len()));
            links.push(url);
        } else {
            out.push_str(&html[value_start..value_end]);
        }
        at = value_end;
    }
    out.push_str(&html[at..]);
    (out, links)
}

/// The text of an attribute value (the entities HTML escaping writes).
fn unescape(s: &str) -> String {
    s.trim()
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A template rendered for a contact (or the sample values), as its recipient would read it
/// but with its links as written (no tracking).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct TemplatePreview {
    pub subject: String,
    pub html: String,
    pub text: Option<String>,
}

/// Renders template `id` for `contact` (with its account), or for the sample values.
pub fn preview(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: EmailTemplateId,
    contact: Option<crm_core::ids::ContactId>,
) -> Result<TemplatePreview, RecordError> {
    let t = crm_records::get::<EmailTemplate>(conn, actor, id)?;
    let mut data = sample_data(conn)?;
    if let Some(contact) = contact {
        let person = crm_records::get::<crm_contacts::Contact>(conn, actor, contact)?;
        let account = match person.account_id {
            Some(a) => Some(crm_records::get::<crm_accounts::Account>(conn, actor, a)?),
            None => None,
        };
        data["contact"] = serde_json::to_value(&person).unwrap_or_default();
        data["account"] = serde_json::to_value(&account).unwrap_or_default();
    }
    let r = render(&t, &data, None, None)
        .map_err(|m| RecordError::invalid(EmailTemplate::ENTITY, "contact_id", "invalid_template", m))?;
    Ok(TemplatePreview { subject: r.subject, html: r.html, text: r.text })
}

impl EmailTemplateInput {
    fn normalize(mut self, sample: &Value) -> Result<EmailTemplateInput, FieldErrors> {
        let mut errs = FieldErrors::new();
        self.name = self.name.as_deref().and_then(clean);
        match &self.name {
            None => errs.add("name", "required", "a template needs a name"),
            Some(n) if n.chars().count() > 200 => errs.add("name", "too_long", "at most 200 characters"),
            _ => {}
        }
        self.description = self.description.as_deref().and_then(clean);
        if self.description.as_ref().is_some_and(|d| d.chars().count() > 2000) {
            errs.add("description", "too_long", "at most 2000 characters");
        }
        self.subject = self.subject.as_deref().and_then(clean);
        if self.subject.is_none() {
            errs.add("subject", "required", "a template needs a subject");
        }
        self.html = self.html.filter(|h| !h.trim().is_empty());
        match &self.html {
            None => errs.add("html", "required", "a template needs an HTML part"),
            Some(h) if h.len() > MAX_BODY => errs.add("html", "too_large", "at most 256 KiB"),
            Some(h) if !h.contains("unsubscribe_url") => errs.add(
                "html",
                "unsubscribe_link_required",
                "every marketing email links `{{ unsubscribe_url }}`, so the recipient can leave",
            ),
            _ => {}
        }
        self.text = self.text.filter(|t| !t.trim().is_empty());
        match &self.text {
            Some(t) if t.len() > MAX_BODY => errs.add("text", "too_large", "at most 256 KiB"),
            Some(t) if !t.contains("unsubscribe_url") => {
                errs.add("text", "unsubscribe_link_required", "the text part holds `{{ unsubscribe_url }}` too")
            }
            _ => {}
        }
        self.from_name = self.from_name.as_deref().and_then(clean);
        if self.from_name.as_ref().is_some_and(|n| n.chars().count() > 100 || n.contains(['<', '>', '"'])) {
            errs.add("from_name", "invalid_value", "at most 100 characters, without < > or \"");
        }
        for (field, v) in [("from_email", &mut self.from_email), ("reply_to", &mut self.reply_to)] {
            *v = match v.as_deref().and_then(clean) {
                Some(e) => errs.take(values::parse_email(field, &e)),
                None => None,
            };
        }
        // Each part must render with the variables a message has (a typo fails here).
        for (field, source, html) in [
            ("subject", self.subject.as_deref(), false),
            ("html", self.html.as_deref(), true),
            ("text", self.text.as_deref(), false),
        ] {
            if let Some(s) = source
                && errs.0.iter().all(|e| e.field != field)
                && let Err(m) = render_part(s, html, Check::Strict, sample)
            {
                errs.add(field, "invalid_template", m);
            }
        }
        self.tags = errs.take(values::parse_tags("tags", &self.tags)).unwrap_or_default();
        self.external_ids = parse_external_ids("external_ids", std::mem::take(&mut self.external_ids), &mut errs);
        errs.into_result().map(|_| self)
    }
}

impl Record for EmailTemplate {
    type Input = EmailTemplateInput;
    type Patch = EmailTemplatePatch;

    const READ: Scope = Scope::CampaignsRead;
    const WRITE: Scope = Scope::CampaignsWrite;

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: EmailTemplateId,
        input: EmailTemplateInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let sample = sample_data(conn)?;
        let i = input.normalize(&sample).map_err(|errors| RecordError::Invalid { entity: Self::ENTITY, errors })?;
        let mut t = prev.cloned().unwrap_or_else(<EmailTemplate as crm_records::Stored>::blank);
        t.id = id;
        t.name = i.name.unwrap_or_default();
        t.description = i.description;
        t.subject = i.subject.unwrap_or_default();
        t.html = i.html.unwrap_or_default();
        t.text = i.text;
        t.from_name = i.from_name;
        t.from_email = i.from_email;
        t.reply_to = i.reply_to;
        t.tags = i.tags;
        t.external_ids = i.external_ids;
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(html: &str) -> EmailTemplate {
        EmailTemplate {
            subject: "Hi {{ contact.first_name }}".into(),
            html: html.into(),
            text: Some("Hi {{ contact.first_name }}. Leave: {{ unsubscribe_url }}".into()),
            ..<EmailTemplate as crm_records::Stored>::blank()
        }
    }

    #[test]
    fn renders_escapes_and_tracks_the_templates_links() {
        let mut data = sample_with([]);
        data["contact"]["first_name"] = json!("<b>Ann</b>");
        data["contact"]["title"] = Value::Null;
        data["account"] = Value::Null;
        let t = template(
            r##"<html><body><p>{{ contact.first_name }}</p><a href="https://example.com/a?x=1&amp;y=2">A</a>
            <a href='http://example.com/b'>B</a> <a href="mailto:x@example.com">M</a> <a href="#top">T</a>
            <a href="{{ unsubscribe_url }}">leave</a> {{ account.name }}{{ contact.title }}</body></html>"##,
        );
        let click = |i: usize| format!("https://crm.example.com/t/c/{i}");
        let r = render(&t, &data, Some(&click), Some("https://crm.example.com/t/o/p")).unwrap();
        assert_eq!(r.subject, "Hi <b>Ann</b>", "the subject is text, not HTML");
        assert!(r.html.contains("<p>&lt;b&gt;Ann&lt;&#x2f;b&gt;</p>"), "{}", r.html);
        assert_eq!(r.links, ["https://example.com/a?x=1&y=2", "http://example.com/b"]);
        assert!(r.html.contains(r#"href="https://crm.example.com/t/c/0""#));
        assert!(r.html.contains("href='https://crm.example.com/t/c/1'"));
        assert!(r.html.contains(r#"href="mailto:x@example.com""#) && r.html.contains(r##"href="#top""##));
        assert!(
            r.html.contains(r#"href="https:&#x2f;&#x2f;crm.example.com&#x2f;t&#x2f;u&#x2f;sample""#),
            "the unsubscribe link stays as it is (escaped, as every merged value)"
        );
        assert!(r.html.contains("leave</a> <img"), "a missing value renders as nothing: {}", r.html);
        assert!(r.html.contains(
            r#"<img src="https://crm.example.com/t/o/p" width="1" height="1" alt="" style="display:none"></body>"#
        ));
        assert_eq!(r.text.as_deref(), Some("Hi <b>Ann</b>. Leave: https://crm.example.com/t/u/sample"));
    }

    #[test]
    fn templates_are_checked_when_saved() {
        let bad = EmailTemplateInput {
            name: Some("T".into()),
            subject: Some("Hi {{ contact.frist_name }}".into()),
            html: Some("<p>no way out</p>".into()),
            text: Some("{% for x in %}".into()),
            from_email: Some("not an email".into()),
            ..Default::default()
        };
        let e = bad.normalize(&sample_with([])).unwrap_err();
        let mut got: Vec<(String, String)> = e.0.iter().map(|f| (f.field.clone(), f.code.clone())).collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("from_email".to_string(), "invalid_email".to_string()),
                ("html".into(), "unsubscribe_link_required".into()),
                ("subject".into(), "invalid_template".into()),
                ("text".into(), "unsubscribe_link_required".into()),
            ]
        );
        let loops = EmailTemplateInput {
            name: Some("T".into()),
            subject: Some("S".into()),
            html: Some("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}{{ unsubscribe_url }}".into()),
            ..Default::default()
        };
        assert_eq!(
            loops.normalize(&sample_with([])).unwrap_err().0[0].code,
            "invalid_template",
            "a runaway loop runs out of fuel"
        );
    }
}
