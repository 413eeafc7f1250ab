//! The review of campaigns: a won deal and purchases attributed by first and last touch within
//! each campaign's window, revenue and ROI in the statistics against hand-computed values, the
//! figures per day and week, and campaigns compared with the segments and products that
//! answered best.

use awc::http::Method;
use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::support::*;

fn ago(days: i64) -> String {
    (Utc::now() - Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn day_ago(days: i64) -> String {
    (Utc::now() - Duration::days(days)).date_naive().to_string()
}

async fn sent(app: &TestApp, campaign: &Value, who: &[(&Value, i64)]) {
    let responses: Vec<Value> =
        who.iter().map(|(c, days)| json!({"contact_id": c["id"], "status": "sent", "at": ago(*days)})).collect();
    app.post(&format!("/api/v1/campaigns/{}/responses", s(&campaign["id"])), json!({"responses": responses}))
        .await
        .expect(200);
}

pub(crate) fn money(v: &Value) -> Vec<(i64, String)> {
    v.as_array().unwrap().iter().map(|m| (m["amount_minor"].as_i64().unwrap(), s(&m["currency"]).to_string())).collect()
}

pub(crate) fn eur(n: i64) -> Vec<(i64, String)> {
    vec![(n, "EUR".to_string())]
}

#[actix_web::test]
async fn conversions_are_attributed_by_first_and_last_touch_and_the_review_adds_up() {
    let app = spawn().await;
    let acme = app.account("Acme", json!({})).await;
    let person = |first: &str, extra: Value| {
        let mut body = json!({"email": format!("{}@review.example", first.to_lowercase()), "tags": ["review"]});
        merge(&mut body, extra);
        (first.to_string(), body)
    };
    let mut people = Vec::new();
    for (first, body) in [
        person("Ann", json!({"account_id": acme["id"]})),
        person("Bob", json!({"account_id": acme["id"]})),
        person("Cy", json!({})),
        person("Dee", json!({})),
    ] {
        people.push(app.contact(&first, "Review", body).await);
    }
    let [ann, bob, cy, dee] = [&people[0], &people[1], &people[2], &people[3]];
    let seg = app.segment("Review", json!({"criteria": "tags[eq]:review"})).await;
    let product = app.product("REV-1", json!({})).await;
    // The email wave first (30-day window), then a cross-sell wave (10-day window).
    let email = app
        .campaign(
            "Email wave",
            json!({"segment_ids": [seg["id"]], "product_ids": [product["id"]], "attribution_days": 30,
                   "expected_revenue": {"amount_minor": 100_000, "currency": "EUR"},
                   "costs": [{"amount": {"amount_minor": 10_000, "currency": "EUR"}, "spent_on": day_ago(20)}]}),
        )
        .await;
    let cross = app
        .campaign(
            "Cross-sell wave",
            json!({"type": "cross_sell", "segment_ids": [seg["id"]], "attribution_days": 10,
                   "costs": [{"amount": {"amount_minor": 5_000, "currency": "EUR"}, "spent_on": day_ago(5)}]}),
        )
        .await;
    for c in [&email, &cross] {
        for status in ["scheduled", "running"] {
            app.patch(&format!("/api/v1/campaigns/{}", s(&c["id"])), json!({"status": status})).await.expect(200);
        }
    }
    // The window credits conversions as they come: it is fixed once the campaign runs.
    let r =
        app.patch(&format!("/api/v1/campaigns/{}", s(&email["id"])), json!({"attribution_days": 60})).await.expect(409);
    assert_eq!(r["code"], "CAMPAIGN_ALREADY_LAUNCHED");
    sent(&app, &email, &[(ann, 20), (cy, 20), (bob, 19)]).await;
    sent(&app, &cross, &[(ann, 5), (dee, 15)]).await;

    // Cy buys 10 days ago (2 × 19.99 = 39.98 EUR): only the email wave reached Cy.
    app.created(
        "/api/v1/purchases",
        json!({"contact_id": cy["id"], "ordered_at": ago(10), "lines": [{"product_id": product["id"], "quantity": 2}]}),
    )
    .await;
    // Dee buys 2 days ago, 13 days after the cross-sell wave: outside its 10-day window.
    app.created(
        "/api/v1/purchases",
        json!({"contact_id": dee["id"], "ordered_at": ago(2), "lines": [{"product_id": product["id"], "quantity": 1}]}),
    )
    .await;
    // Acme wins a 5,000.00 EUR deal with Ann today. Reached at Acme: Ann by email 20 days ago,
    // Bob by email 19 days ago, Ann by the cross-sell 5 days ago: first touch is the email
    // wave (Ann), last touch the cross-sell wave (Ann).
    let pipeline = app.pipeline("Review", json!({})).await;
    let won_stage = pipeline["stages"].as_array().unwrap().iter().find(|x| x["name"] == "Won").unwrap()["id"].clone();
    let open_stage = pipeline["stages"][0]["id"].clone();
    let deal = app.opportunity("Big deal", &acme, &pipeline, json!({"contact_id": ann["id"]})).await;
    let deal_path = format!("/api/v1/opportunities/{}", s(&deal["id"]));
    let email_wave_id = s(&email["id"]).to_string();
    app.patch(&deal_path, json!({"stage_id": won_stage})).await.expect(200);

    let stats = |c: &Value| {
        let path = format!("/api/v1/campaigns/{}/stats", s(&c["id"]));
        let app = &app;
        async move { app.get(&path).await.expect(200) }
    };
    // The email wave: last touch Cy's purchase (39.98); first touch the deal and the purchase
    // (5,000.00 + 39.98). Converted members: Cy and Ann (credited by first touch); Bob is not.
    // ROI = (3998 − 10000) ÷ 10000 = −0.6002 → −6002 bp. Revenue plan: 3998 ÷ 100000 = 399.8 → 400 bp.
    let e = stats(&email).await;
    let t = &e["total"];
    assert_eq!(
        (t["attributed_conversions"].as_i64(), t["attributed_conversions_first_touch"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(money(&t["revenue"]), eur(3998));
    assert_eq!(money(&t["revenue_first_touch"]), eur(503_998));
    assert_eq!(t["converted"], 2);
    assert_eq!(t["roi"], json!([{"currency": "EUR", "roi_bp": -6002}]));
    assert_eq!(e["channels"][0]["revenue"], t["revenue"]);
    let plan = e["plan"].as_array().unwrap().iter().find(|p| p["figure"] == "revenue").unwrap().clone();
    assert_eq!(
        plan,
        json!({"figure": "revenue", "planned": 100_000, "actual": 3998, "currency": "EUR", "attainment_bp": 400})
    );
    // The cross-sell wave: last touch the deal; Dee's purchase was too late. ROI =
    // (500000 − 5000) ÷ 5000 = 99 → 990000 bp.
    let x = stats(&cross).await;
    let t = &x["total"];
    assert_eq!(money(&t["revenue"]), eur(500_000));
    assert_eq!(money(&t["revenue_first_touch"]), vec![]);
    assert_eq!((t["converted"].as_i64(), t["attributed_conversions"].as_i64()), (Some(1), Some(1)));
    assert_eq!(t["roi"], json!([{"currency": "EUR", "roi_bp": 990_000}]));
    // The conversion is in Ann's member history, and in the change feed.
    let h =
        app.get(&format!("/api/v1/campaigns/{}/members/{}/history", s(&cross["id"]), s(&ann["id"]))).await.expect(200);
    let last = h.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["status"].clone(), last["detail"].clone()),
        (json!("converted"), json!("opportunity won: Big deal"))
    );
    let m = app.get(&format!("/api/v1/campaigns/{}/members?status=converted", s(&email["id"]))).await.expect(200);
    let mut converted: Vec<&str> = m["data"].as_array().unwrap().iter().map(|x| s(&x["contact_id"])).collect();
    converted.sort_unstable();
    let mut expected = vec![s(&ann["id"]), s(&cy["id"])];
    expected.sort_unstable();
    assert_eq!(converted, expected);

    // Per day, the email wave from 20 days ago to today: 2 sent on day 0, 1 on day 1; Cy's
    // conversion and its 39.98 on day 10; Ann's conversion today (its revenue went to the
    // cross-sell wave by last touch); the cost line on day 0.
    let tr = app.get(&format!("/api/v1/campaigns/{}/trend", s(&email["id"]))).await.expect(200);
    let points = tr["points"].as_array().unwrap();
    assert_eq!(points.len(), 21, "{tr}");
    assert_eq!(points[0]["period_start"], day_ago(20));
    assert_eq!((points[0]["sent"].as_i64(), points[1]["sent"].as_i64()), (Some(2), Some(1)));
    assert_eq!(money(&points[0]["cost"]), eur(10_000));
    assert_eq!((points[10]["converted"].as_i64(), money(&points[10]["revenue"])), (Some(1), eur(3998)));
    assert_eq!((points[20]["converted"].as_i64(), money(&points[20]["revenue"])), (Some(1), vec![]));
    assert!(points[2..10].iter().all(|p| p["sent"] == 0 && p["converted"] == 0));
    // Per week the same totals.
    let wk = app.get(&format!("/api/v1/campaigns/{}/trend?interval=week", s(&email["id"]))).await.expect(200);
    let weeks = wk["points"].as_array().unwrap();
    assert!((3..=4).contains(&weeks.len()), "{wk}");
    let total = |k: &str| weeks.iter().map(|p| p[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!((total("sent"), total("converted")), (3, 2));
    let monday = chrono::NaiveDate::parse_from_str(s(&weeks[0]["period_start"]), "%Y-%m-%d").unwrap();
    assert_eq!(chrono::Datelike::weekday(&monday), chrono::Weekday::Mon);
    let r = app.get(&format!("/api/v1/campaigns/{}/trend?interval=month", s(&email["id"]))).await.expect(400);
    assert_eq!(r["status"], 400);

    // Compared: both launched; the email wave converted more (2 of 4 against 1 of 4). The
    // segment both targeted: 8 targeted, 3 converted → 3750 bp, revenue 39.98 + 5,000.00. The
    // product only the email wave promoted: 2 of 4 → 5000 bp.
    let cmp = app.get("/api/v1/campaigns/comparison").await.expect(200);
    let names: Vec<&str> = cmp["campaigns"].as_array().unwrap().iter().map(|c| s(&c["name"])).collect();
    assert_eq!(names, ["Email wave", "Cross-sell wave"]);
    let g = &cmp["by_segment"][0];
    assert_eq!(
        (
            g["name"].clone(),
            g["campaigns"].clone(),
            g["targeted"].clone(),
            g["converted"].clone(),
            g["conversion_rate_bp"].clone()
        ),
        (json!("Review"), json!(2), json!(8), json!(3), json!(3750))
    );
    assert_eq!(money(&g["revenue"]), eur(503_998));
    assert_eq!(money(&g["cost"]), eur(15_000));
    let p = &cmp["by_product"][0];
    assert_eq!((p["name"].clone(), p["conversion_rate_bp"].clone()), (json!("Product REV-1"), json!(5000)));
    let only = app.get("/api/v1/campaigns/comparison?type=cross_sell").await.expect(200);
    assert_eq!(only["campaigns"].as_array().unwrap().len(), 1);
    let r = app.get("/api/v1/campaigns/comparison?launched_from=2027-01-02&launched_to=2027-01-01").await.expect(200);
    assert_eq!((r["campaigns"].as_array().unwrap().len(), r["by_segment"].as_array().unwrap().len()), (0, 0));

    // GraphQL reads the same.
    let admin = app.token(&["admin"]);
    let q = app
        .gql(
            &admin,
            "query($id: UUID!) { campaign(id: $id) { stats { total { revenue { amountMinor } roi { roiBp } } }
               trend(interval: WEEK) { points { sent } } }
               campaignComparison(filter: {type: CROSS_SELL}) { campaigns { name figures { revenue { amountMinor } } } } }",
            json!({"id": email["id"]}),
        )
        .await;
    assert!(q["errors"].is_null(), "{q}");
    assert_eq!(q["data"]["campaign"]["stats"]["total"]["roi"][0]["roiBp"], -6002);
    assert_eq!(q["data"]["campaignComparison"]["campaigns"][0]["figures"]["revenue"][0]["amountMinor"], 500_000);

    // The email wave's landing page: Bob registers (a member: he responded), a stranger
    // becomes a lead; both count as the wave's leads. A campaign that does not exist is refused.
    let form = token(&app.keys, "landing-page", &[], &["leads:capture"]);
    for email in ["bob@review.example", "new.person@elsewhere.example"] {
        let body = json!({"email": email, "last_name": "Form", "campaign_id": email_wave_id});
        let r = app.call(Method::POST, "/api/v1/leads/capture", Some(&form), Some(body), &[]).await;
        r.expect(201);
    }
    let r = app
        .call(
            Method::POST,
            "/api/v1/leads/capture",
            Some(&form),
            Some(json!({"email": "x@y.example", "campaign_id": uuid::Uuid::now_v7()})),
            &[],
        )
        .await
        .expect(422);
    assert_eq!(error_fields(&r), vec!["campaign_id"]);
    let m = app.get(&format!("/api/v1/campaigns/{}/members?status=responded", s(&email["id"]))).await.expect(200);
    assert_eq!(
        (m["data"][0]["contact_id"].clone(), m["data"][0]["response_type"].clone()),
        (bob["id"].clone(), json!("registered"))
    );
    let e = stats(&email).await;
    assert_eq!((e["total"]["leads"].as_i64(), e["total"]["responded"].as_i64()), (Some(2), Some(1)));
    let leads =
        app.get(&format!("/api/v1/leads?filter=campaign_id%5Beq%5D:{email_wave_id}&count=true")).await.expect(200);
    assert_eq!(leads["total"], 2);

    // The deal reopens: its revenue leaves both waves; the members stay converted.
    app.patch(&deal_path, json!({"stage_id": open_stage})).await.expect(200);
    let e = stats(&email).await;
    assert_eq!(money(&e["total"]["revenue_first_touch"]), eur(3998));
    assert_eq!(e["total"]["converted"], 2);
    let x = stats(&cross).await;
    assert_eq!(
        (money(&x["total"]["revenue"]), x["total"]["roi"].clone()),
        (vec![], json!([{"currency": "EUR", "roi_bp": -10000}]))
    );
    // Cy's purchase is cancelled: nothing is attributed any more.
    let cy_purchase = app.get(&format!("/api/v1/purchases?filter=contact_id[eq]:{}", s(&cy["id"]))).await.expect(200);
    let pid = s(&cy_purchase["data"][0]["id"]).to_string();
    app.patch(&format!("/api/v1/purchases/{pid}"), json!({"status": "cancelled"})).await.expect(200);
    let e = stats(&email).await;
    assert_eq!((e["total"]["attributed_conversions"].as_i64(), money(&e["total"]["revenue"])), (Some(0), vec![]));
}
