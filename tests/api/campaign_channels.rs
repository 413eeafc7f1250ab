//! Phone and post waves end to end: call activities for the right reps, a completed call's
//! outcome recorded on its member, the mailing list as CSV and as label sheets, letters marked
//! posted, and returns and answers uploaded as CSV.

use awc::http::Method;
use serde_json::{Value, json};

use crate::support::*;

/// A user whose token subject is the lower-cased name.
async fn rep(app: &TestApp, name: &str) -> Value {
    app.user(name, json!({"subject": name.to_lowercase(), "role": "sales"})).await
}

async fn members(app: &TestApp, campaign: &Value) -> std::collections::HashMap<String, Value> {
    let page = app.get(&format!("/api/v1/campaigns/{}/members?limit=1000", s(&campaign["id"]))).await.expect(200);
    page["data"].as_array().unwrap().iter().map(|m| (s(&m["contact_id"]).to_string(), m.clone())).collect()
}

#[actix_web::test]
async fn a_phone_wave_gives_each_rep_the_calls_and_their_outcomes_become_responses() {
    let app = spawn().await;
    let (ada, bo, cy) = (rep(&app, "Ada").await, rep(&app, "Bo").await, rep(&app, "Cy").await);
    let acme = app.account("Acme", json!({"owner_id": ada["id"]})).await;
    let phone = |n: u32| format!("+82 2 312 {n:04}");
    let person = |first: &'static str, extra: Value| {
        let mut body = json!({"tags": ["calls"], "phone": phone(first.len() as u32 * 1111)});
        merge(&mut body, extra);
        app.contact(first, "Callee", body)
    };
    // Ids are time-ordered: the round-robin goes through them in this order.
    let at_acme = person("Ann", json!({"account_id": acme["id"]})).await;
    let owned = person("Ben", json!({"owner_id": bo["id"]})).await;
    let first_free = person("Cat", json!({})).await;
    let second_free = person("Dan", json!({})).await;
    let no_call = person("Eve", json!({"do_not_call": true})).await;
    let seg = app.segment("Calls", json!({"criteria": "tags[eq]:calls"})).await;
    let script = "Hello, this is {{rep}} from Acme. We are calling about your renewal.";

    // Calls are for phone campaigns only.
    let r = app
        .post("/api/v1/campaigns", json!({"name": "X", "type": "retention", "channel": "email", "call_script": script}))
        .await
        .expect(422);
    assert_eq!(r["errors"][0]["code"], "not_applicable");

    let c = app
        .campaign(
            "Renewal calls",
            json!({"channel": "phone", "segment_ids": [seg["id"]], "call_script": script,
                   "caller_ids": [bo["id"], cy["id"]], "ends_on": "2027-01-29"}),
        )
        .await;
    let path = format!("/api/v1/campaigns/{}", s(&c["id"]));
    app.patch(&path, json!({"status": "running"})).await.expect(200);
    let r = app.patch(&path, json!({"caller_ids": [cy["id"]]})).await.expect(409);
    assert_eq!(r["code"], "CAMPAIGN_ALREADY_LAUNCHED");

    // One call per member who may be called, for the account's owner, else the contact's,
    // else the callers in turn.
    let calls =
        app.get(&format!("/api/v1/activities?filter=campaign_id[eq]:{}&limit=100", s(&c["id"]))).await.expect(200);
    let calls = calls["data"].as_array().unwrap().clone();
    assert_eq!(calls.len(), 4, "{calls:?}");
    let call_of = |contact: &Value| calls.iter().find(|a| a["contact_id"] == contact["id"]).unwrap().clone();
    assert_eq!(call_of(&at_acme)["assignee_id"], ada["id"]);
    assert_eq!(call_of(&owned)["assignee_id"], bo["id"]);
    assert_eq!(call_of(&first_free)["assignee_id"], bo["id"]);
    assert_eq!(call_of(&second_free)["assignee_id"], cy["id"]);
    assert!(calls.iter().all(|a| a["contact_id"] != no_call["id"]), "a do-not-call contact gets no call");
    let one = call_of(&at_acme);
    assert_eq!((one["type"].as_str(), one["description"].as_str()), (Some("call"), Some(script)));
    assert_eq!(one["subject"], "Call: Renewal calls");
    assert_eq!(one["due_at"], "2027-01-29T17:00:00Z");

    // The reps complete their calls (a sales rep reads campaigns but does not run them).
    let complete = |who: &str, call: &Value, outcome: Option<&str>| {
        let token = token(&app.keys, &who.to_lowercase(), &["sales"], &[]);
        let body = match outcome {
            Some(o) => json!({"log": {"outcome": o, "body": "spoke about the renewal"}}),
            None => json!({}),
        };
        let path = format!("/api/v1/activities/{}/complete", s(&call["id"]));
        let app = &app;
        async move { app.call(Method::POST, &path, Some(&token), Some(body), &[]).await.expect(200) }
    };
    complete("Ada", &call_of(&at_acme), Some("interested")).await;
    complete("Bo", &call_of(&first_free), Some("no_answer")).await;
    complete("Cy", &call_of(&second_free), Some("wrong_number")).await;
    let by = members(&app, &c).await;
    let status = |c: &Value| by[s(&c["id"])]["status"].as_str().unwrap().to_string();
    assert_eq!(
        [&at_acme, &owned, &first_free, &second_free, &no_call].map(status),
        ["responded", "targeted", "sent", "bounced", "excluded"].map(String::from)
    );
    assert_eq!(by[s(&at_acme["id"])]["response_type"], "replied");
    let h = app.get(&format!("{path}/members/{}/history", s(&at_acme["id"]))).await.expect(200);
    let last = h.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["status"].as_str(), last["detail"].as_str()), (Some("responded"), Some("call: interested")));
    assert_eq!(last["actor"], "ada", "recorded as the rep who called: {last}");

    // The review, by hand: 4 targeted, 1 excluded; a call made to 3 (sent), 1 reached and
    // interested (delivered, responded), 1 wrong number (bounced).
    let stats = app.get(&format!("{path}/stats")).await.expect(200);
    let t = &stats["total"];
    let got: Vec<i64> = ["targeted", "excluded", "sent", "delivered", "responded", "bounced"]
        .iter()
        .map(|k| t[k].as_i64().unwrap())
        .collect();
    assert_eq!(got, [4, 1, 3, 1, 1, 1]);

    // Cancelled: the call not made yet is cancelled with it.
    app.patch(&path, json!({"status": "cancelled"})).await.expect(200);
    let open = app.get(&format!("/api/v1/activities/{}", s(&call_of(&owned)["id"]))).await.expect(200);
    assert_eq!(open["status"], "cancelled");
    let done = app.get(&format!("/api/v1/activities/{}", s(&call_of(&at_acme)["id"]))).await.expect(200);
    assert_eq!(done["status"], "done");
}

/// The rows of a CSV text (the header first), split simply (the test data has no quotes).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines().map(|l| l.split(',').map(str::to_string).collect()).collect()
}

#[actix_web::test]
async fn a_post_wave_exports_its_letters_and_takes_returns_back_as_csv() {
    let app = spawn().await;
    let acme = app.account("Acme & Söhne", json!({})).await;
    let address = |street: &str, postal: &str, city: &str, country: &str| json!({"street": street, "postal_code": postal, "city": city, "country": country, "tags": ["post"]});
    let mut seoul = address("1 Sejong-daero", "04524", "Seoul", "KR");
    merge(&mut seoul, json!({"account_id": acme["id"], "email": "ann@post.example"}));
    let ann = app.contact("Ann", "Kim", seoul).await;
    let hans = app.contact("Hans", "Müller", address("Hauptstraße 5", "10115", "Berlin", "DE")).await;
    let gus = app.contact("Gus", "Becker", address("Alexanderplatz 1", "10178", "Berlin", "DE")).await;
    let partial = app
        .contact("No", "Postcode", json!({"street": "2 Main St", "city": "Seoul", "country": "KR", "tags": ["post"]}))
        .await;
    let seg = app.segment("Post", json!({"criteria": "tags[eq]:post"})).await;
    let c = app.campaign("Year-end card", json!({"channel": "post", "segment_ids": [seg["id"]]})).await;
    let path = format!("/api/v1/campaigns/{}", s(&c["id"]));
    app.patch(&path, json!({"status": "scheduled"})).await.expect(200);
    let r = app.post(&format!("{path}/mailing/posted"), json!({})).await.expect(409);
    assert_eq!(r["code"], "CAMPAIGN_NOT_RUNNING");

    // The mailing list: complete addresses only, by country, postal code and name.
    let csv = app.get(&format!("{path}/mailing.csv")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let text = s(&csv.body).to_string();
    let rows = csv_rows(&text);
    assert_eq!(
        rows[0].join(","),
        "contact_id,name,title,company,street,postal_code,city,region,country,member_status,status"
    );
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, [s(&hans["id"]), s(&gus["id"]), s(&ann["id"])], "DE 10115, DE 10178, KR 04524");
    assert_eq!(rows[3][1..10].join("|"), "Ann Kim||Acme & Söhne|1 Sejong-daero|04524|Seoul||KR|targeted");
    assert!(!text.contains(s(&partial["id"])), "an incomplete address is not on the list");

    // The labels: one sheet of 21, values escaped, the page's own policy.
    let labels = app.get(&format!("{path}/mailing/labels")).await;
    assert_eq!(labels.status, 200);
    let html = s(&labels.body).to_string();
    assert_eq!(html.matches("class=\"label\"").count(), 3);
    assert_eq!(html.matches("<section class=\"sheet\">").count(), 1);
    assert!(html.contains("Acme &amp; Söhne"), "escaped");
    assert!(labels.header("content-security-policy").unwrap().contains("style-src 'unsafe-inline'"));

    // Other channels have no mailing.
    let email = app.campaign("Mail", json!({"segment_ids": [seg["id"]]})).await;
    let r = app.get(&format!("/api/v1/campaigns/{}/mailing.csv", s(&email["id"]))).await.expect(409);
    assert_eq!(r["code"], "NOT_A_POST_CAMPAIGN");

    // Launched and posted.
    app.patch(&path, json!({"status": "running"})).await.expect(200);
    let r = app.post(&format!("{path}/mailing/posted"), json!({"at": "2026-12-01T10:00:00Z"})).await.expect(200);
    assert_eq!(r["changed"], 3);
    let by = members(&app, &c).await;
    assert_eq!(by[s(&hans["id"])]["sent_at"], "2026-12-01T10:00:00Z");

    // The printer's returns come back in the exported file with `status` filled in; an answer
    // comes by email address.
    let upload = |body: String| {
        let path = format!("{path}/responses/import");
        let app = &app;
        async move {
            let mut res = app
                .client
                .post(format!("{}{path}", app.base))
                .insert_header(("Authorization", format!("Bearer {}", app.admin)))
                .insert_header(("Content-Type", "text/csv"))
                .send_body(body)
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, serde_json::from_slice::<Value>(&res.body().await.unwrap()).unwrap())
        }
    };
    let mut returned = rows.clone();
    returned[1][10] = "bounced".into();
    let file: String = returned.iter().map(|r| r.join(",")).collect::<Vec<_>>().join("\n");
    let (status, r) = upload(file).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((r["changed"].as_i64(), r["unchanged"].as_i64()), (Some(1), Some(0)));
    let (status, r) = upload(
        "email,status,response_type,at,note\nANN@post.example,responded,registered,2026-12-03,coming\nnobody@post.example,responded,,,\n"
            .into(),
    )
    .await;
    assert_eq!(status, 422, "all or none: {r}");
    assert_eq!(r["errors"][0]["field"], "rows[2].email");
    assert_eq!(r["errors"][0]["code"], "not_found");
    let (status, _) =
        upload("email,status,response_type,at,note\nann@post.example,responded,registered,2026-12-03,coming\n".into())
            .await;
    assert_eq!(status, 200);
    let (status, r) = upload("contact_id,status\nnot-a-uuid,sent\n".into()).await;
    assert_eq!((status, r["errors"][0]["field"].as_str()), (422, Some("rows[1].contact_id")));
    let wrong_type =
        app.call(Method::POST, &format!("{path}/responses/import"), Some(&app.admin), Some(json!({"a": 1})), &[]).await;
    assert_eq!(wrong_type.status, 415);

    let by = members(&app, &c).await;
    assert_eq!(by[s(&hans["id"])]["status"], "bounced");
    assert_eq!(by[s(&ann["id"])]["status"], "responded");
    assert_eq!(by[s(&ann["id"])]["response_type"], "registered");
    assert_eq!(by[s(&ann["id"])]["responded_at"], "2026-12-03T00:00:00Z");
    // The returned letter is no longer on the list.
    let text = app.get(&format!("{path}/mailing.csv")).await;
    assert!(!s(&text.body).contains(s(&hans["id"])));
    // By hand: 3 targeted, 1 excluded (no postcode); 3 sent, 1 bounced, 1 responded.
    let t = app.get(&format!("{path}/stats")).await.expect(200)["total"].clone();
    let got: Vec<i64> =
        ["targeted", "excluded", "sent", "bounced", "responded"].iter().map(|k| t[k].as_i64().unwrap()).collect();
    assert_eq!(got, [3, 1, 3, 1, 1]);
}
