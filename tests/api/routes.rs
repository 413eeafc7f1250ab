//! Visit routes: a rep's day planned over accounts and contacts at their locations, every time
//! recomputed here from the distances (an independent formula), windows kept, never longer than
//! the nearest-neighbour order, the stops that cannot fit named with the reason, the same plan
//! for the same input, and the plan accepted as meetings on the rep's agenda.

use awc::http::Method;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::geo::great_circle;
use crate::support::*;

const DETOUR: f64 = 1.3;
const KMH: f64 = 30.0;
const START: (f64, f64) = (37.5665, 126.978);

fn road(a: (f64, f64), b: (f64, f64)) -> f64 {
    great_circle(a, b) * DETOUR
}

fn seconds(m: f64) -> f64 {
    m / (KMH * 1000.0 / 3600.0)
}

fn t(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s(v)).unwrap().with_timezone(&Utc)
}

fn at(v: &Value) -> (f64, f64) {
    (v["latitude"].as_f64().unwrap(), v["longitude"].as_f64().unwrap())
}

/// The nearest-neighbour order's length over `points` from START and back.
fn nearest_neighbour(points: &[(f64, f64)]) -> f64 {
    let (mut left, mut from, mut total) = (points.to_vec(), START, 0.0);
    while !left.is_empty() {
        let k = (0..left.len()).min_by(|a, b| road(from, left[*a]).total_cmp(&road(from, left[*b]))).unwrap();
        let p = left.remove(k);
        total += road(from, p);
        from = p;
    }
    total + road(from, START)
}

/// Checks a plan's times and distances against the independent formula, and every window.
fn check(plan: &Value, stops: &[Value], start_at: DateTime<Utc>) {
    let visits = plan["visits"].as_array().unwrap();
    let (mut from, mut clock, mut total) = (START, start_at, 0.0);
    for v in visits {
        let leg = road(from, at(v));
        assert!((v["distance_m"].as_f64().unwrap() - leg).abs() < 0.01, "{v}");
        total += leg;
        let arrive = clock + chrono::Duration::milliseconds((seconds(leg) * 1000.0).round() as i64);
        assert!((t(&v["arrive_at"]) - arrive).num_milliseconds().abs() <= 2, "{v}");
        let stop = &stops[v["stop"].as_u64().unwrap() as usize];
        let opens = stop.get("earliest").filter(|x| !x.is_null()).map(t);
        let start = opens.map_or(arrive, |o| o.max(arrive));
        assert!((t(&v["start_at"]) - start).num_milliseconds().abs() <= 2, "{v}");
        if let Some(closes) = stop.get("latest").filter(|x| !x.is_null()).map(t) {
            assert!(t(&v["start_at"]) <= closes, "window kept: {v}");
        }
        let minutes = stop.get("duration_minutes").and_then(Value::as_i64).unwrap_or(30);
        assert_eq!(t(&v["depart_at"]) - t(&v["start_at"]), chrono::Duration::minutes(minutes));
        clock = t(&v["depart_at"]);
        from = at(v);
    }
    total += road(from, START);
    assert!((plan["total_distance_m"].as_f64().unwrap() - total).abs() < 0.05, "{plan}");
}

#[actix_web::test]
async fn a_reps_day_is_planned_within_its_windows_and_accepted_onto_the_agenda() {
    let app = spawn().await;
    let ada = app.user("Ada", json!({"subject": "ada", "role": "sales"})).await;
    let place = |name: &'static str, lat: f64, lng: f64| app.account(name, json!({"latitude": lat, "longitude": lng}));
    let jongno = place("Jongno", 37.57, 126.983).await;
    let mapo = place("Mapo", 37.556, 126.91).await;
    let gangnam = place("Gangnam", 37.4979, 127.0276).await;
    let yeouido = place("Yeouido", 37.5219, 126.9245).await;
    let nowhere = app.account("Nowhere", json!({})).await;
    let seongsu = app
        .contact("Su", "Seongsu", json!({"latitude": 37.5446, "longitude": 127.0557, "account_id": jongno["id"]}))
        .await;
    let start_at = "2026-12-07T00:00:00Z";
    let day = t(&json!(start_at));

    // No windows: every located stop, not longer than the nearest-neighbour order.
    let stops: Vec<Value> = [&jongno, &mapo, &gangnam, &yeouido]
        .iter()
        .map(|a| json!({"account_id": a["id"]}))
        .chain([
            json!({"contact_id": seongsu["id"]}),
            json!({"location": {"latitude": 37.5512, "longitude": 126.9882}, "label": "Namsan"}),
        ])
        .collect();
    let body = json!({"start": {"latitude": START.0, "longitude": START.1}, "start_at": start_at, "stops": stops});
    let plan = app.post("/api/v1/routes/plan", body.clone()).await.expect(200);
    assert_eq!(plan["visits"].as_array().unwrap().len(), 6, "{plan}");
    check(&plan, &stops, day);
    let points: Vec<(f64, f64)> = plan["visits"].as_array().unwrap().iter().map(at).collect();
    let nn = nearest_neighbour(&points);
    assert!(plan["total_distance_m"].as_f64().unwrap() <= nn + 0.05, "{} > {nn}", plan["total_distance_m"]);
    assert!((plan["nearest_neighbour_distance_m"].as_f64().unwrap() - nn).abs() < 0.05);
    let labels: Vec<&str> = plan["visits"].as_array().unwrap().iter().map(|v| s(&v["label"])).collect();
    assert!(labels.contains(&"Su Seongsu") && labels.contains(&"Namsan"), "{labels:?}");
    // The same input, the same plan.
    assert_eq!(app.post("/api/v1/routes/plan", body).await.expect(200), plan);

    // Windows: Gangnam opens at 03:00, Mapo closes at 00:20 (reachable first), Yeouido closed
    // at 00:05 (it takes longer to get there even first), and Nowhere has no location.
    let stops = vec![
        json!({"account_id": jongno["id"], "duration_minutes": 45}),
        json!({"account_id": mapo["id"], "latest": "2026-12-07T00:20:00Z"}),
        json!({"account_id": gangnam["id"], "earliest": "2026-12-07T03:00:00Z"}),
        json!({"account_id": yeouido["id"], "latest": "2026-12-07T00:05:00Z"}),
        json!({"account_id": nowhere["id"]}),
        json!({"contact_id": seongsu["id"]}),
    ];
    let body = json!({"start": {"latitude": START.0, "longitude": START.1}, "start_at": start_at,
                      "speed_kmh": KMH, "detour_factor": DETOUR, "stops": stops, "user_id": ada["id"]});
    let plan = app.post("/api/v1/routes/plan", body.clone()).await.expect(200);
    check(&plan, &stops, day);
    let order: Vec<&str> = plan["visits"].as_array().unwrap().iter().map(|v| s(&v["label"])).collect();
    assert_eq!(order[0], "Mapo", "the one whose window closes first: {order:?}");
    let g = plan["visits"].as_array().unwrap().iter().find(|v| v["label"] == "Gangnam").unwrap();
    assert_eq!(s(&g["start_at"]), "2026-12-07T03:00:00Z");
    assert!(g["wait_seconds"].as_i64().unwrap() > 0);
    let unplanned: Vec<(i64, &str)> =
        plan["unplanned"].as_array().unwrap().iter().map(|u| (u["stop"].as_i64().unwrap(), s(&u["reason"]))).collect();
    assert_eq!(unplanned, [(3, "window_unreachable"), (4, "no_location")]);

    // Accepted: one meeting per visit on Ada's agenda, at the visit's start, for the account.
    let ada_token = token(&app.keys, "ada", &["sales"], &[]);
    let accepted =
        app.call(Method::POST, "/api/v1/routes", Some(&ada_token), Some(body.clone()), &[]).await.expect(201);
    assert_eq!(accepted["plan"], plan);
    let activities = accepted["activities"].as_array().unwrap();
    assert_eq!(activities.len(), 4);
    for (a, v) in activities.iter().zip(plan["visits"].as_array().unwrap()) {
        assert_eq!((s(&a["type"]), &a["assignee_id"], &a["due_at"]), ("meeting", &ada["id"], &v["start_at"]));
        assert_eq!(a["subject"], format!("Visit: {}", s(&v["label"])));
    }
    let su = activities.iter().find(|a| a["contact_id"] == seongsu["id"]).unwrap();
    assert_eq!(su["account_id"], jongno["id"], "a contact's visit names its account");
    let agenda = app
        .call(
            Method::GET,
            "/api/v1/activities?assignee=me&due[gte]=2026-12-07&due[lte]=2026-12-07",
            Some(&ada_token),
            None,
            &[],
        )
        .await
        .expect(200);
    assert_eq!(agenda["data"].as_array().unwrap().len(), 4);
    // Accepting needs the right to create activities.
    let reader = app.token(&["readonly"]);
    app.call(Method::POST, "/api/v1/routes", Some(&reader), Some(body), &[]).await.expect(403);

    // GraphQL plans the same.
    let g = app
        .gql(
            &app.admin,
            "query($input: RoutePlanInput!) { planRoute(input: $input) { visits { label startAt } unplanned { stop reason } } }",
            json!({"input": {"start": {"latitude": START.0, "longitude": START.1}, "startAt": start_at,
                             "speedKmh": KMH, "detourFactor": DETOUR,
                             "stops": stops.iter().map(|x| {
                                 let mut o = serde_json::Map::new();
                                 for (k, v) in x.as_object().unwrap() {
                                     let camel = match k.as_str() { "account_id" => "accountId", "contact_id" => "contactId", "duration_minutes" => "durationMinutes", other => other };
                                     o.insert(camel.to_string(), v.clone());
                                 }
                                 Value::Object(o)
                             }).collect::<Vec<_>>()}}),
        )
        .await;
    assert!(g.get("errors").is_none(), "{g}");
    let gl: Vec<&str> = g["data"]["planRoute"]["visits"].as_array().unwrap().iter().map(|v| s(&v["label"])).collect();
    assert_eq!(gl, order);
}

#[actix_web::test]
async fn bad_route_requests_are_refused_with_the_field() {
    let app = spawn().await;
    let base = |stops: Value| json!({"start": {"latitude": 37.5, "longitude": 127.0}, "start_at": "2026-12-07T00:00:00Z", "stops": stops});
    for (body, field) in [
        (base(json!([])), "stops"),
        (base(json!([{}])), "stops[0]"),
        (base(json!([{"location": {"latitude": 91, "longitude": 0}}])), "stops[0].location"),
        (base(json!([{"account_id": uuid::Uuid::now_v7()}])), "stops[0].account_id"),
        (
            base(json!([{"location": {"latitude": 37.5, "longitude": 127.1}, "earliest": "2026-12-07T05:00:00Z",
                         "latest": "2026-12-07T04:00:00Z"}])),
            "stops[0].latest",
        ),
        (
            base(json!([{"location": {"latitude": 37.5, "longitude": 127.1}, "duration_minutes": 721}])),
            "stops[0].duration_minutes",
        ),
    ] {
        let r = app.post("/api/v1/routes/plan", body.clone()).await.expect(422);
        assert_eq!(error_fields(&r), vec![field], "{body}");
    }
    let mut b = base(json!([{"location": {"latitude": 37.5, "longitude": 127.1}}]));
    b["speed_kmh"] = json!(0);
    assert_eq!(error_fields(&app.post("/api/v1/routes/plan", b).await.expect(422)), vec!["speed_kmh"]);
    let mut b = base(json!([{"location": {"latitude": 37.5, "longitude": 127.1}}]));
    b["end_by"] = json!("2026-12-06T23:00:00Z");
    assert_eq!(error_fields(&app.post("/api/v1/routes/plan", b).await.expect(422)), vec!["end_by"]);
    let too_many: Vec<Value> =
        (0..201).map(|i| json!({"location": {"latitude": 37.5, "longitude": 127.0 + f64::from(i) / 1000.0}})).collect();
    assert_eq!(error_fields(&app.post("/api/v1/routes/plan", base(json!(too_many))).await.expect(422)), vec!["stops"]);
}
