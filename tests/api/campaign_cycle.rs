//! A whole campaign, model → execute → review, as a marketer drives it: a target group with an
//! exclusion, a programme with an email, a phone and a post wave, the email through a real SMTP
//! server, an open, a click and an unsubscribe through the public links, a call completed, the
//! letters posted and a return uploaded, a won deal attributed; then the programme's statistics
//! against figures worked out by hand below.

use std::time::Duration;

use awc::http::Method;
use serde_json::{Value, json};

use crate::campaign_email::{browser, links, mail_settings, members, one_to, real, sent_out, template};
use crate::campaign_review::{eur, money};
use crate::smtp::SmtpSink;
use crate::support::*;

fn counts(figures: &Value, keys: &[&str]) -> Vec<i64> {
    keys.iter().map(|k| figures[k].as_i64().unwrap_or_else(|| panic!("{k} in {figures}"))).collect()
}

#[actix_web::test]
async fn a_programme_runs_its_email_phone_and_post_waves_and_its_review_matches_the_hand_count() {
    let sink = SmtpSink::start().await;
    let app = spawn_with(mail_settings(&sink, Duration::from_millis(50))).await;
    let ada = app.user("Ada", json!({"subject": "ada", "role": "sales"})).await;
    let acme = app.account("Acme", json!({"owner_id": ada["id"]})).await;
    let bolt = app.account("Bolt", json!({})).await;

    // Model: the people. Everyone is tagged `cycle`; Eve is also staff, whom the target group
    // leaves out. Cat has no postal code; Dan refuses email and calls.
    // Each lives at an address of their own (one letter per household).
    let person = |first: &'static str, extra: Value| {
        let mut body = json!({"tags": ["cycle"], "email": format!("{}@cycle.example", first.to_lowercase()),
                              "phone": "+82 2 312 0000", "street": format!("{first} House, Sejong-daero"),
                              "postal_code": "04524", "city": "Seoul", "country": "KR"});
        merge(&mut body, extra);
        app.contact(first, "Cycle", body)
    };
    let ann = person("Ann", json!({"account_id": acme["id"]})).await;
    let bob = person("Bob", json!({})).await;
    let cat = person("Cat", json!({"account_id": bolt["id"], "postal_code": null})).await;
    let dan = person("Dan", json!({"email_consent": "opted_out", "do_not_call": true})).await;
    let eve = person("Eve", json!({"tags": ["cycle", "staff"]})).await;
    let staff = app.segment("Staff", json!({"criteria": "tags[eq]:staff"})).await;
    let seg = app
        .segment("Cycle customers", json!({"criteria": "tags[eq]:cycle", "exclude_segment_ids": [staff["id"]]}))
        .await;
    let preview = app
        .post(
            "/api/v1/segments/preview",
            json!({"criteria": "tags[eq]:cycle",
        "exclude_segment_ids": [staff["id"]]}),
        )
        .await
        .expect(200);
    assert_eq!(preview["count"], 4, "Ann, Bob, Cat and Dan: {preview}");

    // The programme holds the plan; its three waves hold the costs.
    let programme = app
        .campaign(
            "Spring programme",
            json!({"planned_budget": {"amount_minor": 20_000, "currency": "EUR"},
                   "expected_revenue": {"amount_minor": 400_000, "currency": "EUR"}, "expected_responses": 4}),
        )
        .await;
    let cost = |minor: i64| json!([{"amount": {"amount_minor": minor, "currency": "EUR"}, "spent_on": "2026-12-01"}]);
    let t = template(&app, json!({})).await;
    let wave = |name: &'static str, extra: Value| {
        let mut body = json!({"parent_id": programme["id"], "segment_ids": [seg["id"]], "attribution_days": 30});
        merge(&mut body, extra);
        app.campaign(name, body)
    };
    let email = wave("Spring email", json!({"email_template_id": t["id"], "costs": cost(10_000)})).await;
    let phone = wave(
        "Spring calls",
        json!({"channel": "phone", "call_script": "Hello from Acme.", "caller_ids": [ada["id"]], "costs": cost(5_000)}),
    )
    .await;
    let post = wave("Spring letter", json!({"channel": "post", "costs": cost(3_000)})).await;

    // Execute: all three waves launched.
    for c in [&email, &phone, &post] {
        app.patch(&format!("/api/v1/campaigns/{}", s(&c["id"])), json!({"status": "running"})).await.expect(200);
    }
    for c in [&email, &phone, &post] {
        let by = members(&app, c).await;
        assert!(!by.contains_key(s(&eve["id"])), "the excluded segment is no member of {}", c["name"]);
        assert_eq!(by.len(), 4);
    }

    // Email: one message per member who may get one (not Dan), through the SMTP server.
    let progress = sent_out(&app, &email).await;
    assert_eq!((progress["total"].as_i64(), progress["sent"].as_i64()), (Some(3), Some(3)), "{progress}");
    let received = sink.received();
    assert_eq!(received.len(), 3);
    let web = browser();
    // Ann opens and clicks; Bob unsubscribes with his mail client's one-click POST.
    let html = one_to(&received, "ann@cycle.example").parsed().body_html(0).unwrap().into_owned();
    assert_eq!(web.get(real(&app, &links(&html, "o")[0])).send().await.unwrap().status(), 200);
    assert_eq!(web.get(real(&app, &links(&html, "c")[0])).send().await.unwrap().status(), 302);
    let leave = one_to(&received, "bob@cycle.example").header("List-Unsubscribe").unwrap();
    let r = web
        .post(real(&app, leave.trim_matches(['<', '>'])))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_body("List-Unsubscribe=One-Click")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(one_to(&received, "cat@cycle.example").parsed().body_html(0).is_some());

    // Phone: Ada owns Acme and is the wave's caller: three calls (not Dan). She reaches Ann,
    // who is interested, and nobody answers at Bob's; Cat is not called yet.
    let calls =
        app.get(&format!("/api/v1/activities?filter=campaign_id[eq]:{}&limit=100", s(&phone["id"]))).await.expect(200)
            ["data"]
            .as_array()
            .unwrap()
            .clone();
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().all(|c| c["assignee_id"] == ada["id"]));
    let ada_token = token(&app.keys, "ada", &["sales"], &[]);
    for (who, outcome) in [(&ann, "interested"), (&bob, "no_answer")] {
        let call = calls.iter().find(|c| c["contact_id"] == who["id"]).unwrap();
        let path = format!("/api/v1/activities/{}/complete", s(&call["id"]));
        let body = json!({"log": {"outcome": outcome, "body": "the spring offer"}});
        app.call(Method::POST, &path, Some(&ada_token), Some(body), &[]).await.expect(200);
    }

    // Post: the letters to everyone with a full address (not Cat), posted; Dan's comes back.
    let post_path = format!("/api/v1/campaigns/{}", s(&post["id"]));
    let csv = app.get(&format!("{post_path}/mailing.csv")).await;
    let listed: Vec<String> = s(&csv.body).lines().skip(1).map(|l| l.split(',').next().unwrap().to_string()).collect();
    let mut expected = vec![s(&ann["id"]).to_string(), s(&bob["id"]).to_string(), s(&dan["id"]).to_string()];
    let mut sorted = listed.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
    app.post(&format!("{post_path}/mailing/posted"), json!({"at": "2026-12-02T09:00:00Z"})).await.expect(200);
    let mut res = app
        .client
        .post(format!("{}{post_path}/responses/import", app.base))
        .insert_header(("Authorization", format!("Bearer {}", app.admin)))
        .insert_header(("Content-Type", "text/csv"))
        .send_body(format!("contact_id,status\n{},bounced\n", s(&dan["id"])))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.body().await);

    // A won deal: Bolt buys 2,000.00 EUR with Cat, whom only the email wave reached.
    let pipeline = app.pipeline("Cycle", json!({})).await;
    let won = pipeline["stages"].as_array().unwrap().iter().find(|x| x["name"] == "Won").unwrap()["id"].clone();
    let deal = app
        .opportunity(
            "Bolt renewal",
            &bolt,
            &pipeline,
            json!({"contact_id": cat["id"], "amount": {"amount_minor": 200_000, "currency": "EUR"}}),
        )
        .await;
    app.patch(&format!("/api/v1/opportunities/{}", s(&deal["id"])), json!({"stage_id": won})).await.expect(200);

    // Review, by hand. Members per wave: 4, each with one exclusion (email: Dan opted out;
    // phone: Dan does not take calls; post: Cat has no postal code), so 3 targeted each, 9 in
    // all.
    //   email: sent 3, delivered 3 (the server took them), opened 1 and clicked 1 (Ann),
    //          unsubscribed 1 (Bob), converted 1 (Cat);
    //   phone: sent 2 (two calls made), delivered 1 and responded 1 (Ann);
    //   post:  sent 3, bounced 1 (Dan).
    // Totals: sent 8, delivered 4, bounced 1, opened 1, clicked 1, responded 1, converted 1,
    // unsubscribed 1.
    let stats = app.get(&format!("/api/v1/campaigns/{}/stats", s(&programme["id"]))).await.expect(200);
    assert_eq!(stats["campaign_ids"].as_array().unwrap().len(), 4);
    let keys = [
        "targeted",
        "excluded",
        "sent",
        "delivered",
        "bounced",
        "opened",
        "clicked",
        "responded",
        "converted",
        "unsubscribed",
    ];
    let total = &stats["total"];
    assert_eq!(counts(total, &keys), [9, 3, 8, 4, 1, 1, 1, 1, 1, 1], "{total}");
    let channel =
        |name: &str| stats["channels"].as_array().unwrap().iter().find(|c| c["channel"] == name).unwrap().clone();
    assert_eq!(counts(&channel("email"), &keys), [3, 1, 3, 3, 0, 1, 1, 0, 1, 1]);
    assert_eq!(counts(&channel("phone"), &keys), [3, 1, 2, 1, 0, 0, 0, 1, 0, 0]);
    assert_eq!(counts(&channel("post"), &keys), [3, 1, 3, 0, 1, 0, 0, 0, 0, 0]);
    let reasons: Vec<(String, i64)> = total["excluded_by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (s(&r["reason"]).to_string(), r["count"].as_i64().unwrap()))
        .collect();
    let mut reasons = reasons;
    reasons.sort();
    assert_eq!(reasons, [("do_not_call".to_string(), 1), ("no_address".to_string(), 1), ("opted_out".to_string(), 1)]);
    // Rates in basis points, half up: bounce 1 ÷ 8 = 1250; open and click 1 ÷ 4 = 2500;
    // response and conversion 1 ÷ 9 = 1111.1 → 1111.
    assert_eq!(
        counts(total, &["bounce_rate_bp", "open_rate_bp", "click_rate_bp", "response_rate_bp", "conversion_rate_bp"]),
        [1250, 2500, 2500, 1111, 1111]
    );
    // Money: cost 100.00 + 50.00 + 30.00 = 180.00 EUR; the deal's 2,000.00 by first and by
    // last touch (the email wave reached Cat; the call to Cat was never made). ROI = (200000 −
    // 18000) ÷ 18000 = 10.1111… → 101111 bp. Per response and per conversion: 180.00.
    assert_eq!(money(&total["cost"]), eur(18_000));
    assert_eq!(money(&total["revenue"]), eur(200_000));
    assert_eq!(money(&total["revenue_first_touch"]), eur(200_000));
    assert_eq!(total["roi"], json!([{"currency": "EUR", "roi_bp": 101_111}]));
    assert_eq!((money(&total["cost_per_response"]), money(&total["cost_per_conversion"])), (eur(18_000), eur(18_000)));
    // Per channel: email (200000 − 10000) ÷ 10000 = 19 → 190000 bp; the others brought nothing.
    assert_eq!(channel("email")["roi"], json!([{"currency": "EUR", "roi_bp": 190_000}]));
    assert_eq!(channel("phone")["roi"], json!([{"currency": "EUR", "roi_bp": -10_000}]));
    assert_eq!(channel("post")["roi"], json!([{"currency": "EUR", "roi_bp": -10_000}]));
    // The programme's plan against the actual: budget 18000 ÷ 20000 = 9000 bp; revenue
    // 200000 ÷ 400000 = 5000 bp; responses 1 ÷ 4 = 2500 bp.
    let plan = |figure: &str| {
        let p = stats["plan"].as_array().unwrap().iter().find(|p| p["figure"] == figure).unwrap().clone();
        (p["planned"].as_i64(), p["actual"].as_i64(), p["attainment_bp"].as_i64())
    };
    assert_eq!(plan("budget"), (Some(20_000), Some(18_000), Some(9000)));
    assert_eq!(plan("revenue"), (Some(400_000), Some(200_000), Some(5000)));
    assert_eq!(plan("responses"), (Some(4), Some(1), Some(2500)));

    // The same review over GraphQL.
    let g = app
        .gql(
            &app.admin,
            "query($id: UUID!) { campaign(id: $id) { stats { total { sent converted roi { roiBp } } } } }",
            json!({"id": programme["id"]}),
        )
        .await;
    assert!(g.get("errors").is_none(), "{g}");
    let gt = &g["data"]["campaign"]["stats"]["total"];
    assert_eq!(
        (gt["sent"].as_i64(), gt["converted"].as_i64(), gt["roi"][0]["roiBp"].as_i64()),
        (Some(8), Some(1), Some(101_111))
    );
    // Bob's unsubscribe withdrew his email consent; Dan's return is a hard bounce.
    let bob_now = app.get(&format!("/api/v1/contacts/{}", s(&bob["id"]))).await.expect(200);
    assert_eq!(bob_now["email_consent"], "opted_out");
    let by = members(&app, &post).await;
    assert_eq!(
        (by[s(&dan["id"])]["status"].as_str(), by[s(&dan["id"])]["bounce_kind"].as_str()),
        (Some("bounced"), Some("hard"))
    );
}
