//! One-to-one email end to end, through a real SMTP server started here: a rep writes to a
//! contact (rendered, sent, logged with its Message-ID), what is refused before anything is
//! sent, and replies handed in and matched to the email, to a campaign message (the member's
//! response) or to the sender.

use std::time::Duration;

use serde_json::{Value, json};

use crate::campaign_email::{mail_settings, one_to, sent_out, template};
use crate::smtp::SmtpSink;
use crate::support::*;

async fn interactions_of(app: &TestApp, contact: &Value) -> Vec<Value> {
    let page = app
        .get(&format!(
            "/api/v1/interactions?filter=contact_ids%5Beq%5D:{}&sort=occurred_at&limit=100",
            s(&contact["id"])
        ))
        .await
        .expect(200);
    page["data"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn a_rep_writes_to_a_contact_and_replies_are_logged_on_the_right_history() {
    let sink = SmtpSink::start().await;
    let app = spawn_with(mail_settings(&sink, Duration::from_millis(50))).await;
    // The caller's user: its name signs the message, its address takes the replies.
    app.user("Ann Rep", json!({"subject": "admin-user", "email": "ann.rep@acme.example"})).await;
    let acme = app.account("Acme", json!({})).await;
    let kim = app
        .contact("Min", "Kim", json!({"email": "kim@client.example", "account_id": acme["id"], "tags": ["w"]}))
        .await;
    let path = format!("/api/v1/contacts/{}/emails", s(&kim["id"]));

    let sent = app
        .post(&path, json!({"subject": "Your quote, {{ contact.first_name }}", "text": "Hello {{ contact.first_name }} of {{ account.name }}.\nThe quote is attached."}))
        .await
        .expect(201);
    assert_eq!((sent["type"].clone(), sent["direction"].clone()), (json!("email"), json!("outbound")));
    assert_eq!(sent["subject"], "Your quote, Min");
    assert_eq!(sent["account_id"], acme["id"]);
    let message_id = sent["external_ids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "message-id")
        .map(|e| s(&e["id"]).to_string())
        .expect("the Message-ID on the interaction");
    let received = sink.received();
    let m = one_to(&received, "kim@client.example");
    assert_eq!(m.header("Message-ID"), Some(format!("<{message_id}>")));
    assert_eq!(m.header("Reply-To").as_deref(), Some("ann.rep@acme.example"));
    assert!(m.header("From").unwrap().contains("Ann Rep"), "{:?}", m.header("From"));
    assert!(m.header("List-Unsubscribe").is_none());
    let parsed = m.parsed();
    // Lines end in CRLF on the wire.
    assert_eq!(parsed.body_text(0).unwrap().trim().replace("\r\n", "\n"), "Hello Min of Acme.\nThe quote is attached.");
    assert_eq!(parsed.subject(), Some("Your quote, Min"));
    // The same through GraphQL.
    let g = app
        .gql(
            &app.admin,
            "mutation($c: UUID!) { sendEmail(contactId: $c, input: {subject: \"Next steps\", text: \"Talk soon\"}) { subject direction } }",
            json!({"c": kim["id"]}),
        )
        .await;
    assert_eq!(g["data"]["sendEmail"], json!({"subject": "Next steps", "direction": "OUTBOUND"}), "{g}");

    // Refused before anything is sent.
    let r = app.post(&path, json!({"subject": "Hi", "text": "{{ contact.frist_name }}"})).await.expect(422);
    assert_eq!(error_fields(&r), vec!["text"]);
    assert_eq!(r["errors"][0]["code"], "invalid_template");
    let t = template(&app, json!({})).await;
    let r = app.post(&path, json!({"template_id": t["id"], "subject": "Hi"})).await.expect(422);
    assert_eq!(error_fields(&r), vec!["template_id"]);
    let r = app.post(&path, json!({"text": "no subject"})).await.expect(422);
    assert_eq!(error_fields(&r), vec!["subject"]);
    let out = app.contact("Opted", "Out", json!({"email": "out@client.example", "email_consent": "opted_out"})).await;
    let r = app
        .post(&format!("/api/v1/contacts/{}/emails", s(&out["id"])), json!({"subject": "Hi", "text": "x"}))
        .await
        .expect(409);
    assert_eq!(r["code"], "EMAIL_CONSENT_WITHDRAWN");
    let none = app.contact("No", "Address", json!({})).await;
    let r = app
        .post(&format!("/api/v1/contacts/{}/emails", s(&none["id"])), json!({"subject": "Hi", "text": "x"}))
        .await
        .expect(422);
    assert_eq!(error_fields(&r), vec!["contact_id"]);
    assert_eq!(sink.received().len(), 2);
    // The SMTP server refuses the address for good: nothing logged.
    let gone = app.contact("Gone", "Away", json!({"email": "bounce@client.example"})).await;
    let r = app
        .post(&format!("/api/v1/contacts/{}/emails", s(&gone["id"])), json!({"subject": "Hi", "text": "x"}))
        .await
        .expect(422);
    assert_eq!(r["code"], "RECIPIENT_REJECTED");
    assert!(interactions_of(&app, &gone).await.is_empty());
    // A template, rendered for the contact (its links as written, no tracking).
    let sent_t = app.post(&path, json!({"template_id": t["id"]})).await.expect(201);
    assert_eq!(sent_t["subject"], "Hello Min");

    // Kim replies: matched by In-Reply-To, logged inbound on Kim and Acme; handed in twice,
    // logged once.
    let reply = json!({"message_id": "<reply-1@client.example>", "from": "Kim@Client.example", "subject": "Re: Your quote, Min",
                       "text": "Looks good, send the contract.", "in_reply_to": format!("<{message_id}>")});
    let r = app.post("/api/v1/emails/inbound", reply.clone()).await.expect(200);
    assert_eq!((r["matched"].clone(), r["contact_id"].clone()), (json!("reply"), kim["id"].clone()));
    let again = app.post("/api/v1/emails/inbound", reply).await.expect(200);
    assert_eq!(again["interaction_id"], r["interaction_id"]);
    let history = interactions_of(&app, &kim).await;
    let inbound: Vec<&Value> = history.iter().filter(|i| i["direction"] == "inbound").collect();
    assert_eq!(inbound.len(), 1);
    assert_eq!(
        (inbound[0]["account_id"].clone(), inbound[0]["body"].clone()),
        (acme["id"].clone(), json!("Looks good, send the contract."))
    );
    // No thread but a known sender: logged on the sender; an unknown sender: nothing logged.
    let r = app
        .post(
            "/api/v1/emails/inbound",
            json!({"message_id": "x-2@client.example", "from": "kim@client.example", "subject": "Question"}),
        )
        .await
        .expect(200);
    assert_eq!(r["matched"], "sender");
    let r = app
        .post("/api/v1/emails/inbound", json!({"message_id": "x-3@else.example", "from": "who@else.example"}))
        .await
        .expect(200);
    assert_eq!((r["matched"].clone(), r["interaction_id"].clone()), (json!("none"), Value::Null));
    let r = app.post("/api/v1/emails/inbound", json!({"message_id": "", "from": "not an address"})).await.expect(422);
    assert_eq!(error_fields(&r), vec!["message_id", "from"]);

    // A reply to a campaign message: the member responded (replied).
    let seg = app.segment("W", json!({"criteria": "tags[eq]:w"})).await;
    let c = app.campaign("Wave", json!({"segment_ids": [seg["id"]], "email_template_id": t["id"]})).await;
    app.patch(&format!("/api/v1/campaigns/{}", s(&c["id"])), json!({"status": "running"})).await.expect(200);
    sent_out(&app, &c).await;
    let wave: Vec<_> = sink.received().into_iter().filter(|m| m.header("List-Unsubscribe").is_some()).collect();
    let campaign_message = one_to(&wave, "kim@client.example").header("Message-ID").unwrap();
    let r = app
        .post(
            "/api/v1/emails/inbound",
            json!({"message_id": "reply-9@client.example", "from": "kim@client.example", "subject": "Re: Hello Min",
                   "text": "Call me", "references": ["<older@client.example>", campaign_message]}),
        )
        .await
        .expect(200);
    assert_eq!((r["matched"].clone(), r["campaign_id"].clone()), (json!("campaign_reply"), c["id"].clone()));
    let m = app.get(&format!("/api/v1/campaigns/{}/members?status=responded", s(&c["id"]))).await.expect(200);
    assert_eq!(m["data"][0]["contact_id"], kim["id"]);
    assert_eq!(m["data"][0]["response_type"], "replied");
}

#[actix_web::test]
async fn a_server_without_smtp_says_so() {
    let app = spawn().await;
    let kim = app.contact("Min", "Kim", json!({"email": "kim@client.example"})).await;
    let r = app
        .post(&format!("/api/v1/contacts/{}/emails", s(&kim["id"])), json!({"subject": "Hi", "text": "x"}))
        .await
        .expect(409);
    assert_eq!(r["code"], "MAILER_NOT_CONFIGURED");
}
