//! The analyses of the customer base (docs/ANALYTICS.md), on a small base whose every figure is
//! worked out by hand in the comments: RFM quintiles with ties, segments, margins per currency,
//! drift reasons; then the predictions on a base large enough to fit the models.

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::*;

/// Midnight and one second, `days` ago (UTC): whole days from the analysis date are `days`.
fn days_ago(days: i64) -> String {
    let d = chrono::Utc::now().date_naive() - chrono::Duration::days(days);
    format!("{d}T00:00:01Z")
}

async fn buy(app: &TestApp, account: &Value, lines: Value, days: i64) {
    app.created(
        "/api/v1/purchases",
        json!({"account_id": account["id"], "ordered_at": days_ago(days), "lines": lines}),
    )
    .await;
}

async fn refresh(app: &TestApp, body: Value) -> Value {
    let r = app.post("/api/v1/analytics/refresh", body).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let location = r.header("location").unwrap();
    assert_eq!(s(&r.body["kind"]), "analytics_refresh");
    let job = wait_for_job(app, &location).await;
    assert_eq!(s(&job["status"]), "succeeded", "{job}");
    job
}

fn money(minor: i64, currency: &str) -> Value {
    json!({"amount_minor": minor, "currency": currency})
}

#[actix_web::test]
async fn rfm_segments_margins_and_drift_reasons_match_the_hand_worked_base() {
    let app = spawn().await;
    // P1 sells at 10.00 USD and costs 6.00; P2 has no unit cost; P3 sells at 5.00 EUR, costs 2.00.
    let p1 = app.product("P1", json!({"list_price": money(1000, "USD"), "unit_cost": money(600, "USD")})).await;
    let p2 = app.product("P2", json!({"list_price": money(1000, "USD")})).await;
    let p3 = app.product("P3", json!({"list_price": money(500, "EUR"), "unit_cost": money(200, "EUR")})).await;
    let line = |p: &Value, q: i64| json!([{"product_id": p["id"], "quantity": q}]);

    // Before the first refresh there is nothing to read.
    let none = app.get("/api/v1/analytics/segments").await;
    assert_eq!((none.status.as_u16(), s(&none.body["code"])), (409, "NOT_ANALYSED"), "{}", none.body);

    let a = app.account("A", json!({})).await;
    let b = app.account("B", json!({})).await;
    let c = app.account("C", json!({})).await;
    let d = app.account("D", json!({})).await;
    let e = app.account("E", json!({})).await;
    let f = app.account("F", json!({})).await;
    let idle = app.account("Idle", json!({})).await;
    // Days ago and amounts (minor units):
    // A: 10, 40, 70 days ago, 1000 USD each.     recency 10, frequency 3, monetary 3000
    // B: 5 days ago, 2 × P1 = 2000.              recency 5,  frequency 1, monetary 2000
    // C: 211 and 180 days ago, 1000 each.        recency 180, frequency 2, monetary 2000
    // D: 120 (USD 1000), 115 (EUR 500), 110 (USD 1000): main currency USD (2 purchases of 3).
    //                                            recency 110, frequency 3, monetary 2000
    // E: 150 (3 × P1 = 3000), 30 (1000).         recency 30, frequency 2, monetary 4000
    // F: 20 days ago, P2 (1000, no unit cost).   recency 20, frequency 1, monetary 1000
    for days in [10, 40, 70] {
        buy(&app, &a, line(&p1, 1), days).await;
    }
    buy(&app, &b, line(&p1, 2), 5).await;
    for days in [211, 180] {
        buy(&app, &c, line(&p1, 1), days).await;
    }
    buy(&app, &d, line(&p1, 1), 120).await;
    buy(&app, &d, line(&p3, 1), 115).await;
    buy(&app, &d, line(&p1, 1), 110).await;
    buy(&app, &e, line(&p1, 3), 150).await;
    buy(&app, &e, line(&p1, 1), 30).await;
    buy(&app, &f, line(&p2, 1), 20).await;
    // A cancelled purchase does not count.
    let cancelled = app
        .created("/api/v1/purchases", json!({"account_id": b["id"], "ordered_at": days_ago(1), "lines": line(&p1, 9)}))
        .await;
    app.patch(&format!("/api/v1/purchases/{}", s(&cancelled["id"])), json!({"status": "cancelled"})).await.expect(200);
    // F opened two cases in the last 90 days (one a complaint), none before.
    app.case("Broken", json!({"account_id": f["id"], "type": "complaint"})).await;
    app.case("Question", json!({"account_id": f["id"]})).await;

    let job = refresh(&app, json!({})).await;
    assert_eq!((job["total"].as_i64(), job["done"].as_i64()), (Some(6), Some(6)), "{job}");
    assert_eq!(job["result"]["customers"], 6);
    assert_eq!(job["result"]["drifting"], 4);
    assert_eq!(job["result"]["predicted"], false, "4 repeat buyers are too few to fit");

    let get = |id: &Value| {
        let app = &app;
        let path = format!("/api/v1/accounts/{}/analytics", s(id));
        async move { app.get(&path).await.expect(200) }
    };
    // Recency, higher is better (minus days): C −180, D −110, E −30, F −20, A −10, B −5; the
    // customers strictly worse: 0..5 of n = 6, so 1 + floor(5w/6) = 1, 1, 2, 3, 4, 5.
    // Frequency: B 1, F 1, C 2, E 2, A 3, D 3: worse 0, 0, 2, 2, 4, 4 → 1, 1, 2, 2, 4, 4.
    // Monetary (all USD): F 1000, B = C = D 2000, A 3000, E 4000: worse 0, 1, 1, 1, 4, 5 →
    // 1, 1, 1, 1, 4, 5 (the tie at 2000 shares the score of its first).
    // Segments by (R, F): A (4,4) loyal; B (5,1) new; C (1,2) lost; D (1,4) at risk;
    // E (2,2) hibernating; F (3,1) about to sleep.
    let expected = [
        (&a, "444", "loyal", 10, 3, 3000),
        (&b, "511", "new_customers", 5, 1, 2000),
        (&c, "121", "lost", 180, 2, 2000),
        (&d, "141", "at_risk", 110, 3, 2000),
        (&e, "225", "hibernating", 30, 2, 4000),
        (&f, "311", "about_to_sleep", 20, 1, 1000),
    ];
    let mut got = Vec::new();
    for (who, ..) in &expected {
        let x = get(&who["id"]).await;
        got.push((
            who["name"].clone(),
            s(&x["rfm"]["cell"]).to_string(),
            s(&x["rfm"]["segment"]).to_string(),
            x["rfm"]["recency_days"].as_i64().unwrap(),
            x["rfm"]["frequency"].as_i64().unwrap(),
            x["rfm"]["monetary"]["amount_minor"].as_i64().unwrap(),
        ));
    }
    let want: Vec<_> = expected
        .iter()
        .map(|(w, cell, seg, r, fr, m)| (w["name"].clone(), cell.to_string(), seg.to_string(), *r, *fr, *m))
        .collect();
    assert_eq!(got, want);

    // Value per currency: A's 3000 cost 3 × 600 = 1800, margin 1200 (0.4), 1000 an order.
    let xa = get(&a["id"]).await;
    assert_eq!(
        xa["value"],
        json!([{"currency": "USD", "orders": 3, "revenue": money(3000, "USD"), "margin": money(1200, "USD"),
                "margin_rate": 0.4, "uncosted_orders": 0, "average_order": money(1000, "USD")}])
    );
    // Margins come from unit costs: a rep without `products:cost` sees the revenue, not them,
    // and cannot rank by them either.
    let rep = token(&app.keys, "rep", &["sales"], &[]);
    let path = format!("/api/v1/accounts/{}/analytics", s(&a["id"]));
    let seen = app.call(Method::GET, &path, Some(&rep), None, &[]).await.expect(200);
    assert_eq!(
        seen["value"],
        json!([{"currency": "USD", "orders": 3, "revenue": money(3000, "USD"), "uncosted_orders": 0,
                "average_order": money(1000, "USD")}])
    );
    let r = app.call(Method::GET, "/api/v1/analytics/customers?sort=-margin", Some(&rep), None, &[]).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    let listed = app.call(Method::GET, "/api/v1/analytics/customers", Some(&rep), None, &[]).await.expect(200);
    assert!(!listed.to_string().contains("margin"), "{listed}");
    assert_eq!(
        (xa["orders"].as_i64(), xa["tenure_days"].as_i64(), xa["repeat_customer"].as_bool()),
        (Some(3), Some(70), Some(true))
    );
    assert_eq!(xa["median_interval_days"], 30.0);
    assert_eq!(xa["prediction"], Value::Null, "no model fitted");
    assert_eq!((xa["drifting"].as_bool(), xa["live"].as_bool()), (Some(false), Some(false)));
    // D: USD first (its main currency): 2000 − 1200 = 800; then EUR: 500 − 200 = 300 (0.6).
    let xd = get(&d["id"]).await;
    assert_eq!(xd["currency"], "USD");
    assert_eq!(
        xd["value"],
        json!([
            {"currency": "USD", "orders": 2, "revenue": money(2000, "USD"), "margin": money(800, "USD"),
             "margin_rate": 0.4, "uncosted_orders": 0, "average_order": money(1000, "USD")},
            {"currency": "EUR", "orders": 1, "revenue": money(500, "EUR"), "margin": money(300, "EUR"),
             "margin_rate": 0.6, "uncosted_orders": 0, "average_order": money(500, "EUR")}
        ])
    );
    // F's only purchase has a line without a unit cost: no margin, and it says so.
    let xf = get(&f["id"]).await;
    assert_eq!((xf["value"][0]["margin"].clone(), xf["value"][0]["uncosted_orders"].as_i64()), (Value::Null, Some(1)));

    // Drift, each with its reason and figures:
    // C: purchase days 31 apart, none for 180 days > 2 × 31 = 62 (no model to ask).
    let xc = get(&c["id"]).await;
    let codes = |x: &Value| -> Vec<(String, f64, f64)> {
        x["drift"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (s(&r["code"]).to_string(), r["value"].as_f64().unwrap(), r["reference"].as_f64().unwrap()))
            .collect()
    };
    assert_eq!(codes(&xc), vec![("overdue".to_string(), 180.0, 62.0)]);
    assert!(s(&xc["drift"][0]["message"]).contains("no purchase for 180 days"), "{}", xc["drift"]);
    // D: days 5 apart, none for 110 > 10; and 2000 USD in the 90 days before the last 90, none
    // since (the EUR purchase is another currency).
    assert_eq!(codes(&xd), vec![("overdue".to_string(), 110.0, 10.0), ("spend_drop".to_string(), 0.0, 2000.0)]);
    // E: 1000 in the last 90 days against 3000 before: down 67% > 50%. 120 days apart, 30
    // since: not overdue.
    let xe = get(&e["id"]).await;
    assert_eq!(codes(&xe), vec![("spend_drop".to_string(), 1000.0, 3000.0)]);
    assert!(s(&xe["drift"][0]["message"]).contains("down 67%"), "{}", xe["drift"]);
    // F: 2 cases (1 complaint) against none.
    assert_eq!(codes(&xf), vec![("cases_rose".to_string(), 2.0, 0.0)]);
    assert_eq!(xf["cases"], json!({"recent": 2, "before": 0, "recent_complaints": 1, "complaints_before": 0}));

    // The segmentation: one customer in each of six segments, in the table's order.
    let seg = app.get("/api/v1/analytics/segments").await.expect(200);
    assert_eq!(seg["customers"], 6);
    // Four of the six bought on more than one day.
    assert!((seg["repeat_rate"].as_f64().unwrap() - 4.0 / 6.0).abs() < 1e-12);
    let rows: Vec<(String, i64, i64, i64)> = seg["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                s(&r["group"]).to_string(),
                r["customers"].as_i64().unwrap(),
                r["drifting"].as_i64().unwrap(),
                r["value"][0]["revenue"]["amount_minor"].as_i64().unwrap(),
            )
        })
        .collect();
    let row = |n: &str, d: i64, r: i64| (n.to_string(), 1, d, r);
    assert_eq!(
        rows,
        vec![
            row("loyal", 0, 3000),
            row("new_customers", 0, 2000),
            row("about_to_sleep", 1, 1000),
            row("at_risk", 1, 2000),
            row("hibernating", 1, 4000),
            row("lost", 1, 2000)
        ]
    );
    assert!((seg["groups"][0]["share"].as_f64().unwrap() - 1.0 / 6.0).abs() < 1e-12);

    // The model: no BG/NBD fit, and why; the RFM edges as worked out above.
    let model = app.get("/api/v1/analytics/model").await.expect(200);
    assert_eq!(model["bgnbd"], Value::Null);
    assert_eq!(s(&model["bgnbd_error"]), "4 customers with repeat purchases; the fit needs at least 10");
    assert_eq!(model["rfm"]["recency_days"], json!([30, 20, 10, 5]));
    assert_eq!(model["rfm"]["frequency"], json!([2, 3, 3, null]));
    assert_eq!(model["rfm"]["monetary"], json!([{"currency": "USD", "minimum_minor": [3000, 3000, 3000, 4000]}]));

    // The ranked list: by revenue, ties by id, in keyset pages of two.
    let mut order = Vec::new();
    let mut path = "/api/v1/analytics/customers?sort=-revenue&limit=2".to_string();
    loop {
        let page = app.get(&path).await.expect(200);
        for x in page["data"].as_array().unwrap() {
            order.push(x["customer_id"].clone());
        }
        match page["next_cursor"].as_str() {
            Some(cur) => path = format!("/api/v1/analytics/customers?sort=-revenue&limit=2&cursor={cur}"),
            None => break,
        }
    }
    let mut ties = vec![b["id"].clone(), c["id"].clone(), d["id"].clone()];
    ties.sort_by(|x, y| s(x).cmp(s(y)));
    let want = [vec![e["id"].clone(), a["id"].clone()], ties, vec![f["id"].clone()]].concat();
    assert_eq!(order, want);
    let drifting = app.get("/api/v1/analytics/customers?drifting=true&sort=margin").await.expect(200);
    let ids: Vec<Value> = drifting["data"].as_array().unwrap().iter().map(|x| x["customer_id"].clone()).collect();
    // Margins: D 800, C 2000 − 1200 = 800, E 4000 − 2400 = 1600, F none (last).
    let mut low = vec![c["id"].clone(), d["id"].clone()];
    low.sort_by(|x, y| s(x).cmp(s(y)));
    assert_eq!(ids, [low, vec![e["id"].clone(), f["id"].clone()]].concat());
    let lost = app.get("/api/v1/analytics/customers?segment=lost").await.expect(200);
    assert_eq!(lost["data"].as_array().unwrap().len(), 1);
    assert_eq!(lost["data"][0]["customer_id"], c["id"]);
    let bad = app.get("/api/v1/analytics/customers?sort=name").await;
    assert_eq!((bad.status.as_u16(), s(&bad.body["code"])), (400, "INVALID_SORT"));
    let bad = app.get("/api/v1/analytics/customers?limit=201").await;
    assert_eq!((bad.status.as_u16(), s(&bad.body["code"])), (400, "INVALID_PARAMETER"));
    let bad = app.get("/api/v1/analytics/customers?cursor=nonsense").await;
    assert_eq!((bad.status.as_u16(), s(&bad.body["code"])), (400, "INVALID_CURSOR"));

    // One customer computed now against the refresh's model: the same scores, marked live.
    let live = app.get(&format!("/api/v1/accounts/{}/analytics?fresh=true", s(&a["id"]))).await.expect(200);
    assert_eq!((live["live"].as_bool(), live["rfm"]["cell"].clone()), (Some(true), json!("444")));
    // A customer the refresh did not see (its first purchase since) is computed on demand.
    let g = app.account("G", json!({})).await;
    buy(&app, &g, line(&p1, 5), 2).await;
    let xg = get(&g["id"]).await;
    // Recency 2 ≥ the edge of 5 (−2 ≥ −5): R 5; 1 purchase: F 1; 5000 ≥ 4000: M 5.
    assert_eq!((xg["live"].as_bool(), s(&xg["rfm"]["cell"])), (Some(true), "515"));
    let r = app.get(&format!("/api/v1/accounts/{}/analytics", s(&idle["id"]))).await;
    assert_eq!((r.status.as_u16(), s(&r.body["code"])), (409, "NO_PURCHASES"), "{}", r.body);
    let r = app.get(&format!("/api/v1/accounts/{}/analytics", uuid::Uuid::now_v7())).await;
    assert_eq!(r.status.as_u16(), 404);

    // GraphQL answers from the same function.
    let token = app.token(&["admin"]);
    let q = r#"query($id: UUID!) { customerAnalysis(customerType: ACCOUNT, id: $id) {
        rfm { cell segment } value { currency margin { amountMinor } } drift { code } } }"#;
    let r = app.gql(&token, q, json!({"id": d["id"]})).await;
    assert_eq!(
        r["data"]["customerAnalysis"],
        json!({"rfm": {"cell": "141", "segment": "AT_RISK"},
               "value": [{"currency": "USD", "margin": {"amountMinor": 800}}, {"currency": "EUR", "margin": {"amountMinor": 300}}],
               "drift": [{"code": "OVERDUE"}, {"code": "SPEND_DROP"}]}),
        "{r}"
    );

    // Readers read; only analytics:write refreshes and sets (marketing has it, sales not).
    let sales = app.token(&["sales"]);
    let r = app.call(Method::GET, "/api/v1/analytics/segments", Some(&sales), None, &[]).await;
    assert_eq!(r.status.as_u16(), 200);
    let r = app.call(Method::POST, "/api/v1/analytics/refresh", Some(&sales), Some(json!({})), &[]).await;
    assert_eq!(r.status.as_u16(), 403);
    let marketing = app.token(&["marketing"]);
    let r = app.call(Method::POST, "/api/v1/analytics/refresh", Some(&marketing), Some(json!({})), &[]).await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.body);
    wait_for_job(&app, &r.header("location").unwrap()).await;
    // A refresh in the future is refused.
    let r = app.post("/api/v1/analytics/refresh", json!({"as_of": "2999-01-01T00:00:00Z"})).await;
    assert_eq!((r.status.as_u16(), r.body["errors"][0]["code"].clone()), (422, json!("in_future")), "{}", r.body);
}

#[actix_web::test]
async fn predictions_come_from_models_fitted_over_the_base_and_backtest_at_a_past_date() {
    let app = spawn().await;
    let p = app.product("P", json!({"list_price": money(1000, "USD"), "unit_cost": money(400, "USD")})).await;
    // No discount: the predicted value is then the expected purchases times the expected
    // value of one (the monthly terms add up to the whole horizon's expectation).
    let settings = json!({"monthly_discount_rate": 0.0, "horizon_months": 12});
    let r = app.call(Method::PUT, "/api/v1/analytics/settings", Some(&app.admin), Some(settings), &[]).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!((r.body["window_days"].as_i64(), r.body["drift_factor"].as_f64()), (Some(365), Some(2.0)), "defaults");
    let bad = json!({"alive_threshold": 1.5, "window_days": 0});
    let r = app.call(Method::PUT, "/api/v1/analytics/settings", Some(&app.admin), Some(bad), &[]).await;
    assert_eq!(r.status.as_u16(), 422);
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| s(&e["field"])).collect();
    assert_eq!(fields, vec!["window_days", "alive_threshold"]);

    // Twelve repeat buyers with varied rhythms and values, and two who bought once.
    let mut customers = Vec::new();
    for n in 0..14i64 {
        let acc = app.account(&format!("Buyer {n}"), json!({})).await;
        let purchases: Vec<i64> = match n {
            12 | 13 => vec![200 + n],
            _ => (0..(2 + n % 4)).map(|k| 300 - n * 7 - k * (20 + n * 3)).collect(),
        };
        for days in &purchases {
            buy(&app, &acc, json!([{"product_id": p["id"], "quantity": 1 + n % 3}]), *days).await;
        }
        customers.push((acc, purchases));
    }
    refresh(&app, json!({})).await;
    let model = app.get("/api/v1/analytics/model").await.expect(200);
    let fit = &model["bgnbd"];
    assert_eq!((fit["customers"].as_i64(), fit["repeat_customers"].as_i64()), (Some(14), Some(12)), "{model}");
    for k in ["r", "alpha", "a", "b"] {
        assert!(fit["parameters"][k].as_f64().unwrap() > 0.0, "{model}");
    }
    assert_eq!(model["gamma_gamma"][0]["currency"], "USD");
    assert!(model["gamma_gamma"][0]["parameters"]["p"].as_f64().unwrap() > 0.0, "{model}");
    assert_eq!(model["settings"]["monthly_discount_rate"], 0.0);

    let page = app.get("/api/v1/analytics/customers?limit=200").await.expect(200);
    let all = page["data"].as_array().unwrap();
    assert_eq!(all.len(), 14);
    let mut last_clv = i64::MAX;
    for x in all {
        let p = &x["prediction"];
        let (alive, expected) = (p["probability_alive"].as_f64().unwrap(), p["expected_purchases"].as_f64().unwrap());
        assert!((0.0..=1.0).contains(&alive) && expected > 0.0, "{x}");
        let order = p["expected_order_value"]["amount_minor"].as_i64().unwrap() as f64;
        let clv = p["predicted_clv"]["amount_minor"].as_i64().unwrap();
        // Σ value × (E[12 months] − E[11 months]) … = value × E[12 months], within rounding.
        assert!((clv as f64 - order * expected).abs() <= expected / 2.0 + 1.0, "{x}");
        assert!(clv <= last_clv, "ranked by predicted value, highest first");
        last_clv = clv;
        if !x["repeat_customer"].as_bool().unwrap() {
            assert_eq!(alive, 1.0, "BG/NBD: no repeat purchase, no evidence of dropout: {x}");
        }
    }
    // One repeat purchase each: customer 0 first bought 300 days ago and last 280 (t_x 20,
    // T 300), customer 4 first 272 and last 240 (t_x 32, T 272). BG/NBD's P(alive) falls with
    // T and rises with t_x: 0 is no more likely alive than 4.
    let by_id = |id: &Value| all.iter().find(|x| x["customer_id"] == *id).unwrap().clone();
    let (c0, c4) = (by_id(&customers[0].0["id"]), by_id(&customers[4].0["id"]));
    assert_eq!((c0["tenure_days"].as_i64(), c4["tenure_days"].as_i64()), (Some(300), Some(272)));
    let alive = |x: &Value| x["prediction"]["probability_alive"].as_f64().unwrap();
    assert!(alive(&c0) <= alive(&c4), "{} {}", alive(&c0), alive(&c4));

    // Backtest: as of 150 days ago, only what was bought by then counts.
    let before = chrono::Utc::now() - chrono::Duration::days(150);
    let job = refresh(&app, json!({"as_of": before.to_rfc3339()})).await;
    let counted = customers.iter().filter(|(_, days)| days.iter().any(|d| *d > 150)).count() as i64;
    assert_eq!(job["result"]["customers"].as_i64(), Some(counted), "{job}");
    let model = app.get("/api/v1/analytics/model").await.expect(200);
    assert_eq!(model["customers"].as_i64(), Some(counted));

    // The CLI runs the same refresh, with progress on stderr.
    let env = [("DATABASE_URL", app.database_url.as_str())];
    let (out, log) = crate::observability::stdout_of(crate::observability::crm(&["analytics", "refresh"], &env));
    assert!(out.contains("analysed 14 customers") && out.contains("predictions fitted"), "{out}");
    assert!(log.contains("analysing"), "progress on stderr: {log}");
}

#[actix_web::test]
async fn association_rules_from_baskets_give_cross_sell_and_up_sell_offers() {
    let app = spawn().await;
    let usd = |m: i64| json!({"list_price": money(m, "USD")});
    let x = app.product("X", usd(1000)).await;
    let y = app.product("Y", usd(1000)).await;
    let z = app.product("Z", usd(1000)).await;
    let plan = |sku: &'static str, price: i64| {
        let app = &app;
        async move { app.product(sku, json!({"family": "Plans", "list_price": money(price, "USD")})).await }
    };
    let basic = plan("BASIC", 100).await;
    plan("PLUS", 200).await;
    plan("MAX", 400).await;
    let lines =
        |ps: &[&Value]| Value::Array(ps.iter().map(|p| json!({"product_id": p["id"], "quantity": 1})).collect());
    // Ten baskets: {X,Y} four times, {X}, {Y,Z}, {Z} twice, {BASIC} twice.
    let mut who = Vec::new();
    for n in 0..8 {
        who.push(app.account(&format!("Shop {n}"), json!({})).await);
    }
    for (k, shop) in who.iter().enumerate().take(4) {
        buy(&app, shop, lines(&[&x, &y]), 10 + k as i64).await;
    }
    buy(&app, &who[4], lines(&[&x]), 10).await;
    buy(&app, &who[5], lines(&[&y, &z]), 10).await;
    buy(&app, &who[6], lines(&[&z]), 20).await;
    buy(&app, &who[6], lines(&[&z]), 10).await;
    buy(&app, &who[7], lines(&[&basic]), 20).await;
    buy(&app, &who[7], lines(&[&basic]), 10).await;
    refresh(&app, json!({})).await;

    // X in 5 baskets, Y in 5, both in 4 of 10: support 0.4, confidence 0.8 both ways, lift
    // 0.8 / 0.5 = 1.6. Y→Z (1 of 5: 0.2, lift 0.2 / 0.3) and Z→Y (1 of 3, lift (1/3) / 0.5)
    // fall under the default minimum lift of 1.2.
    let rules = app.get("/api/v1/analytics/associations").await.expect(200);
    let got: Vec<(String, String, i64, f64, f64)> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                s(&r["antecedent"]["sku"]).to_string(),
                s(&r["consequent"]["sku"]).to_string(),
                r["baskets"].as_i64().unwrap(),
                r["support"].as_f64().unwrap(),
                r["confidence"].as_f64().unwrap(),
            )
        })
        .collect();
    let mut want =
        vec![("X".to_string(), "Y".to_string(), 4, 0.4, 0.8), ("Y".to_string(), "X".to_string(), 4, 0.4, 0.8)];
    if s(&x["id"]) > s(&y["id"]) {
        want.reverse();
    }
    assert_eq!(got, want);
    assert!(rules.as_array().unwrap().iter().all(|r| (r["lift"].as_f64().unwrap() - 1.6).abs() < 1e-12));
    let from_x = app.get(&format!("/api/v1/analytics/associations?product_id={}", s(&x["id"]))).await.expect(200);
    assert_eq!(from_x.as_array().unwrap().len(), 1);

    let offers = |i: usize| {
        let app = &app;
        let path = format!("/api/v1/accounts/{}/analytics", s(&who[i]["id"]));
        async move {
            let a = app.get(&path).await.expect(200);
            a["offers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| (s(&o["kind"]).to_string(), s(&o["sku"]).to_string(), o["because_of"].clone()))
                .collect::<Vec<_>>()
        }
    };
    // Shop 4 owns X: offered Y; shop 5 owns Y and Z: offered X; shop 0 owns both: nothing.
    assert_eq!(offers(4).await, vec![("cross_sell".to_string(), "Y".to_string(), x["id"].clone())]);
    assert_eq!(offers(5).await, vec![("cross_sell".to_string(), "X".to_string(), y["id"].clone())]);
    assert_eq!(offers(0).await, vec![]);
    // Shop 7 buys BASIC (1.00): the next tier up is PLUS (2.00), not MAX.
    assert_eq!(offers(7).await, vec![("up_sell".to_string(), "PLUS".to_string(), basic["id"].clone())]);
    let a = app.get(&format!("/api/v1/accounts/{}/analytics", s(&who[4]["id"]))).await.expect(200);
    assert_eq!(
        s(&a["offers"][0]["reason"]),
        "80% of the purchases with Product X also hold Product Y (1.6 times its usual share)"
    );

    // A lower minimum lift keeps the weaker rules: 4 in all.
    app.call(Method::PUT, "/api/v1/analytics/settings", Some(&app.admin), Some(json!({"min_lift": 0.5})), &[])
        .await
        .expect(200);
    refresh(&app, json!({})).await;
    let rules = app.get("/api/v1/analytics/associations?sort=-confidence").await.expect(200);
    let conf: Vec<f64> = rules.as_array().unwrap().iter().map(|r| r["confidence"].as_f64().unwrap()).collect();
    assert_eq!(conf.len(), 4);
    assert!((conf[2] - 1.0 / 3.0).abs() < 1e-12 && (conf[3] - 0.2).abs() < 1e-12, "{conf:?}");
    let bad = app.get("/api/v1/analytics/associations?sort=name").await;
    assert_eq!(bad.status.as_u16(), 400);
}

fn kinds(page: &Value) -> Vec<String> {
    let mut k: Vec<String> = page["data"].as_array().unwrap().iter().map(|a| s(&a["kind"]).to_string()).collect();
    k.sort();
    k
}

#[actix_web::test]
async fn alerts_are_raised_once_for_their_owner_and_resolved_when_their_condition_passes() {
    let app = spawn().await;
    let rita = app.user("Rita Rep", json!({"subject": "rita", "role": "sales"})).await;
    // Rita manages her accounts' margins too.
    let rita_token = token(&app.keys, "rita", &["sales"], &["products:cost"]);
    app.user("Sam Rep", json!({"subject": "sam", "role": "sales"})).await;
    let sam_token = token(&app.keys, "sam", &["sales"], &[]);
    let as_rita = |path: String| {
        let app = &app;
        let t = rita_token.clone();
        async move { app.call(Method::GET, &path, Some(&t), None, &[]).await.expect(200) }
    };
    // P sells at 10.00 and costs 9.50: a 5% margin. Q costs nothing.
    let p = app.product("P", json!({"list_price": money(1000, "USD"), "unit_cost": money(950, "USD")})).await;
    let q = app.product("Q", json!({"list_price": money(1000, "USD"), "unit_cost": money(0, "USD")})).await;
    // Drifter: purchases 5 days apart, none for 100 days (> 2 × 5), both at cost... with Q.
    let drifter = app.account("Drifter", json!({"owner_id": rita["id"]})).await;
    buy(&app, &drifter, json!([{"product_id": q["id"], "quantity": 1}]), 105).await;
    buy(&app, &drifter, json!([{"product_id": q["id"], "quantity": 1}]), 100).await;
    // Thin: one purchase of P, yesterday: a 5% margin, below the 10% threshold.
    let thin = app.account("Thin", json!({"owner_id": rita["id"]})).await;
    buy(&app, &thin, json!([{"product_id": p["id"], "quantity": 1}]), 1).await;
    // Rita's quota this quarter: nothing won yet.
    let today = chrono::Utc::now().date_naive();
    let quarter = format!("{}-Q{}", chrono::Datelike::year(&today), chrono::Datelike::month0(&today) / 3 + 1);
    app.quota(&rita, &quarter, json!({"amount": money(10_000_000, "USD")})).await;

    let job = refresh(&app, json!({})).await;
    assert_eq!(job["result"]["alerts_raised"], 3, "{job}");
    let mine = as_rita("/api/v1/alerts?owner=me".into()).await;
    assert_eq!(kinds(&mine), vec!["drift", "margin_drop", "quota_behind"]);
    // A margin alert states a margin: without `products:cost` it is not listed.
    let plain = token(&app.keys, "rita", &["sales"], &[]);
    let without = app.call(Method::GET, "/api/v1/alerts?owner=me", Some(&plain), None, &[]).await.expect(200);
    assert_eq!(kinds(&without), vec!["drift", "quota_behind"]);
    let find = |page: &Value, kind: &str| {
        page["data"].as_array().unwrap().iter().find(|a| a["kind"] == kind).cloned().unwrap()
    };
    let drift = find(&mine, "drift");
    assert_eq!((s(&drift["title"]), drift["customer_id"].clone()), ("Drifter is drifting away", drifter["id"].clone()));
    assert_eq!(drift["owner_id"], rita["id"]);
    assert_eq!(drift["figures"]["drift"][0]["code"], "overdue", "{drift}");
    let margin = find(&mine, "margin_drop");
    assert_eq!(s(&margin["title"]), "Thin's margin is 5.0%");
    assert_eq!(s(&margin["reasons"][0]), "a margin rate of 5.0% on 10.00 USD of revenue, below the 10.0% threshold");
    let quota = find(&mine, "quota_behind");
    assert_eq!(s(&quota["title"]), format!("Rita Rep is behind the {quarter} quota"));
    assert!(s(&quota["reasons"][0]).starts_with("won 0.00 USD of a 100000.00 USD quota"), "{quota}");
    // Sam has none; everyone reads all of them.
    let sams = app.call(Method::GET, "/api/v1/alerts?owner=me", Some(&sam_token), None, &[]).await.expect(200);
    assert_eq!(sams["data"], json!([]));
    let feed = app.get("/api/v1/changes?types=alert.created").await.expect(200);
    assert_eq!(feed["data"].as_array().unwrap().len(), 3, "each alert is an event");

    // Raised once: a second refresh raises nothing.
    let job = refresh(&app, json!({})).await;
    assert_eq!(
        (job["result"]["alerts_raised"].as_i64(), job["result"]["alerts_resolved"].as_i64()),
        (Some(0), Some(0))
    );

    // Only the owner (or an admin) acknowledges or dismisses.
    let path = format!("/api/v1/alerts/{}/dismiss", s(&drift["id"]));
    let r = app.call(Method::POST, &path, Some(&sam_token), None, &[]).await;
    assert_eq!((r.status.as_u16(), s(&r.body["code"])), (403, "NOT_ALERT_OWNER"), "{}", r.body);
    let r = app.call(Method::POST, &path, Some(&rita_token), None, &[]).await.expect(200);
    assert_eq!((s(&r["status"]), r["version"].as_i64()), ("dismissed", Some(2)));
    let r = app.call(Method::POST, &path, Some(&rita_token), None, &[]).await;
    assert_eq!(
        (r.status.as_u16(), s(&r.body["code"])),
        (422, "INVALID_TRANSITION"),
        "the house rule for a status move"
    );
    // Dismissed within the cool-down: not raised again while the customer still drifts.
    let job = refresh(&app, json!({})).await;
    assert_eq!(job["result"]["alerts_raised"], 0);
    assert_eq!(kinds(&as_rita("/api/v1/alerts?owner=me".into()).await), vec!["margin_drop", "quota_behind"]);
    assert_eq!(kinds(&as_rita("/api/v1/alerts?owner=me&status=dismissed".into()).await), vec!["drift"]);

    // Thin buys Q: (2000 − 950) / 2000 = 52.5%: the margin alert resolves itself.
    buy(&app, &thin, json!([{"product_id": q["id"], "quantity": 1}]), 0).await;
    let job = refresh(&app, json!({})).await;
    assert_eq!(
        (job["result"]["alerts_raised"].as_i64(), job["result"]["alerts_resolved"].as_i64()),
        (Some(0), Some(1))
    );
    assert_eq!(kinds(&as_rita("/api/v1/alerts?owner=me&status=resolved".into()).await), vec!["margin_drop"]);

    // Without a cool-down, the drift is raised again.
    app.call(Method::PUT, "/api/v1/analytics/settings", Some(&app.admin), Some(json!({"alert_cooldown_days": 0})), &[])
        .await
        .expect(200);
    let job = refresh(&app, json!({})).await;
    assert_eq!(job["result"]["alerts_raised"], 1);
    let feed = app.get("/api/v1/changes?types=alert.created,alert.updated").await.expect(200);
    assert_eq!(feed["data"].as_array().unwrap().len(), 3 + 1 + 1 + 1, "created ×3, dismissed, resolved, created");

    // Pages of one, newest first; GraphQL reads the same.
    let first = app.get("/api/v1/alerts?limit=1").await.expect(200);
    let next = app.get(&format!("/api/v1/alerts?limit=1&cursor={}", s(&first["next_cursor"]))).await.expect(200);
    assert!(s(&first["data"][0]["id"]) > s(&next["data"][0]["id"]));
    let r = app.gql(&rita_token, r#"{ alerts(owner: "me") { data { kind } } }"#, json!({})).await;
    assert_eq!(r["data"]["alerts"]["data"].as_array().unwrap().len(), 2, "{r}");
}

#[actix_web::test]
async fn next_best_actions_rank_the_open_complaint_first_and_hold_offers_back() {
    let app = spawn().await;
    let plan = |sku: &'static str, price: i64| {
        let app = &app;
        async move { app.product(sku, json!({"family": "Plans", "list_price": money(price, "USD")})).await }
    };
    let basic = plan("BASIC", 100).await;
    let plus = plan("PLUS", 200).await;
    let acme = app.account("Acme", json!({})).await;
    let ann = app.contact("Ann", "Lee", json!({"account_id": acme["id"]})).await;
    buy(&app, &acme, json!([{"product_id": basic["id"], "quantity": 1}]), 3).await;
    let empty = app.account("Empty", json!({})).await;
    let path = format!("/api/v1/accounts/{}/next-best-actions", s(&acme["id"]));
    let actions = |v: &Value| -> Vec<(String, f64)> {
        v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (s(&a["action"]).to_string(), a["score"].as_f64().unwrap()))
            .collect()
    };

    // Nothing analysed yet: no offer to make, nothing open.
    let r = app.get(&path).await.expect(200);
    assert_eq!(actions(&r), vec![("nothing".to_string(), 0.0)]);
    refresh(&app, json!({})).await;
    // Acme buys BASIC: PLUS is the next tier up (score 25).
    let r = app.get(&path).await.expect(200);
    assert_eq!(actions(&r), vec![("offer".to_string(), 25.0)]);
    assert_eq!(
        (r["actions"][0]["product_id"].clone(), s(&r["actions"][0]["offer_kind"])),
        (plus["id"].clone(), "up_sell")
    );

    // An open complaint comes first (100), a question after it (60), and holds the offer back.
    let complaint = app.case("Invoice wrong", json!({"account_id": acme["id"], "type": "complaint"})).await;
    app.case("How to export?", json!({"account_id": acme["id"]})).await;
    let r = app.get(&path).await.expect(200);
    assert_eq!(actions(&r), vec![("resolve_complaint".to_string(), 100.0), ("follow_up_case".to_string(), 60.0)]);
    assert_eq!(r["actions"][0]["case_id"], complaint["id"]);
    assert_eq!(
        r["suppressed"],
        json!([{"product_id": plus["id"], "sku": "PLUS", "name": "Product PLUS",
                "reason": format!("complaint {} is open", s(&complaint["number"]))}])
    );
    // Resolved: the offer is back, after the question.
    app.patch(&format!("/api/v1/cases/{}", s(&complaint["id"])), json!({"status": "resolved"})).await.expect(200);
    let r = app.get(&path).await.expect(200);
    assert_eq!(actions(&r), vec![("follow_up_case".to_string(), 60.0), ("offer".to_string(), 25.0)]);
    // Its only contact opts out of marketing: no offer.
    app.patch(&format!("/api/v1/contacts/{}", s(&ann["id"])), json!({"marketing_opt_out": true})).await.expect(200);
    let r = app.get(&path).await.expect(200);
    assert_eq!(actions(&r), vec![("follow_up_case".to_string(), 60.0)]);
    assert_eq!(s(&r["suppressed"][0]["reason"]), "every contact of the account opted out of marketing");

    // A customer without purchases or cases: nothing, and why.
    let r = app.get(&format!("/api/v1/accounts/{}/next-best-actions", s(&empty["id"]))).await.expect(200);
    assert_eq!(actions(&r), vec![("nothing".to_string(), 0.0)]);
    assert_eq!(s(&r["actions"][0]["reasons"][0]), "no open case, no drift and no product to offer");
    let r = app.get(&format!("/api/v1/accounts/{}/next-best-actions", uuid::Uuid::now_v7())).await;
    assert_eq!(r.status.as_u16(), 404);
    // GraphQL: the same.
    let t = app.token(&["admin"]);
    let r = app
        .gql(
            &t,
            "query($id: UUID!) { nextBestActions(customerType: ACCOUNT, id: $id) { actions { action score } } }",
            json!({"id": acme["id"]}),
        )
        .await;
    assert_eq!(r["data"]["nextBestActions"]["actions"], json!([{"action": "FOLLOW_UP_CASE", "score": 60.0}]), "{r}");
}

#[actix_web::test]
async fn tiers_dimensions_and_monthly_trends_add_up_by_hand() {
    let app = spawn().await;
    let p1 = app.product("P1", json!({"list_price": money(1000, "USD"), "unit_cost": money(600, "USD")})).await;
    let p2 = app.product("P2", json!({"list_price": money(500, "USD")})).await;
    let k1 = app.account("K1", json!({"industry": "Retail", "country": "KR", "region": "Seoul"})).await;
    let k2 = app.account("K2", json!({"industry": "Retail"})).await;
    let k3 = app.account("K3", json!({"industry": "Energy"})).await;
    app.contact("Kim", "One", json!({"account_id": k1["id"], "lifecycle_stage": "customer"})).await;
    // This month and the one before (its last day).
    let today = chrono::Utc::now().date_naive();
    let first = chrono::Datelike::with_day(&today, 1).unwrap();
    let last_month = first - chrono::Duration::days(1);
    let on = |d: chrono::NaiveDate| format!("{d}T00:00:01Z");
    let line = |p: &Value| json!([{"product_id": p["id"], "quantity": 1}]);
    for (acc, p, day) in
        [(&k1, &p1, today), (&k1, &p1, today), (&k1, &p1, last_month), (&k2, &p1, last_month), (&k3, &p2, today)]
    {
        app.created("/api/v1/purchases", json!({"account_id": acc["id"], "ordered_at": on(day), "lines": line(p)}))
            .await;
    }
    let tiers = json!({"tiers": [
        {"name": "gold", "min_revenue": money(3000, "usd")},
        {"name": "silver", "min_revenue": money(1000, "USD")}
    ]});
    let r = app.call(Method::PUT, "/api/v1/analytics/settings", Some(&app.admin), Some(tiers), &[]).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(r.body["tiers"][0]["min_revenue"]["currency"], "USD", "normalized");
    let bad = json!({"tiers": [{"name": "x"}, {"name": "X", "segments": ["lost"]}]});
    let r = app.call(Method::PUT, "/api/v1/analytics/settings", Some(&app.admin), Some(bad), &[]).await;
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| s(&e["field"])).collect();
    assert_eq!(fields, vec!["tiers[0]", "tiers[1].name"], "{}", r.body);
    refresh(&app, json!({})).await;

    // K1: 3000 → gold; K2: 1000 → silver; K3: 500 → none.
    let tier = |acc: &Value| {
        let app = &app;
        let path = format!("/api/v1/accounts/{}/analytics", s(&acc["id"]));
        async move { app.get(&path).await.expect(200)["tier"].clone() }
    };
    assert_eq!((tier(&k1).await, tier(&k2).await, tier(&k3).await), (json!("gold"), json!("silver"), Value::Null));
    let by_tier = app.get("/api/v1/analytics/segments?by=tier").await.expect(200);
    let groups: Vec<(Value, i64)> = by_tier["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["group"].clone(), g["customers"].as_i64().unwrap()))
        .collect();
    assert_eq!(groups, vec![(Value::Null, 1), (json!("gold"), 1), (json!("silver"), 1)]);
    let by_industry = app.get("/api/v1/analytics/segments?by=industry").await.expect(200);
    assert_eq!(by_industry["groups"][0]["group"], "Retail");
    assert_eq!(by_industry["groups"][0]["customers"], 2);
    assert_eq!(by_industry["groups"][0]["value"][0]["revenue"], money(4000, "USD"));
    assert_eq!(by_industry["groups"][0]["value"][0]["margin"], money(1600, "USD"), "4000 − 4 × 600");
    let by_stage = app.get("/api/v1/analytics/segments?by=lifecycle_stage").await.expect(200);
    let staged: Vec<Value> = by_stage["groups"].as_array().unwrap().iter().map(|g| g["group"].clone()).collect();
    assert!(staged.contains(&json!("customer")), "K1's only contact is a customer: {by_stage}");
    let bad = app.get("/api/v1/analytics/segments?by=name").await;
    assert_eq!(bad.status.as_u16(), 400);

    // Trends by industry: Retail last month K1 1000 + K2 1000 (2 customers, margin 800);
    // this month K1 2 × 1000 (1 customer, margin 800). Energy this month 500, no unit cost.
    let t = app.get("/api/v1/analytics/trends?by=industry").await.expect(200);
    assert_eq!(t["months"].as_array().unwrap().len(), 12);
    assert_eq!(t["months"][11], format!("{}", first.format("%Y-%m")));
    let point = |month: chrono::NaiveDate, revenue: i64, margin: Option<i64>, orders: i64, customers: i64| {
        let mut p = json!({"month": format!("{}", month.format("%Y-%m")), "currency": "USD",
               "revenue": money(revenue, "USD"), "orders": orders, "customers": customers});
        // Absent when no purchase of the month had unit costs.
        if let Some(m) = margin {
            p["margin"] = money(m, "USD");
        }
        p
    };
    assert_eq!(
        t["groups"],
        json!([
            {"group": "Energy", "points": [point(today, 500, None, 1, 1)]},
            {"group": "Retail", "points": [point(last_month, 2000, Some(800), 2, 2), point(today, 2000, Some(800), 2, 1)]}
        ])
    );

    // Tier changes are events: K1 and K2 got theirs; raising gold to 5000 moves K1 to silver.
    let feed = app.get("/api/v1/changes?types=customer_tier.updated").await.expect(200);
    assert_eq!(feed["data"].as_array().unwrap().len(), 2);
    let higher = json!({"tiers": [
        {"name": "gold", "min_revenue": money(5000, "USD")},
        {"name": "silver", "min_revenue": money(1000, "USD")}
    ]});
    app.call(Method::PUT, "/api/v1/analytics/settings", Some(&app.admin), Some(higher), &[]).await.expect(200);
    refresh(&app, json!({})).await;
    let feed = app.get("/api/v1/changes?types=customer_tier.updated").await.expect(200);
    let events = feed["data"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    let last = &events[2];
    assert_eq!(last["entity_id"], k1["id"]);
    assert_eq!(
        (last["before"]["tier"].clone(), last["after"]["tier"].clone()),
        (json!("gold"), json!("silver")),
        "{last}"
    );
}

#[actix_web::test]
async fn dormant_customers_are_listed_and_segment_criteria_reach_them() {
    let app = spawn().await;
    let p = app.product("P", json!({"list_price": money(1000, "USD")})).await;
    let line = json!([{"product_id": p["id"], "quantity": 1}]);
    // No purchase for 200 days (≥ the default 180) and no interaction: dormant.
    let sleepy = app.account("Sleepy", json!({})).await;
    let sam = app.contact("Sam", "Sleepy", json!({"account_id": sleepy["id"]})).await;
    buy(&app, &sleepy, line.clone(), 200).await;
    // The same, but called 10 days ago: not dormant.
    let called = app.account("Called", json!({})).await;
    let cal = app.contact("Cal", "Called", json!({"account_id": called["id"]})).await;
    buy(&app, &called, line.clone(), 200).await;
    app.interaction(&cal, json!({"account_id": called["id"], "occurred_at": days_ago(10)})).await;
    // Bought 10 days ago: not dormant.
    let fresh = app.account("Fresh", json!({})).await;
    buy(&app, &fresh, line.clone(), 10).await;
    // A person buying without an account, 400 days ago: dormant.
    let solo = app.contact("Solo", "Buyer", json!({})).await;
    app.created("/api/v1/purchases", json!({"contact_id": solo["id"], "ordered_at": days_ago(400), "lines": line}))
        .await;
    refresh(&app, json!({})).await;

    let page = app.get("/api/v1/analytics/customers?dormant=true&sort=recency_days").await.expect(200);
    let ids: Vec<Value> = page["data"].as_array().unwrap().iter().map(|x| x["customer_id"].clone()).collect();
    assert_eq!(ids, vec![sleepy["id"].clone(), solo["id"].clone()]);
    let c = app.get(&format!("/api/v1/accounts/{}/analytics", s(&called["id"]))).await.expect(200);
    assert_eq!((c["dormant"].as_bool(), c["last_interaction_at"].is_string()), (Some(false), true), "{c}");

    // Campaign segments reach them: a contact through its account's analysis, or its own.
    let preview = |criteria: &str| {
        let app = &app;
        let body = json!({"criteria": criteria});
        async move {
            let p = app.post("/api/v1/segments/preview?limit=100", body).await.expect(200);
            let mut ids: Vec<String> = p["data"].as_array().unwrap().iter().map(|c| s(&c["id"]).to_string()).collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(preview("account_analytics(dormant[eq]:true)").await, vec![s(&sam["id"]).to_string()]);
    assert_eq!(preview("analytics(dormant[eq]:true)").await, vec![s(&solo["id"]).to_string()]);
    let mut both = vec![s(&sam["id"]).to_string(), s(&solo["id"]).to_string()];
    both.sort();
    assert_eq!(preview("or(analytics(dormant[eq]:true),account_analytics(dormant[eq]:true))").await, both);
    assert_eq!(preview("account_analytics(segment[eq]:champions,dormant[eq]:true)").await, Vec::<String>::new());
}

#[actix_web::test]
async fn the_voice_of_the_customer_counts_cases_csat_and_nps_by_hand() {
    let app = spawn().await;
    let v = app.account("Vox", json!({})).await;
    let ann = app.contact("Ann", "Vox", json!({"account_id": v["id"]})).await;
    app.case("Broken", json!({"account_id": v["id"], "type": "complaint", "priority": "high"})).await;
    for (subject, kind, priority, csat) in [("How?", "question", "low", 4), ("Down", "incident", "high", 2)] {
        let c = app
            .case(subject, json!({"account_id": v["id"], "type": kind, "priority": priority, "satisfaction": csat}))
            .await;
        app.patch(&format!("/api/v1/cases/{}", s(&c["id"])), json!({"status": "resolved"})).await.expect(200);
    }
    // NPS answers: 10, 9, 8 now; 3 forty days ago.
    for (nps, days) in [(10, 0), (9, 0), (8, 0), (3, 40)] {
        app.interaction(&ann, json!({"account_id": v["id"], "nps": nps, "occurred_at": days_ago(days)})).await;
    }
    let bad = app.post("/api/v1/interactions", json!({"type": "call", "contact_ids": [ann["id"]], "nps": 11})).await;
    assert_eq!((bad.status.as_u16(), bad.body["errors"][0]["field"].clone()), (422, json!("nps")));

    let r = app.get(&format!("/api/v1/accounts/{}/voice", s(&v["id"]))).await.expect(200);
    assert_eq!((r["cases"].as_i64(), r["open_cases"].as_i64()), (Some(3), Some(1)));
    assert_eq!((r["complaints"].as_i64(), r["open_complaints"].as_i64()), (Some(1), Some(1)));
    assert_eq!(
        r["by_priority"],
        json!([{"key": "high", "total": 2, "open": 1}, {"key": "low", "total": 1, "open": 0}])
    );
    assert_eq!(r["by_type"].as_array().unwrap().len(), 3);
    // CSAT (4 + 2) / 2 = 3; NPS: 2 promoters, 1 passive, 1 detractor of 4: (2 − 1) / 4 × 100 = 25.
    assert_eq!(r["csat"], json!({"responses": 2, "average": 3.0}));
    assert_eq!(r["nps"], json!({"responses": 4, "promoters": 2, "passives": 1, "detractors": 1, "score": 25.0}));
    // Per month: this one has the three cases and the answers 10, 9, 8 (NPS (2 − 0) / 3 × 100);
    // the one forty days back, the answer 3 (−100).
    let months = r["months"].as_array().unwrap();
    assert_eq!(months.len(), 12);
    let this = &months[11];
    assert_eq!((this["cases"].as_i64(), this["complaints"].as_i64()), (Some(3), Some(1)));
    assert!((this["nps"]["score"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9);
    let back = (chrono::Utc::now() - chrono::Duration::days(40)).format("%Y-%m").to_string();
    let earlier = months.iter().find(|m| m["month"] == back.as_str()).unwrap();
    assert_eq!(earlier["nps"]["score"], -100.0);
    // The contact's own voice: the answers it took part in, no cases of its own.
    let r = app.get(&format!("/api/v1/contacts/{}/voice", s(&ann["id"]))).await.expect(200);
    assert_eq!((r["cases"].as_i64(), r["nps"]["responses"].as_i64()), (Some(0), Some(4)));
}

#[actix_web::test]
async fn web_activity_is_linked_on_identification_and_counts_in_the_analysis() {
    let app = spawn().await;
    let p = app.product("P", json!({"list_price": money(1000, "USD")})).await;
    let shop = app.account("Webshop", json!({})).await;
    let wes = app.contact("Wes", "Web", json!({"account_id": shop["id"], "email": "wes@web.example"})).await;
    buy(&app, &shop, json!([{"product_id": p["id"], "quantity": 1}]), 200).await;
    let site = token(&app.keys, "website", &[], &["web:track"]);
    let post = |path: &'static str, body: Value, t: &str| {
        let app = &app;
        let t = t.to_string();
        async move { app.call(Method::POST, path, Some(&t), Some(body), &[]).await }
    };
    let ev = |visitor: &str, kind: &str, days: i64| json!({"visitor_id": visitor, "kind": kind, "url": "https://shop.example/pricing", "occurred_at": days_ago(days)});
    // An anonymous visitor: six events in the last 90 days, two in the 90 before.
    let mut events: Vec<Value> = (0..5).map(|d| ev("v-1", "page_view", d + 1)).collect();
    events.push(ev("v-1", "download", 3));
    events.extend([ev("v-1", "page_view", 120), ev("v-1", "form_view", 150)]);
    let r = post("/api/v1/web/events", json!({"events": events}), &site).await;
    assert_eq!((r.status.as_u16(), r.body["accepted"].as_i64()), (200, Some(8)), "{}", r.body);
    // Bad events: all refused, each named.
    let bad =
        json!({"events": [ev("v 1", "page_view", 0), {"visitor_id": "v-2", "kind": "page_view", "url": "ftp://x"}]});
    let r = post("/api/v1/web/events", bad, &site).await;
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| s(&e["field"])).collect();
    assert_eq!((r.status.as_u16(), fields), (422, vec!["events[0].visitor_id", "events[1].url"]));
    // Only web:track sends.
    let r = post("/api/v1/web/events", json!({"events": [ev("v-3", "page_view", 0)]}), &app.token(&["sales"])).await;
    assert_eq!(r.status.as_u16(), 403);

    // Not identified yet: the contact has no web activity.
    let path = format!("/api/v1/contacts/{}/web-activity", s(&wes["id"]));
    assert_eq!(app.get(&path).await.expect(200)["all"], json!({"page_views": 0, "downloads": 0, "form_views": 0}));
    // Identified (a login): its past events become Wes's.
    let r = post("/api/v1/web/identify", json!({"visitor_id": "v-1", "contact_id": wes["id"]}), &site).await;
    assert_eq!((r.status.as_u16(), r.body["events"].as_i64()), (200, Some(8)), "{}", r.body);
    let a = app.get(&path).await.expect(200);
    assert_eq!(
        (a["visitors"].as_i64(), a["all"].clone()),
        (Some(1), json!({"page_views": 6, "downloads": 1, "form_views": 1}))
    );
    assert_eq!(a["last_30_days"], json!({"page_views": 5, "downloads": 1, "form_views": 0}));
    assert_eq!(a["recent"].as_array().unwrap().len(), 8);

    // Fay's visitor, identified by its events: six visits 100 to 105 days ago, one yesterday.
    let fading = app.account("Fading", json!({})).await;
    let fay = app.contact("Fay", "Fading", json!({"account_id": fading["id"]})).await;
    buy(&app, &fading, json!([{"product_id": p["id"], "quantity": 1}]), 200).await;
    let mut events: Vec<Value> = (100..106).map(|d| ev("v-9", "page_view", d)).collect();
    events.push(ev("v-9", "page_view", 1));
    for e in &mut events {
        e["contact_id"] = fay["id"].clone();
    }
    post("/api/v1/web/events", json!({"events": events}), &site).await.expect(200);

    // The account's analysis counts its contacts' events: 6 in the last 90 days, 2 before.
    refresh(&app, json!({})).await;
    let x = app.get(&format!("/api/v1/accounts/{}/analytics", s(&shop["id"]))).await.expect(200);
    assert_eq!(x["web"]["recent"], json!({"page_views": 5, "downloads": 1, "form_views": 0}));
    assert_eq!(x["web"]["before"], json!({"page_views": 1, "downloads": 0, "form_views": 1}));
    // 6 ≥ 5 and more than before: an interest to follow up (55).
    let nba = app.get(&format!("/api/v1/accounts/{}/next-best-actions", s(&shop["id"]))).await.expect(200);
    assert_eq!(nba["actions"][0]["action"], "follow_up_interest", "{nba}");
    assert_eq!(nba["actions"][0]["score"], 55.0);
    // Segment criteria reach it.
    let p = app
        .post("/api/v1/segments/preview", json!({"criteria": "account_analytics(web_events_recent[gte]:6)"}))
        .await
        .expect(200);
    assert_eq!(p["data"][0]["id"], wes["id"]);
    // Fading: 1 event against 6 (≥ 5), down more than half: a drift reason.
    let f = app.get(&format!("/api/v1/accounts/{}/analytics", s(&fading["id"]))).await.expect(200);
    let web_drop = f["drift"].as_array().unwrap().iter().find(|d| d["code"] == "web_drop").cloned().unwrap();
    assert_eq!((web_drop["value"].as_f64(), web_drop["reference"].as_f64()), (Some(1.0), Some(6.0)));
    // A retention of 2 days keeps only yesterday's events (each refresh deletes the older).
    app.call(Method::PUT, "/api/v1/analytics/settings", Some(&app.admin), Some(json!({"web_retention_days": 2})), &[])
        .await
        .expect(200);
    refresh(&app, json!({})).await;
    let a = app.get(&path).await.expect(200);
    assert_eq!(a["all"]["page_views"], 1, "only the page view of yesterday is kept: {a}");
}

#[actix_web::test]
async fn a_spend_trend_reversal_and_a_successor_raise_alerts() {
    let app = spawn().await;
    let rita = app.user("Rita Rep", json!({"subject": "rita", "role": "sales"})).await;
    let q = app.product("Q", json!({"list_price": money(1000, "USD"), "unit_cost": money(0, "USD")})).await;
    let new = app.product("NEW", json!({"list_price": money(0, "USD")})).await;
    let old = app.product("OLD", json!({"list_price": money(0, "USD"), "successor_id": new["id"]})).await;
    let r = app.patch(&format!("/api/v1/products/{}", s(&new["id"])), json!({"successor_id": new["id"]})).await;
    assert_eq!((r.status.as_u16(), r.body["errors"][0]["field"].clone()), (422, json!("successor_id")));
    let t = app.account("Trendy", json!({"owner_id": rita["id"]})).await;
    // Spend per 90-day period, oldest first: 10.00 (day 200, with OLD at 0), 30.00 (day 120),
    // 10.00 (day 30): up by more than 20%, then down by more than 20%.
    buy(&app, &t, json!([{"product_id": q["id"], "quantity": 1}, {"product_id": old["id"], "quantity": 1}]), 200).await;
    buy(&app, &t, json!([{"product_id": q["id"], "quantity": 3}]), 120).await;
    buy(&app, &t, json!([{"product_id": q["id"], "quantity": 1}]), 30).await;
    refresh(&app, json!({})).await;
    let x = app.get(&format!("/api/v1/accounts/{}/analytics", s(&t["id"]))).await.expect(200);
    assert_eq!(
        x["spend"],
        json!({"recent": money(1000, "USD"), "previous": money(3000, "USD"), "earlier": money(1000, "USD")})
    );
    // OLD is replaced by NEW: a switch-sell offer.
    let switch = x["offers"].as_array().unwrap().iter().find(|o| o["kind"] == "switch_sell").cloned().unwrap();
    assert_eq!(
        (switch["product_id"].clone(), s(&switch["reason"])),
        (new["id"].clone(), "buys Product OLD, which Product NEW replaces")
    );

    let alerts = app.get(&format!("/api/v1/alerts?owner={}", s(&rita["id"]))).await.expect(200);
    assert_eq!(kinds(&alerts), vec!["drift", "offer", "trend_reversal"]);
    let find = |k: &str| alerts["data"].as_array().unwrap().iter().find(|a| a["kind"] == k).cloned().unwrap();
    assert_eq!(find("offer")["figures"]["offer_kind"], "switch_sell");
    assert_eq!(
        s(&find("trend_reversal")["reasons"][0]),
        "spent 10.00 USD in the last 90 days after 30.00 USD in the period before, up from 10.00 USD"
    );
}
