//! Locations you can query: radius and box searches on every list of located records
//! (accounts, contacts, leads), combined with the rest of the filter language, with each
//! record's distance, nearest first, across keyset pages; in REST, GraphQL and segments.
//! Distances are checked against a formula the server does not use (the spherical law of
//! cosines in its atan2 form), on the same sphere.

use serde_json::{Value, json};

use crate::support::*;

/// The mean earth radius the server's distances use.
pub(crate) const R: f64 = 6_371_008.8;

/// The great-circle distance by the atan2 form of the spherical law of cosines (Vincenty's
/// formula on a sphere), an independent check of the server's haversine.
pub(crate) fn great_circle(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let dl = (b.1 - a.1).to_radians();
    let y = ((p2.cos() * dl.sin()).powi(2) + (p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos()).powi(2)).sqrt();
    let x = p1.sin() * p2.sin() + p1.cos() * p2.cos() * dl.cos();
    R * y.atan2(x)
}

const CITY_HALL: (f64, f64) = (37.5665, 126.978);
const PLACES: &[(&str, f64, f64)] = &[
    ("CityHall", 37.5665, 126.978),
    ("Gwanghwamun", 37.5759, 126.9769),
    ("Gangnam", 37.4979, 127.0276),
    ("Incheon", 37.4602, 126.4407),
    ("Busan", 35.1796, 129.0756),
    ("Tokyo", 35.6762, 139.6503),
    ("Fiji", -17.7134, 178.065),
    ("Samoa", -13.759, -172.1046),
];

fn names(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|c| s(&c["last_name"]).to_string()).collect()
}

async fn people(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, (name, lat, lng)) in PLACES.iter().enumerate() {
        let tags = if i % 2 == 0 { json!(["vip"]) } else { json!([]) };
        out.push(app.contact("At", name, json!({"latitude": lat, "longitude": lng, "tags": tags})).await);
    }
    out.push(app.contact("No", "Where", json!({"tags": ["vip"]})).await);
    out
}

/// The places within `radius` of `from`, nearest first, by the independent formula.
fn expected_near(from: (f64, f64), radius: f64) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = PLACES
        .iter()
        .map(|(n, lat, lng)| (n.to_string(), great_circle(from, (*lat, *lng))))
        .filter(|(_, d)| *d <= radius)
        .collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1));
    v
}

#[actix_web::test]
async fn radius_and_box_searches_match_a_brute_force_scan_with_each_distance() {
    let app = spawn().await;
    people(&app).await;

    // Within 50 km of Seoul City Hall, nearest first: the same set and order as a scan of every
    // place with the independent formula, each distance to the centimetre.
    for radius in [500.0, 10_000.0, 50_000.0, 400_000.0] {
        let page = app
            .get(&format!("/api/v1/contacts?near=37.5665,126.978,{radius}m&sort=distance&limit=100"))
            .await
            .expect(200);
        let want = expected_near(CITY_HALL, radius);
        assert_eq!(names(&page), want.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(), "within {radius} m");
        for (c, (_, d)) in page["data"].as_array().unwrap().iter().zip(&want) {
            let got = c["distance_m"].as_f64().unwrap();
            assert!((got - d).abs() < 0.01, "{}: {got} against {d}", c["last_name"]);
        }
    }
    // By hand: Gwanghwamun is 0.0094° north and 0.0011° west of City Hall: about 1,050 m.
    let page = app.get("/api/v1/contacts?near=37.5665,126.978,2km&sort=distance").await.expect(200);
    let d = page["data"][1]["distance_m"].as_f64().unwrap();
    assert!((1040.0..1060.0).contains(&d), "{d}");
    // One degree of longitude on the equator is R × π / 180 = 111,195.08 m.
    let far = app.contact("Equator", "Zero", json!({"latitude": 0.0, "longitude": 1.0})).await;
    let page = app.get("/api/v1/contacts?near=0,0,200km").await.expect(200);
    assert_eq!(page["data"][0]["id"], far["id"]);
    assert!((page["data"][0]["distance_m"].as_f64().unwrap() - 111_195.08).abs() < 0.01);
    app.delete(&format!("/api/v1/contacts/{}", s(&far["id"]))).await.expect(204);

    // Pages of one, by cursor: the same order, nobody twice.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get(&format!("/api/v1/contacts?near=37.5665,126.978,400km&sort=distance&limit=1{cursor}"))
            .await
            .expect(200);
        seen.extend(names(&page));
        assert!(seen.len() <= PLACES.len(), "the pages do not end: {seen:?} {page}");
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["CityHall", "Gwanghwamun", "Gangnam", "Incheon", "Busan"]);
    // A cursor measured from one point does not continue a list measured from another.
    let first = app.get("/api/v1/contacts?near=37.5665,126.978,400km&sort=distance&limit=1").await.expect(200);
    let r = app
        .get(&format!(
            "/api/v1/contacts?near=35.1796,129.0756,400km&sort=distance&limit=1&cursor={}",
            s(&first["next_cursor"])
        ))
        .await
        .expect(400);
    assert_eq!(r["code"], "INVALID_CURSOR");

    // With the rest of the grammar: the VIPs (every other place) within 400 km, by name, with a
    // count; and the same condition written in `filter=`.
    let page = app
        .get("/api/v1/contacts?near=37.5665,126.978,400km&filter=tags[eq]:vip&sort=last_name&count=true")
        .await
        .expect(200);
    assert_eq!(names(&page), ["Busan", "CityHall", "Gangnam"]);
    assert_eq!(page["total"], 3);
    assert!(page["data"][0]["distance_m"].as_f64().unwrap() > 300_000.0, "the distance comes with any sort");
    let same = app
        .get("/api/v1/contacts?filter=and(tags[eq]:vip,location[near]:[37.5665,126.978,400km])&sort=last_name")
        .await
        .expect(200);
    assert_eq!(names(&same), ["Busan", "CityHall", "Gangnam"]);
    // Without a location condition there is no distance.
    let plain = app.get("/api/v1/contacts?filter=last_name[eq]:CityHall").await.expect(200);
    assert!(plain["data"][0].get("distance_m").is_none());

    // A box, and one across the antimeridian.
    let page = app.get("/api/v1/contacts?bbox=37.4,126.9,37.6,127.1&sort=last_name").await.expect(200);
    assert_eq!(names(&page), ["CityHall", "Gangnam", "Gwanghwamun"]);
    let page = app.get("/api/v1/contacts?bbox=-20,170,-10,-170&sort=last_name").await.expect(200);
    assert_eq!(names(&page), ["Fiji", "Samoa"]);
    let page = app.get("/api/v1/contacts?filter=not(location[bbox]:[-90,-180,0,180])&sort=last_name").await.expect(200);
    assert_eq!(
        names(&page),
        ["Busan", "CityHall", "Gangnam", "Gwanghwamun", "Incheon", "Tokyo", "Where"],
        "`not` keeps the records without a location, as with any field"
    );
}

#[actix_web::test]
async fn locations_follow_relations_and_serve_leads_segments_and_graphql() {
    let app = spawn().await;
    let busan = app.account("Busan Port", json!({"latitude": 35.1028, "longitude": 129.0403})).await;
    let seoul = app.account("Seoul Tower", json!({"latitude": 37.5512, "longitude": 126.9882})).await;
    let b = app.contact("Bo", "Busan", json!({"account_id": busan["id"]})).await;
    app.contact("So", "Seoul", json!({"account_id": seoul["id"]})).await;
    // Contacts whose account is within 20 km of Busan station.
    let page = app.get("/api/v1/contacts?filter=account.location[near]:[35.1151,129.0422,20km]").await.expect(200);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["id"], b["id"]);
    // Accounts nearest first, with their distances (independent formula).
    let page = app.get("/api/v1/accounts?near=35.1151,129.0422,500km&sort=distance").await.expect(200);
    let got: Vec<&str> = page["data"].as_array().unwrap().iter().map(|a| s(&a["name"])).collect();
    assert_eq!(got, ["Busan Port", "Seoul Tower"]);
    let d = page["data"][1]["distance_m"].as_f64().unwrap();
    assert!((d - great_circle((35.1151, 129.0422), (37.5512, 126.9882))).abs() < 0.01, "{d}");

    // Leads carry coordinates, are searched the same way, and hand them on when converted.
    let lead = app
        .created(
            "/api/v1/leads",
            json!({"last_name": "Near", "company": "Haeundae Surf", "latitude": 35.1587, "longitude": 129.1604}),
        )
        .await;
    app.created("/api/v1/leads", json!({"last_name": "Far", "company": "Elsewhere"})).await;
    let page = app.get("/api/v1/leads?near=35.1151,129.0422,20km&sort=distance").await.expect(200);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["id"], lead["id"]);
    let converted = app.post(&format!("/api/v1/leads/{}/convert", s(&lead["id"])), json!({})).await.expect(200);
    let contact = app.get(&format!("/api/v1/contacts/{}", s(&converted["contact_id"]))).await.expect(200);
    assert_eq!((contact["latitude"].as_f64(), contact["longitude"].as_f64()), (Some(35.1587), Some(129.1604)));

    // A segment is a saved criterion in the same grammar: everyone within 30 km of Seoul.
    let preview = app
        .post("/api/v1/segments/preview", json!({"criteria": "account.location[near]:[37.5665,126.978,30km]"}))
        .await;
    assert_eq!(preview.expect(200)["count"], 1);

    // GraphQL: typed `where.location`, `orderBy: DISTANCE`, `distanceM` on the nodes (the
    // conversion made an account at the lead's place, in Haeundae, 11.7 km away).
    let q = "query { accounts(where: {location: {near: {latitude: 35.1151, longitude: 129.0422, radiusM: 500000}}},
                              orderBy: [{field: DISTANCE}]) { nodes { name distanceM } } }";
    let g = app.gql(&app.admin, q, json!({})).await;
    assert!(g.get("errors").is_none(), "{g}");
    let nodes = g["data"]["accounts"]["nodes"].as_array().unwrap();
    let got: Vec<&str> = nodes.iter().map(|n| s(&n["name"])).collect();
    assert_eq!(got, ["Busan Port", "Haeundae Surf", "Seoul Tower"]);
    assert!((nodes[2]["distanceM"].as_f64().unwrap() - d).abs() < 1e-6, "the same distance as REST");
    let g = app
        .gql(
            &app.admin,
            "{ contacts(where: {location: {bbox: {south: 35, west: 128, north: 36, east: 130}}}) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert!(g.get("errors").is_none(), "{g}");
    assert_eq!(
        g["data"]["contacts"]["nodes"].as_array().unwrap().len(),
        1,
        "the converted lead's contact; Bo has no location of his own"
    );
    let g = app.gql(&app.admin, "{ cases(orderBy: [{field: DISTANCE}]) { nodes { id } } }", json!({})).await;
    assert!(g.get("errors").is_some(), "cases have no location: {g}");
}

#[actix_web::test]
async fn bad_locations_and_location_queries_are_refused_with_the_reason() {
    let app = spawn().await;
    // A point needs both coordinates, each in range.
    let r = app.post("/api/v1/contacts", json!({"last_name": "Half", "latitude": 37.5})).await.expect(422);
    assert_eq!(error_fields(&r), vec!["longitude"]);
    let r = app.post("/api/v1/accounts", json!({"name": "Off", "latitude": 91.0, "longitude": 0.0})).await.expect(422);
    assert_eq!(error_fields(&r), vec!["latitude"]);
    let r =
        app.post("/api/v1/leads", json!({"last_name": "Off", "latitude": 10.0, "longitude": -181.0})).await.expect(422);
    assert_eq!(error_fields(&r), vec!["longitude"]);

    // A record saved with one coordinate before the pair rule stays writable while its
    // coordinates are left alone; changing them needs both.
    let legacy = app.contact("Legacy", "Half", json!({"latitude": 37.5, "longitude": 127.0})).await;
    let id = s(&legacy["id"]).to_string();
    let db = app.db.clone();
    actix_web::rt::task::spawn_blocking(move || {
        db.run_sync(|c| {
            use diesel::RunQueryDsl;
            let sql = format!("UPDATE contacts SET longitude = NULL WHERE id = '{id}'");
            diesel::sql_query(sql).execute(c).map_err(crm_db::DbError::from)
        })
        .unwrap()
    })
    .await
    .unwrap();
    let path = format!("/api/v1/contacts/{}", s(&legacy["id"]));
    app.patch(&path, json!({"title": "Still writable"})).await.expect(200);
    let r = app.patch(&path, json!({"latitude": 37.6})).await.expect(422);
    assert_eq!(error_fields(&r), vec!["longitude"]);

    for (query, field, code) in [
        ("near=91,0,5km", "location", "invalid_value"),
        ("near=37.5,126.9", "location", "invalid_value"),
        ("near=37.5,126.9,-5km", "location", "invalid_value"),
        ("near=37.5,126.9,five", "location", "invalid_value"),
        ("bbox=39,124,33,132", "location", "invalid_value"),
        ("filter=location[eq]:x", "location", "unsupported_operator"),
        ("filter=city[near]:[1,2,3km]", "city", "unsupported_operator"),
        ("sort=distance", "sort", "origin_required"),
        ("sort=distance&filter=or(location[near]:[1,2,3km],city[eq]:Seoul)", "sort", "origin_required"),
    ] {
        let r = app.get(&format!("/api/v1/contacts?{query}")).await.expect(400);
        let e = &r["errors"][0];
        assert_eq!((s(&e["field"]), s(&e["code"])), (field, code), "{query}: {r}");
    }
    // Records without a location have no location to search.
    let r = app.get("/api/v1/cases?filter=location[near]:[37.5,126.9,5km]").await.expect(400);
    assert_eq!(r["errors"][0]["code"], "unknown_field");
    let r = app.get("/api/v1/cases?near=37.5,126.9,5km").await.expect(400);
    assert_eq!(r["status"], 400, "not a parameter of cases: {r}");
}
