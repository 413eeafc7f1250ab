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

/// The score of docs/GEO.md, written out: deals, a close within 14 days, days since the last
/// visit (never: full), nearness.
fn score(open: i64, closes_soon: bool, days: Option<i64>, d: f64, radius: f64) -> f64 {
    let s = 40.0 * open.min(3) as f64 / 3.0
        + if closes_soon { 20.0 } else { 0.0 }
        + days.map_or(30.0, |d| 30.0 * d.min(90) as f64 / 90.0)
        + 10.0 * (1.0 - d / radius);
    (s * 100.0).round() / 100.0
}

#[actix_web::test]
async fn suggestions_rank_the_reps_accounts_within_reach_with_their_reasons() {
    let app = spawn().await;
    let rep = app.user("Field Rep", json!({"email": "rep@example.com"})).await;
    let other = app.user("Other Rep", json!({"email": "other@example.com"})).await;
    let pipeline = app.pipeline("Field", json!({})).await;
    let owned = |p: (f64, f64), owner: &Value| json!({"latitude": p.0, "longitude": p.1, "owner_id": owner["id"]});
    const GANGNAM: (f64, f64) = (37.4979, 127.0276);
    const GWANGHWAMUN: (f64, f64) = (37.5759, 126.9769);
    const MAPO: (f64, f64) = (37.556, 126.91);
    let deals = app.account("Deals", owned(GANGNAM, &rep)).await;
    let soon = (Utc::now() + chrono::Duration::days(7)).date_naive().to_string();
    for n in 0..4 {
        let close = if n == 0 { soon.clone() } else { "2027-06-30".to_string() };
        app.opportunity(&format!("D{n}"), &deals, &pipeline, json!({"expected_close_date": close})).await;
    }
    let visited = app.account("Visited", owned(GWANGHWAMUN, &rep)).await;
    let stale = app.account("Stale", owned(MAPO, &rep)).await;
    app.account("Busan", owned((35.1796, 129.0756), &rep)).await;
    app.account("Not mine", owned((37.56, 126.97), &other)).await;
    let person = app.contact("Met", "Person", json!({})).await;
    for (account, days) in [(&visited, 10), (&stale, 100), (&stale, 120)] {
        let when = (Utc::now() - chrono::Duration::days(days)).to_rfc3339();
        app.interaction(&person, json!({"type": "meeting", "account_id": account["id"], "occurred_at": when})).await;
    }
    // A call is no visit.
    let recent = Utc::now().to_rfc3339();
    app.interaction(&person, json!({"type": "call", "account_id": stale["id"], "occurred_at": recent})).await;

    let radius = 30_000.0;
    let path = format!("/api/v1/routes/suggestions?near=37.5665,126.978,30km&owner_id={}", s(&rep["id"]));
    let got = app.get(&path).await.expect(200);
    let list = got.as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|x| s(&x["name"])).collect();
    assert_eq!(names, vec!["Deals", "Stale", "Visited"], "{got}");
    let d = |p: (f64, f64)| great_circle(START, p);
    let want = [
        score(4, true, None, d(GANGNAM), radius),
        score(0, false, Some(100), d(MAPO), radius),
        score(0, false, Some(10), d(GWANGHWAMUN), radius),
    ];
    for (x, w) in list.iter().zip(want) {
        assert!((x["score"].as_f64().unwrap() - w).abs() < 0.011, "{}: {} against {w}", x["name"], x["score"]);
    }
    assert_eq!(list[0]["open_deals"], 4);
    assert_eq!(s(&list[0]["next_close_date"]), soon);
    let reasons = |x: &Value| x["reasons"].as_array().unwrap().iter().map(|r| s(r).to_string()).collect::<Vec<_>>();
    assert_eq!(
        reasons(&list[0]),
        vec![
            "4 open deals".to_string(),
            format!("a deal closes by {soon}"),
            "never visited".into(),
            format!("{:.1} km away", d(GANGNAM) / 1000.0)
        ]
    );
    assert_eq!(reasons(&list[2])[0], "not visited for 10 days");
    assert!((list[1]["distance_m"].as_f64().unwrap() - d(MAPO)).abs() < 0.01);
    // A limit keeps the best.
    let top = app.get(&format!("{path}&limit=1")).await.expect(200);
    assert_eq!(top.as_array().unwrap().len(), 1);

    // GraphQL, the same ranking.
    let token = app.token(&["admin"]);
    let q = format!(
        r#"{{ visitSuggestions(near: {{latitude: 37.5665, longitude: 126.978, radiusM: 30000}}, ownerId: "{}") {{ name score }} }}"#,
        s(&rep["id"])
    );
    let r = app.gql(&token, &q, json!({})).await;
    let g: Vec<&str> = r["data"]["visitSuggestions"].as_array().unwrap().iter().map(|x| s(&x["name"])).collect();
    assert_eq!(g, names, "{r}");

    // Bad requests say which parameter.
    let r = app.get(&format!("/api/v1/routes/suggestions?near=91,0,5km&owner_id={}", s(&rep["id"]))).await.expect(422);
    assert_eq!(error_fields(&r), vec!["near"]);
    let r = app.get(&format!("/api/v1/routes/suggestions?near=37.5,127,5km&limit=0&owner_id={}", s(&rep["id"]))).await;
    assert_eq!((r.status.as_u16(), s(&r.body["code"])), (400, "INVALID_PARAMETER"), "{}", r.body);
    let r = app.get("/api/v1/routes/suggestions?near=37.5,127,5km").await.expect(422);
    assert_eq!(error_fields(&r), vec!["owner_id"], "the test's admin token is no user");
}

/// An OSRM-compatible table service for the test: roads twice the straight line, driven at
/// 10 m/s; it keeps each request's path and query.
async fn osrm_table(
    req: actix_web::HttpRequest,
    seen: actix_web::web::Data<std::sync::Mutex<Vec<String>>>,
) -> actix_web::HttpResponse {
    seen.lock().unwrap().push(format!("{}?{}", req.path(), req.query_string()));
    let coords = req.path().rsplit('/').next().unwrap_or_default().to_string();
    let points: Vec<(f64, f64)> = coords
        .split(';')
        .map(|c| {
            let (lng, lat) = c.split_once(',').unwrap();
            (lat.parse().unwrap(), lng.parse().unwrap())
        })
        .collect();
    if points.len() > 8 {
        return actix_web::HttpResponse::BadRequest()
            .json(json!({"code": "TooBig", "message": "Too many table coordinates"}));
    }
    let distances: Vec<Vec<f64>> =
        points.iter().map(|a| points.iter().map(|b| 2.0 * great_circle(*a, *b)).collect()).collect();
    let durations: Vec<Vec<f64>> = distances.iter().map(|r| r.iter().map(|d| d / 10.0).collect()).collect();
    actix_web::HttpResponse::Ok().json(json!({"code": "Ok", "distances": distances, "durations": durations}))
}

#[actix_web::test]
async fn a_road_distance_provider_gives_the_plan_its_distances_and_times() {
    let seen = actix_web::web::Data::new(std::sync::Mutex::new(Vec::<String>::new()));
    let data = seen.clone();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().app_data(data.clone()).default_service(actix_web::web::get().to(osrm_table))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://127.0.0.1:{}", server.addrs()[0].port());
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let app = spawn_with(move |s| s.routing = Some((url, "driving".into()))).await;

    let places = [(37.57, 126.983), (37.556, 126.91), (37.4979, 127.0276), (37.5512, 126.9882)];
    let stops: Vec<Value> = places
        .iter()
        .map(|p| json!({"location": {"latitude": p.0, "longitude": p.1}, "duration_minutes": 20}))
        .collect();
    let start_at: DateTime<Utc> = "2026-12-07T00:00:00Z".parse().unwrap();
    let body = json!({"start": {"latitude": START.0, "longitude": START.1}, "start_at": start_at, "stops": stops});
    let plan = app.post("/api/v1/routes/plan", body.clone()).await.expect(200);
    assert_eq!(s(&plan["travel_model"]), "road");
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "one table per plan");
        assert!(
            seen[0].starts_with("/table/v1/driving/126.978000,37.566500;")
                && seen[0].ends_with("annotations=distance,duration"),
            "{}",
            seen[0]
        );
    }
    // Every leg and time is the provider's: twice the straight line, at 10 m/s.
    let (mut from, mut clock, mut total) = (START, start_at, 0.0);
    for v in plan["visits"].as_array().unwrap() {
        let leg = 2.0 * great_circle(from, at(v));
        assert!((v["distance_m"].as_f64().unwrap() - leg).abs() < 0.5, "{v}");
        let arrive = clock + chrono::Duration::milliseconds((leg / 10.0 * 1000.0).round() as i64);
        assert!((t(&v["arrive_at"]) - arrive).num_milliseconds().abs() <= 100, "{v}");
        clock = t(&v["depart_at"]);
        total += leg;
        from = at(v);
    }
    total += 2.0 * great_circle(from, START);
    assert!((plan["total_distance_m"].as_f64().unwrap() - total).abs() < 2.0, "{plan}");
    assert_eq!(plan["visits"].as_array().unwrap().len(), 4);

    // More places than the provider's table takes: the straight-line model, and the plan says so.
    let many: Vec<Value> = (0..9)
        .map(|k| json!({"location": {"latitude": 37.5 + f64::from(k) * 0.01, "longitude": 127.0}, "duration_minutes": 10}))
        .collect();
    let plan = app
        .post(
            "/api/v1/routes/plan",
            json!({"start": {"latitude": START.0, "longitude": START.1}, "start_at": start_at, "stops": many.clone()}),
        )
        .await
        .expect(200);
    assert_eq!(s(&plan["travel_model"]), "straight_line");
    check(&plan, &many, start_at);
    handle.stop(false).await;
}
