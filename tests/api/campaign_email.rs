//! Email campaigns end to end: templates, the outbox sent through a real SMTP server started
//! here (`smtp::SmtpSink`, which refuses `bounce…` for good and `later…` for now), the
//! messages read back MIME-decoded, and the public links followed as a recipient would.

use std::time::Duration;

use serde_json::{Value, json};

use crate::smtp::{Received, SmtpSink};
use crate::support::*;

/// Where the test messages say the server is (links are followed at the app's real address).
const PUBLIC: &str = "http://crm.test";

pub(crate) fn mail_settings(sink: &SmtpSink, interval: Duration) -> impl FnOnce(&mut crm_gateway::Settings) + use<> {
    let url = sink.url();
    move |s| {
        s.mail = Some(mail_config(url));
        s.mail_interval = interval;
    }
}

fn mail_config(smtp_url: String) -> crm_gateway::mail::MailSettings {
    crm_gateway::mail::MailSettings {
        smtp_url,
        from: "Acme News <news@acme.example>".parse().unwrap(),
        rate: 0.0,
        connections: 8,
        public_url: PUBLIC.into(),
        timeout: Duration::from_secs(5),
        retry_scale: 0.001,
    }
}

pub(crate) async fn template(app: &TestApp, extra: Value) -> Value {
    let mut body = json!({
        "name": "Spring renewal",
        "subject": "Hello {{ contact.first_name }}",
        "html": "<html><body><p>Dear {{ contact.first_name }} of {{ account.name }},</p>\
                 <p><a href=\"https://shop.example/offer?id=7&amp;src=mail\">See the offer</a></p>\
                 <p><a href=\"{{ response_url }}\">Answer</a> <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p></body></html>",
        "text": "Dear {{ contact.first_name }}, see https://shop.example/offer\nAnswer: {{ response_url }}\nLeave: {{ unsubscribe_url }}",
        "reply_to": "sales@acme.example",
    });
    merge(&mut body, extra);
    app.created("/api/v1/email-templates", body).await
}

/// Waits (up to 30 s) until nothing of the campaign is queued or being sent; its progress.
pub(crate) async fn sent_out(app: &TestApp, campaign: &Value) -> Value {
    let path = format!("/api/v1/campaigns/{}/sending", s(&campaign["id"]));
    for _ in 0..600 {
        let p = app.get(&path).await.expect(200);
        if p["queued"] == 0 && p["sending"] == 0 {
            return p;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the campaign's messages were not all sent in time");
}

/// The message the sink received for `address`, exactly one.
pub(crate) fn one_to<'a>(received: &'a [Received], address: &str) -> &'a Received {
    let to: Vec<&Received> = received.iter().filter(|r| r.to == [address]).collect();
    assert_eq!(to.len(), 1, "messages to {address}: {}", to.len());
    to[0]
}

/// The tracked URLs (`{PUBLIC}/t/{kind}/…`) in a text, in order.
pub(crate) fn links(text: &str, kind: &str) -> Vec<String> {
    let prefix = format!("{PUBLIC}/t/{kind}/");
    text.match_indices(&prefix)
        .map(|(at, _)| {
            let rest = &text[at..];
            let end = rest.find(|c: char| c == '"' || c == '\'' || c.is_whitespace() || c == '>').unwrap_or(rest.len());
            rest[..end].to_string()
        })
        .collect()
}

/// A client that shows redirects instead of following them.
pub(crate) fn browser() -> awc::Client {
    awc::Client::builder().disable_redirects().timeout(Duration::from_secs(10)).finish()
}

/// A public link, at the app's real address.
pub(crate) fn real(app: &TestApp, url: &str) -> String {
    url.replace(PUBLIC, &app.base)
}

pub(crate) async fn members(app: &TestApp, campaign: &Value) -> std::collections::HashMap<String, Value> {
    let page = app.get(&format!("/api/v1/campaigns/{}/members?limit=1000", s(&campaign["id"]))).await.expect(200);
    page["data"].as_array().unwrap().iter().map(|m| (s(&m["contact_id"]).to_string(), m.clone())).collect()
}

#[actix_web::test]
async fn an_email_wave_goes_out_once_per_member_and_recipients_answer_through_its_links() {
    let sink = SmtpSink::start().await;
    let app = spawn_with(mail_settings(&sink, Duration::from_millis(50))).await;
    let acme = app.account("Acme <Korea>", json!({})).await;
    let person = |first: &'static str, email: Option<&'static str>, extra: Value| {
        let mut body = json!({"tags": ["spring"], "email": email, "account_id": acme["id"]});
        merge(&mut body, extra);
        app.contact(first, "Test", body)
    };
    let ann = person("Ann", Some("ann@mail.example"), json!({})).await;
    let bob = person("Bob", Some("bob@mail.example"), json!({})).await;
    let gil = person("Gil", Some("gil@mail.example"), json!({})).await;
    let out = person("Out", Some("out@mail.example"), json!({"email_consent": "opted_out"})).await;
    let none = person("None", None, json!({})).await;
    let hard = person("Hard", Some("bounce@mail.example"), json!({})).await;
    let soft = person("Soft", Some("later@mail.example"), json!({})).await;
    let t = template(&app, json!({})).await;
    let seg = app.segment("Spring", json!({"criteria": "tags[eq]:spring"})).await;
    let c = app.campaign("Spring wave", json!({"segment_ids": [seg["id"]], "email_template_id": t["id"]})).await;
    let path = format!("/api/v1/campaigns/{}", s(&c["id"]));
    app.patch(&path, json!({"status": "running"})).await.expect(200);

    let progress = sent_out(&app, &c).await;
    // Queued at launch: the five members with an address and consent. Ann, Bob and Gil went
    // out; the server refused Hard for good and Soft five times.
    assert_eq!(
        (
            progress["total"].as_i64(),
            progress["sent"].as_i64(),
            progress["bounced"].as_i64(),
            progress["failed"].as_i64()
        ),
        (Some(5), Some(3), Some(1), Some(1))
    );
    let received = sink.received();
    assert_eq!(received.len(), 3, "one message per member the server took");
    assert_eq!(sink.refused().iter().filter(|r| r.starts_with("later")).count(), 5, "five attempts for a 451");
    assert_eq!(sink.refused().iter().filter(|r| r.starts_with("bounce")).count(), 1, "no retry after a 550");

    // Ann's message: merged, escaped, tracked, with the RFC 8058 headers.
    let m = one_to(&received, "ann@mail.example");
    assert_eq!(m.from, "news@acme.example");
    let parsed = m.parsed();
    assert_eq!(parsed.subject(), Some("Hello Ann"));
    let html = parsed.body_html(0).unwrap().into_owned();
    let text = parsed.body_text(0).unwrap().into_owned();
    assert!(html.contains("Dear Ann of Acme &lt;Korea&gt;,"), "{html}");
    assert!(!html.contains("https://shop.example/offer"), "the offer link is tracked: {html}");
    assert!(text.starts_with("Dear Ann, see https://shop.example/offer"), "{text}");
    let unsubscribe = m.header("List-Unsubscribe").unwrap();
    assert!(unsubscribe.starts_with(&format!("<{PUBLIC}/t/u/")) && unsubscribe.ends_with('>'), "{unsubscribe}");
    assert_eq!(m.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    assert_eq!(m.header("Reply-To").as_deref(), Some("sales@acme.example"));
    let message_id = m.header("Message-ID").unwrap();
    assert!(message_id.ends_with("@acme.example>"), "{message_id}");
    let clicks = links(&html, "c");
    let opens = links(&html, "o");
    assert_eq!((clicks.len(), opens.len()), (1, 1), "{html}");

    let web = browser();
    // The open pixel.
    let mut r = web.get(real(&app, &opens[0])).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("content-type").unwrap(), "image/gif");
    assert_eq!(r.body().await.unwrap().len(), 43);
    // The click goes where the template linked, and only there.
    let r = web.get(real(&app, &clicks[0])).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers().get("location").unwrap(), "https://shop.example/offer?id=7&src=mail");
    // A token changed by one character is refused and changes nothing.
    let mut forged = real(&app, &clicks[0]);
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(web.get(&forged).send().await.unwrap().status(), 404);
    // An open token is not a click token.
    let as_click = real(&app, &opens[0]).replace("/t/o/", "/t/c/");
    assert_eq!(web.get(&as_click).send().await.unwrap().status(), 404);

    // Bob answers through the form (the link in his text part).
    let bob_text = one_to(&received, "bob@mail.example").parsed().body_text(0).unwrap().into_owned();
    let answer = links(&bob_text, "r");
    assert_eq!(answer.len(), 1, "{bob_text}");
    let mut page = web.get(real(&app, &answer[0])).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let form = String::from_utf8(page.body().await.unwrap().to_vec()).unwrap();
    assert!(form.contains("Spring wave") && form.contains("value=\"requested_call\""), "{form}");
    let r =
        web.post(real(&app, &answer[0])).send_form(&[("response_type", "requested_call"), ("note", "Tuesday")]).await;
    assert_eq!(r.unwrap().status(), 200);
    let r = web.post(real(&app, &answer[0])).send_form(&[("response_type", "maybe")]).await.unwrap();
    assert_eq!(r.status(), 400, "an answer the form does not offer");

    // Gil unsubscribes: the link's page asks first (link scanners follow links), the mail
    // client's one-click POST does it.
    let gil_unsubscribe = one_to(&received, "gil@mail.example").header("List-Unsubscribe").unwrap();
    let gil_unsubscribe = real(&app, gil_unsubscribe.trim_matches(['<', '>']));
    let mut page = web.get(&gil_unsubscribe).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(String::from_utf8(page.body().await.unwrap().to_vec()).unwrap().contains("<form method=\"post\">"));
    let gil_now = app.get(&format!("/api/v1/contacts/{}", s(&gil["id"]))).await.expect(200);
    assert_eq!(gil_now["email_consent"], "unknown", "showing the page changes nothing");
    let r = web
        .post(&gil_unsubscribe)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_body("List-Unsubscribe=One-Click")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let gil_now = app.get(&format!("/api/v1/contacts/{}", s(&gil["id"]))).await.expect(200);
    assert_eq!(gil_now["email_consent"], "opted_out");

    // The members, one by one.
    let by = members(&app, &c).await;
    let status = |c: &Value| (by[s(&c["id"])]["status"].clone(), by[s(&c["id"])]["exclusion_reason"].clone());
    assert_eq!(status(&ann), (json!("clicked"), Value::Null));
    assert_eq!(status(&bob), (json!("responded"), Value::Null));
    assert_eq!(by[s(&bob["id"])]["response_type"], "requested_call");
    assert_eq!(status(&gil), (json!("unsubscribed"), Value::Null));
    assert_eq!(status(&out), (json!("excluded"), json!("opted_out")));
    assert_eq!(status(&none), (json!("excluded"), json!("no_address")));
    assert_eq!((status(&hard).0, &by[s(&hard["id"])]["bounce_kind"]), (json!("bounced"), &json!("hard")));
    assert_eq!((status(&soft).0, &by[s(&soft["id"])]["bounce_kind"]), (json!("bounced"), &json!("soft")));

    // The review, by hand: 5 targeted, 2 excluded; sent 5 (a bounce was sent); delivered Ann,
    // Bob, Gil = 3; bounced 2; opened and clicked Ann = 1; responded Bob = 1; unsubscribed
    // Gil = 1. Bounce 2/5 = 4000 bp; open and click 1/3 = 3333 bp; response 1/5 = 2000 bp.
    let stats = app.get(&format!("{path}/stats")).await.expect(200);
    let total = &stats["total"];
    let figures: Vec<i64> =
        ["targeted", "excluded", "sent", "delivered", "bounced", "opened", "clicked", "responded", "unsubscribed"]
            .iter()
            .map(|k| total[k].as_i64().unwrap())
            .collect();
    assert_eq!(figures, [5, 2, 5, 3, 2, 1, 1, 1, 1]);
    let rates: Vec<i64> = ["bounce_rate_bp", "open_rate_bp", "click_rate_bp", "response_rate_bp"]
        .iter()
        .map(|k| total[k].as_i64().unwrap())
        .collect();
    assert_eq!(rates, [4000, 3333, 3333, 2000]);

    // The messages as the operator sees them.
    let list = app.get(&format!("{path}/messages?status=failed")).await.expect(200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["to_address"], "later@mail.example");
    assert_eq!(list["data"][0]["attempts"], 5);
    assert!(s(&list["data"][0]["last_error"]).contains("451"), "{}", list["data"][0]);
    let bounced = app.get(&format!("{path}/messages?status=bounced")).await.expect(200);
    assert!(s(&bounced["data"][0]["last_error"]).contains("550"));

    // A later email campaign excludes the hard bounce and the unsubscribe.
    let next = app.campaign("Summer", json!({"segment_ids": [seg["id"]], "email_template_id": t["id"]})).await;
    app.patch(&format!("/api/v1/campaigns/{}", s(&next["id"])), json!({"status": "running"})).await.expect(200);
    let p = sent_out(&app, &next).await;
    let by = members(&app, &next).await;
    assert_eq!(by[s(&hard["id"])]["exclusion_reason"], "bounced_before");
    assert_eq!(by[s(&gil["id"])]["exclusion_reason"], "opted_out");
    assert_eq!(p["total"], 3, "Ann, Bob and Soft: {p}");
}

#[actix_web::test]
async fn two_instances_send_each_campaign_message_once() {
    let sink = SmtpSink::start().await;
    let a = spawn_with(mail_settings(&sink, Duration::from_millis(20))).await;
    let b = spawn_on_with(&a.database_url, mail_settings(&sink, Duration::from_millis(20))).await;
    let n = 60;
    for i in 0..n {
        a.contact(&format!("P{i}"), "Many", json!({"email": format!("p{i}@many.example"), "tags": ["many"]})).await;
    }
    let t = template(&a, json!({})).await;
    let seg = a.segment("Many", json!({"criteria": "tags[eq]:many"})).await;
    let c = a.campaign("Many", json!({"segment_ids": [seg["id"]], "email_template_id": t["id"]})).await;
    b.patch(&format!("/api/v1/campaigns/{}", s(&c["id"])), json!({"status": "running"})).await.expect(200);
    let p = sent_out(&a, &c).await;
    assert_eq!(p["sent"], n);
    let mut to: Vec<String> = sink.received().iter().map(|r| r.to.join(",")).collect();
    assert_eq!(to.len(), n, "each message once");
    to.sort();
    to.dedup();
    assert_eq!(to.len(), n, "no address twice");
}

#[actix_web::test]
async fn messages_in_doubt_after_a_crash_are_not_sent_again_unless_asked() {
    let sink = SmtpSink::start().await;
    // No worker of its own: the test drives the rounds.
    let app = spawn_with(mail_settings(&sink, Duration::ZERO)).await;
    for i in 0..5 {
        app.contact(&format!("P{i}"), "Crash", json!({"email": format!("c{i}@crash.example"), "tags": ["crash"]}))
            .await;
    }
    let t = template(&app, json!({})).await;
    let seg = app.segment("Crash", json!({"criteria": "tags[eq]:crash"})).await;
    let c = app.campaign("Crash", json!({"segment_ids": [seg["id"]], "email_template_id": t["id"]})).await;
    let path = format!("/api/v1/campaigns/{}", s(&c["id"]));
    app.patch(&path, json!({"status": "running"})).await.expect(200);
    // An instance claims two messages, marks them `sending` and dies before it says more.
    let claimed = app
        .db
        .transaction(|c| crm_campaigns::sending::claim(c, "dead", crm_db::now(), chrono::Duration::zero(), 2, PUBLIC))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let mailer = crm_gateway::mail::Mailer::new(mail_config(sink.url())).unwrap();
    let sent = crm_gateway::mail::round(&app.db, &mailer, "alive").await.unwrap();
    assert_eq!(sent, 3, "the others go out");
    let p = app.get(&format!("{path}/sending")).await.expect(200);
    assert_eq!((p["sent"].as_i64(), p["unknown"].as_i64(), p["queued"].as_i64()), (Some(3), Some(2), Some(0)));
    assert_eq!(crm_gateway::mail::round(&app.db, &mailer, "alive").await.unwrap(), 0, "nothing is sent twice");
    let doubt = app.get(&format!("{path}/messages?status=unknown")).await.expect(200);
    let doubt: Vec<&str> = doubt["data"].as_array().unwrap().iter().map(|m| s(&m["to_address"])).collect();
    let mut expected: Vec<&str> = claimed.iter().map(|m| m.to.as_str()).collect();
    expected.sort();
    let mut doubt = doubt.clone();
    doubt.sort();
    assert_eq!(doubt, expected);

    // The operator checked the SMTP server's log: they did not go out. Sent again on purpose.
    let r = app.post(&format!("{path}/sending/retry-unknown"), json!({})).await.expect(200);
    assert_eq!(r["queued"], 2);
    assert_eq!(crm_gateway::mail::round(&app.db, &mailer, "alive").await.unwrap(), 2);
    let mut to: Vec<String> = sink.received().iter().map(|r| r.to.join(",")).collect();
    to.sort();
    to.dedup();
    assert_eq!((sink.received().len(), to.len()), (5, 5), "each member once in all");
}

#[actix_web::test]
async fn an_unreachable_smtp_server_keeps_the_messages_queued_without_spending_attempts() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let app = spawn_with(|s| {
        s.mail = Some(mail_config(url.clone()));
        s.mail_interval = Duration::ZERO;
    })
    .await;
    app.contact("Q", "Queued", json!({"email": "q@queued.example", "tags": ["q"]})).await;
    let t = template(&app, json!({})).await;
    let seg = app.segment("Q", json!({"criteria": "tags[eq]:q"})).await;
    let c = app.campaign("Q", json!({"segment_ids": [seg["id"]], "email_template_id": t["id"]})).await;
    let path = format!("/api/v1/campaigns/{}", s(&c["id"]));
    app.patch(&path, json!({"status": "running"})).await.expect(200);
    let mailer = crm_gateway::mail::Mailer::new(mail_config(url)).unwrap();
    let e = crm_gateway::mail::round(&app.db, &mailer, "w").await.unwrap_err();
    assert!(e.contains("cannot be used"), "{e}");
    let m = app.get(&format!("{path}/messages")).await.expect(200);
    assert_eq!((m["data"][0]["status"].as_str(), m["data"][0]["attempts"].as_i64()), (Some("queued"), Some(0)));
    let by = members(&app, &c).await;
    assert_eq!(by.values().next().unwrap()["status"], "targeted", "the member is untouched");
    // A server that does not offer STARTTLS when the URL requires it is not used in clear (once
    // the message is due again: 30 s after the first try, scaled to 30 ms here).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sink = SmtpSink::start().await;
    let mailer = crm_gateway::mail::Mailer::new(mail_config(format!("{}?tls=required", sink.url()))).unwrap();
    let e = crm_gateway::mail::round(&app.db, &mailer, "w").await.unwrap_err();
    assert!(e.contains("STARTTLS"), "{e}");
    assert!(sink.received().is_empty());
    let m = app.get(&format!("{path}/messages")).await.expect(200);
    assert_eq!((m["data"][0]["status"].as_str(), m["data"][0]["attempts"].as_i64()), (Some("queued"), Some(0)));
}

#[actix_web::test]
async fn templates_are_checked_and_email_campaigns_need_a_mailer() {
    let app = spawn().await;
    // Checked when saved: the unsubscribe link, unknown variables, the sender.
    let r = app
        .post(
            "/api/v1/email-templates",
            json!({"name": "Bad", "subject": "Hi {{ contact.frist_name }}", "html": "<p>no way out</p>",
                   "from_email": "not-an-address"}),
        )
        .await
        .expect(422);
    let mut fields = error_fields(&r);
    fields.sort();
    assert_eq!(fields, ["from_email", "html", "subject"]);
    let codes: Vec<&str> = r["errors"].as_array().unwrap().iter().map(|e| s(&e["code"])).collect();
    assert!(codes.contains(&"unsubscribe_link_required") && codes.contains(&"invalid_template"), "{r}");
    // Custom fields of contacts may be merged once defined.
    let with_custom = json!({"name": "C", "subject": "{{ contact.custom_fields.nickname }}",
                             "html": "<a href=\"{{ unsubscribe_url }}\">x</a>"});
    app.post("/api/v1/email-templates", with_custom.clone()).await.expect(422);
    app.post("/api/v1/schema/contacts/fields", json!({"name": "nickname", "label": "Nickname", "type": "text"}))
        .await
        .expect(201);
    let t = app.post("/api/v1/email-templates", with_custom).await.expect(201);

    // The preview renders for a contact, links as written.
    let ann =
        app.contact("Ann", "Lee", json!({"email": "ann@x.example", "custom_fields": {"nickname": "Annie"}})).await;
    let p = app
        .get(&format!("/api/v1/email-templates/{}/preview?contact_id={}", s(&t["id"]), s(&ann["id"])))
        .await
        .expect(200);
    assert_eq!(p["subject"], "Annie");
    let sample = app.get(&format!("/api/v1/email-templates/{}/preview", s(&t["id"]))).await.expect(200);
    assert_eq!(sample["subject"], "", "the sample contact has no nickname");

    // Only email campaigns have a template; and this server sends no email.
    let seg = app.segment("All", json!({"criteria": "last_name[eq]:Lee"})).await;
    let r = app
        .post(
            "/api/v1/campaigns",
            json!({"name": "Phone", "type": "retention", "channel": "phone",
        "email_template_id": t["id"]}),
        )
        .await
        .expect(422);
    assert_eq!(error_fields(&r), ["email_template_id"]);
    let c = app.campaign("Mail", json!({"segment_ids": [seg["id"]], "email_template_id": t["id"]})).await;
    let path = format!("/api/v1/campaigns/{}", s(&c["id"]));
    let r = app.patch(&path, json!({"status": "running"})).await.expect(409);
    assert_eq!(r["code"], "MAILER_NOT_CONFIGURED");
    // Without a template the campaign runs, its outcomes recorded by hand.
    app.patch(&path, json!({"email_template_id": null, "status": "running"})).await.expect(200);
    let r = app.patch(&path, json!({"email_template_id": t["id"]})).await.expect(409);
    assert_eq!(r["code"], "CAMPAIGN_ALREADY_LAUNCHED");
}

#[actix_web::test]
async fn graphql_shows_the_sending_and_previews_templates() {
    let sink = SmtpSink::start().await;
    let app = spawn_with(mail_settings(&sink, Duration::from_millis(50))).await;
    app.contact("Gq", "L", json!({"email": "gq@g.example", "tags": ["gq"]})).await;
    let t = template(&app, json!({})).await;
    let seg = app.segment("Gq", json!({"criteria": "tags[eq]:gq"})).await;
    let c = app.campaign("Gq", json!({"segment_ids": [seg["id"]], "email_template_id": t["id"]})).await;
    app.patch(&format!("/api/v1/campaigns/{}", s(&c["id"])), json!({"status": "running"})).await.expect(200);
    sent_out(&app, &c).await;
    let r = app
        .gql(
            &app.admin,
            "query($id: UUID!) { campaign(id: $id) { emailTemplate { name preview { subject } }
               sending { total sent queued } messages(status: SENT) { nodes { toAddress attempts } } } }",
            json!({"id": c["id"]}),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    let c = &r["data"]["campaign"];
    assert_eq!(c["emailTemplate"]["name"], "Spring renewal");
    assert_eq!(c["emailTemplate"]["preview"]["subject"], "Hello Min-jun");
    assert_eq!(c["sending"], json!({"total": 1, "sent": 1, "queued": 0}));
    assert_eq!(c["messages"]["nodes"], json!([{"toAddress": "gq@g.example", "attempts": 1}]));
    assert_eq!(sink.received().len(), 1);
}
