//! Records located from their address in the offline gazetteer: the demo gazetteer a new
//! database starts with, where each location comes from and how precise it is, the rules of
//! which write moves a location, and coordinates that contradict the record's country.
//! Expected coordinates are those of the gazetteer's rows (crates/geo/data), written out here.

use serde_json::{Value, json};

use crate::support::*;

fn at(r: &Value) -> (Option<f64>, Option<f64>, String, String) {
    (
        r["latitude"].as_f64(),
        r["longitude"].as_f64(),
        r["location_source"].as_str().unwrap_or("-").to_string(),
        r["location_accuracy"].as_str().unwrap_or("-").to_string(),
    )
}

fn located(lat: f64, lng: f64, source: &str, accuracy: &str) -> (Option<f64>, Option<f64>, String, String) {
    (Some(lat), Some(lng), source.to_string(), accuracy.to_string())
}

#[actix_web::test]
async fn addresses_are_located_by_postal_code_then_city_and_say_when_they_cannot_be() {
    let app = spawn().await;
    // A city, found by an alternate name, in its country.
    let a = app.account("Hanbit", json!({"city": "서울특별시", "country": "KR"})).await;
    assert_eq!(at(&a), located(37.5665, 126.978, "geocoded", "city"));
    // The postal code wins over the city: more precise (Gangnam-gu, not the city centre).
    let c = app.contact("Min", "Kim", json!({"city": "Seoul", "postal_code": "06164", "country": "KR"})).await;
    assert_eq!(at(&c), located(37.5116, 127.0593, "geocoded", "postal_code"));
    // A British full postcode falls back to its outward code; a Japanese one is found with or
    // without its dash; a US ZIP+4 by its ZIP.
    let c = app.contact("Jo", "Bloggs", json!({"postal_code": "sw1a 1aa", "country": "GB"})).await;
    assert_eq!(at(&c), located(51.501, -0.1416, "geocoded", "postal_code"));
    let c = app.contact("Taro", "Yamada", json!({"postal_code": "1000001", "country": "JP"})).await;
    assert_eq!(at(&c), located(35.685, 139.7528, "geocoded", "postal_code"));
    let c = app.contact("Ann", "Lee", json!({"postal_code": "10001-1234", "country": "US", "city": "Nowhere"})).await;
    assert_eq!(at(&c), located(40.7506, -73.9972, "geocoded", "postal_code"));
    // An unknown postal code falls back to the city.
    let c = app.contact("Hans", "Müller", json!({"postal_code": "99999", "city": "München", "country": "DE"})).await;
    assert_eq!(at(&c), located(48.1351, 11.582, "geocoded", "city"));
    // Two cities of one name: the region decides, else the more populous.
    let l = app.lead("Park", json!({"city": "Gwangju", "region": "Gyeonggi-do", "country": "KR"})).await;
    assert_eq!(at(&l), located(37.4095, 127.255, "geocoded", "city"));
    let l = app.lead("Choi", json!({"city": "Gwangju", "country": "KR"})).await;
    assert_eq!(at(&l), located(35.1595, 126.8526, "geocoded", "city"));
    let a = app.account("Maine Co", json!({"city": "Portland", "region": "ME", "country": "US"})).await;
    assert_eq!(at(&a), located(43.6591, -70.2568, "geocoded", "city"));

    // An address that matches nothing keeps working, without coordinates, and says so.
    let a = app.account("Atlantis Ltd", json!({"city": "Atlantis", "country": "GR"})).await;
    assert_eq!(at(&a), (None, None, "unresolved".into(), "-".into()));
    // So does a city without a country (a name alone is ambiguous: Springfield).
    let a = app.account("Somewhere Inc", json!({"city": "Springfield"})).await;
    assert_eq!(at(&a), (None, None, "unresolved".into(), "-".into()));
    // No address, no location, nothing to say.
    let a = app.account("Nowhere Inc", json!({})).await;
    assert_eq!(at(&a), (None, None, "-".into(), "-".into()));

    // Lists filter on both: the records the gazetteer could not place, to fix by hand.
    let page = app.get("/api/v1/accounts?filter=location_source[eq]:unresolved&sort=name").await.expect(200);
    let names: Vec<&str> = page["data"].as_array().unwrap().iter().map(|a| s(&a["name"])).collect();
    assert_eq!(names, vec!["Atlantis Ltd", "Somewhere Inc"]);

    // The same over GraphQL.
    let token = app.token(&["admin"]);
    let r = app
        .gql(
            &token,
            r#"{ accounts(where: {name: {eq: "Hanbit"}}) { nodes { latitude locationSource locationAccuracy } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        r["data"]["accounts"]["nodes"][0],
        json!({"latitude": 37.5665, "locationSource": "GEOCODED", "locationAccuracy": "CITY"}),
        "{r}"
    );
}

#[actix_web::test]
async fn a_location_moves_with_its_address_or_with_coordinates_the_client_sends() {
    let app = spawn().await;
    let a = app.account("Blue Systems", json!({"city": "Busan", "country": "KR"})).await;
    let path = format!("/api/v1/accounts/{}", s(&a["id"]));
    assert_eq!(at(&a), located(35.1796, 129.0756, "geocoded", "city"));

    // An edit that leaves the address alone leaves the location alone.
    let a = app.patch(&path, json!({"industry": "logistics"})).await.expect(200);
    assert_eq!(at(&a), located(35.1796, 129.0756, "geocoded", "city"));
    // A new address is located again.
    let a = app.patch(&path, json!({"city": "Daegu"})).await.expect(200);
    assert_eq!(at(&a), located(35.8714, 128.6014, "geocoded", "city"));
    // A pin a person placed: the stated source and rooftop accuracy by default.
    let a = app
        .patch(&path, json!({"latitude": 35.8700, "longitude": 128.5950, "location_source": "manual"}))
        .await
        .expect(200);
    assert_eq!(at(&a), located(35.87, 128.595, "manual", "rooftop"));
    // It survives edits that do not touch the address…
    let a = app.patch(&path, json!({"street": null, "tags": ["hq"]})).await.expect(200);
    assert_eq!(at(&a), located(35.87, 128.595, "manual", "rooftop"));
    // …and the labels can be corrected alone.
    let a = app.patch(&path, json!({"location_accuracy": "postal_code"})).await.expect(200);
    assert_eq!(at(&a), located(35.87, 128.595, "manual", "postal_code"));
    // A move to another address replaces it (the pin was of the old address), unless the same
    // write places a new pin.
    let a = app.patch(&path, json!({"city": "Ulsan"})).await.expect(200);
    assert_eq!(at(&a), located(35.5384, 129.3114, "geocoded", "city"));
    let a = app.patch(&path, json!({"city": "Incheon", "latitude": 37.47, "longitude": 126.62})).await.expect(200);
    assert_eq!(at(&a), located(37.47, 126.62, "given", "rooftop"));
    // Removing the coordinates falls back to the address.
    let a = app.patch(&path, json!({"latitude": null, "longitude": null})).await.expect(200);
    assert_eq!(at(&a), located(37.4563, 126.7052, "geocoded", "city"));

    // A converted lead hands its address and location, with their source, to what it creates.
    let lead = app.lead("Kang", json!({"company": "Kang Foods", "city": "Osaka", "country": "JP"})).await;
    assert_eq!(at(&lead), located(34.6937, 135.5023, "geocoded", "city"));
    let conv = app.post(&format!("/api/v1/leads/{}/convert", s(&lead["id"])), json!({})).await.expect(200);
    for key in ["account", "contact"] {
        let id = s(&conv[format!("{key}_id").as_str()]);
        let r = app.get(&format!("/api/v1/{key}s/{id}")).await.expect(200);
        assert_eq!(at(&r), located(34.6937, 135.5023, "geocoded", "city"), "{key}");
        assert_eq!(s(&r["city"]), "Osaka", "{key}");
    }
}

#[actix_web::test]
async fn coordinates_that_contradict_the_country_or_claim_to_be_unresolved_are_refused() {
    let app = spawn().await;
    // Tokyo's coordinates on a Korean record.
    let r = app
        .post("/api/v1/accounts", json!({"name": "Wrong", "country": "KR", "latitude": 35.6762, "longitude": 139.6503}))
        .await
        .expect(422);
    assert_eq!(error_fields(&r), vec!["latitude"]);
    assert_eq!(s(&r["errors"][0]["code"]), "country_mismatch", "{r}");
    assert!(s(&r["errors"][0]["message"]).contains("JP"), "{r}");
    // At sea (off Busan's coast, beyond the simplified coastline) contradicts no country.
    app.post("/api/v1/accounts", json!({"name": "Pier", "country": "KR", "latitude": 35.05, "longitude": 129.2}))
        .await
        .expect(201);
    // A change of country that the stored pin contradicts, with the pin resent.
    let c = app.contact("Pin", "Seoul", json!({"country": "KR", "latitude": 37.5665, "longitude": 126.978})).await;
    let path = format!("/api/v1/contacts/{}", s(&c["id"]));
    let r = app.patch(&path, json!({"country": "DE", "latitude": 37.5666, "longitude": 126.978})).await.expect(422);
    assert_eq!(s(&r["errors"][0]["code"]), "country_mismatch", "{r}");
    // Without the pin, the new address is located instead: a country alone places nothing.
    let c = app.patch(&path, json!({"country": "DE"})).await.expect(200);
    assert_eq!(at(&c), (None, None, "-".into(), "-".into()));
    // `unresolved` is the server's word.
    let r = app
        .post(
            "/api/v1/contacts",
            json!({"last_name": "X", "latitude": 1.0, "longitude": 1.0, "location_source": "unresolved"}),
        )
        .await
        .expect(422);
    assert_eq!(error_fields(&r), vec!["location_source"]);
}

#[actix_web::test]
async fn territories_drawn_as_regions_assign_the_leads_they_hold() {
    let app = spawn().await;
    let t = app
        .call(
            awc::http::Method::PUT,
            "/api/v1/territories",
            Some(&app.admin),
            Some(json!({"territories": [
                {"name": "Busan metro", "near": {"latitude": 35.1796, "longitude": 129.0756, "radius_m": 30000}},
                {"name": "Seoul south", "country": "KR", "postal_prefixes": ["06", "07"]},
                {"name": "Tokyo bay", "country": "jp", "cities": ["Tokyo", " 横浜 "]},
                {"name": "Britain", "country": "GB"},
                {"name": "Jeju box", "bbox": {"south": 33.1, "west": 126.1, "north": 33.6, "east": 127.0}}
            ]})),
            &[],
        )
        .await
        .expect(200);
    assert_eq!(t["territories"][2]["country"], "JP");
    assert_eq!(t["territories"][2]["cities"], json!(["Tokyo", "横浜"]));
    let mut reps = std::collections::BTreeMap::new();
    for (name, territory) in
        [("busan", "Busan metro"), ("seoul", "Seoul south"), ("tokyo", "Tokyo bay"), ("uk", "Britain"), ("de", "DE")]
    {
        let u = app.user(name, json!({"email": format!("{name}@example.com"), "territory": territory})).await;
        reps.insert(s(&u["id"]).to_string(), name);
    }
    app.call(
        awc::http::Method::PUT,
        "/api/v1/lead-assignment-rules",
        Some(&app.admin),
        Some(json!({"rules": [{"name": "By territory", "strategy": "territory"}]})),
        &[],
    )
    .await
    .expect(200);
    let owner = |l: &Value| reps.get(l["owner_id"].as_str().unwrap_or("")).copied().unwrap_or("nobody");
    // Located from its city into the circle; by postal prefix; by city name (an alternate
    // spelling); by country; by coordinates in a box; by country name (a user's territory
    // that names a country, as before territories were drawn).
    for (body, want) in [
        (json!({"city": "Busan", "country": "KR"}), "busan"),
        (json!({"postal_code": "06164", "country": "KR"}), "seoul"),
        (json!({"city": "横浜", "country": "JP"}), "tokyo"),
        (json!({"city": "London", "country": "GB"}), "uk"),
        (json!({"latitude": 33.4996, "longitude": 126.5312}), "nobody"),
        (json!({"country": "DE"}), "de"),
        (json!({"country": "FR"}), "nobody"),
        // In Korea, but not south Seoul's postal area: nobody covers it.
        (json!({"postal_code": "04524", "country": "KR"}), "nobody"),
    ] {
        let l = app.lead("Lead", body.clone()).await;
        assert_eq!(owner(&l), want, "{body}");
    }
    // A rep for the Jeju box, and the next Jeju lead is theirs.
    let jeju = app.user("jeju", json!({"email": "jeju@example.com", "territory": "Jeju box"})).await;
    let l = app.lead("Island", json!({"city": "Jeju", "country": "KR"})).await;
    assert_eq!(l["owner_id"], jeju["id"]);

    // GraphQL reads them.
    let token = app.token(&["admin"]);
    let r = app.gql(&token, "{ territories { territories { name near { radiusM } } } }", json!({})).await;
    assert_eq!(
        r["data"]["territories"]["territories"][0],
        json!({"name": "Busan metro", "near": {"radiusM": 30000.0}})
    );

    // Bad territories: each problem named.
    let r = app
        .call(
            awc::http::Method::PUT,
            "/api/v1/territories",
            Some(&app.admin),
            Some(json!({"territories": [
                {"name": "A", "cities": ["Seoul"]},
                {"name": "a", "country": "KR"},
                {"name": "B", "country": "KR", "cities": ["Seoul"], "postal_prefixes": ["04"]},
                {"name": "C", "bbox": {"south": 39, "west": 124, "north": 33, "east": 132}},
                {"name": " "}
            ]})),
            &[],
        )
        .await
        .expect(422);
    let mut fields = error_fields(&r);
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "territories[0].country",
            "territories[1].name",
            "territories[2]",
            "territories[3].bbox",
            "territories[4].country",
            "territories[4].name"
        ],
        "{r}"
    );
}

/// A line of GeoNames' cities format (19 columns).
fn city_line(name: &str, lat: f64, lng: f64, country: &str, population: u32) -> String {
    format!("1\t{name}\t{name}\t\t{lat}\t{lng}\tP\tPPL\t{country}\t\t01\t\t\t\t{population}\t\t\tUTC\t2026-01-01")
}

#[actix_web::test]
async fn a_bulk_geocoding_job_locates_what_a_loaded_gazetteer_knows_and_reports_its_progress() {
    let app = spawn().await;
    // Addresses the demo gazetteer does not know.
    let gangneung = app.account("Gangneung Co", json!({"city": "Gangneung", "country": "KR"})).await;
    assert_eq!(s(&gangneung["location_source"]), "unresolved");
    let brighton = app.contact("Bri", "Ghton", json!({"postal_code": "BN1 1AA", "country": "GB"})).await;
    let graz = app.lead("Graz", json!({"city": "Graz", "country": "AT"})).await;
    let atlantis = app.account("Atlantis", json!({"city": "Atlantis", "country": "GR"})).await;
    let pinned = app
        .account("Pinned", json!({"city": "Gangneung", "country": "KR", "latitude": 37.75, "longitude": 128.9}))
        .await;
    // A row stored before geocoding existed: an address, no location. (In Japan: the file
    // loaded below replaces the demo gazetteer's Korean cities.)
    let legacy = app.account("Legacy", json!({"city": "Tokyo", "country": "JP"})).await;
    let id = s(&legacy["id"]).to_string();
    let db = app.db.clone();
    actix_web::rt::task::spawn_blocking(move || {
        db.run_sync(|c| {
            use diesel::RunQueryDsl;
            let sql = format!(
                "UPDATE accounts SET latitude = NULL, longitude = NULL, location_source = NULL, \
                 location_accuracy = NULL WHERE id = '{id}'"
            );
            diesel::sql_query(sql).execute(c).map_err(crm_db::DbError::from)
        })
        .unwrap()
    })
    .await
    .unwrap();

    // `crm geo import` loads GeoNames files: cities, and postal codes.
    let dir = tempfile::tempdir().unwrap();
    let cities = dir.path().join("cities.txt");
    let lines =
        [city_line("Gangneung", 37.7519, 128.8761, "KR", 213_000), city_line("Graz", 47.0707, 15.4395, "AT", 291_000)];
    std::fs::write(&cities, lines.join("\n") + "\n").unwrap();
    let postal = dir.path().join("postal.txt");
    std::fs::write(&postal, "GB\tBN1\tBrighton\tEngland\tENG\t\t\t\t\t50.8279\t-0.138\t4\n").unwrap();
    let env = [("DATABASE_URL", app.database_url.as_str())];
    for file in [&cities, &cities, &postal] {
        let (out, _) = crate::observability::stdout_of(crate::observability::crm(
            &["geo", "import", file.to_str().unwrap()],
            &env,
        ));
        assert!(out.contains("loaded") && out.contains("places"), "{out}");
    }
    let (out, _) =
        crate::observability::stdout_of(crate::observability::crm(&["geo", "import", cities.to_str().unwrap()], &env));
    assert!(out.contains("loaded 2 places (2 names and codes) of AT, KR"), "a second load replaces the first: {out}");

    // The job: 202, then its progress at Location until it ends.
    let r = app.post("/api/v1/geo/geocode", json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let location = r.header("location").unwrap();
    assert_eq!(location, format!("/api/v1/jobs/{}", s(&r.body["id"])));
    assert_eq!((s(&r.body["kind"]), s(&r.body["status"])), ("geocode", "queued"));
    let job = wait_for_job(&app, &location).await;
    assert_eq!(s(&job["status"]), "succeeded", "{job}");
    // Three accounts (Gangneung, Atlantis, Legacy), a contact and a lead; the pinned account's
    // coordinates were given, so it is no candidate.
    assert_eq!((job["total"].as_i64(), job["done"].as_i64(), job["percent"].as_f64()), (Some(5), Some(5), Some(100.0)));
    // Atlantis still matches nothing: tried, and left as it was.
    assert_eq!(job["result"], json!({"geocoded": 4, "unresolved": 0, "unchanged": 1, "failed": 0}));
    assert!(job["finished_at"].is_string() && job["eta_seconds"].is_null());

    let get = |path: String| {
        let app = &app;
        async move { app.get(&path).await.expect(200) }
    };
    let a = get(format!("/api/v1/accounts/{}", s(&gangneung["id"]))).await;
    assert_eq!(at(&a), located(37.7519, 128.8761, "geocoded", "city"));
    assert_eq!(a["version"], 2, "a new version, with an event");
    let c = get(format!("/api/v1/contacts/{}", s(&brighton["id"]))).await;
    assert_eq!(at(&c), located(50.8279, -0.138, "geocoded", "postal_code"));
    let l = get(format!("/api/v1/leads/{}", s(&graz["id"]))).await;
    assert_eq!(at(&l), located(47.0707, 15.4395, "geocoded", "city"));
    let a = get(format!("/api/v1/accounts/{}", s(&legacy["id"]))).await;
    assert_eq!(at(&a), located(35.6762, 139.6503, "geocoded", "city"));
    // The Korean demo cities are gone with the file's Korean places.
    let seoul = app.account("Seoul Co", json!({"city": "Seoul", "country": "KR"})).await;
    assert_eq!(s(&seoul["location_source"]), "unresolved");
    let a = get(format!("/api/v1/accounts/{}", s(&pinned["id"]))).await;
    assert_eq!(at(&a), located(37.75, 128.9, "given", "rooftop"));
    let a = get(format!("/api/v1/accounts/{}", s(&atlantis["id"]))).await;
    assert_eq!((a["location_source"].as_str(), a["version"].as_i64()), (Some("unresolved"), Some(1)));
    let changes = app.get("/api/v1/changes?limit=1000").await.expect(200);
    let updated: Vec<&Value> = changes["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "account.updated" && e["entity_id"] == gangneung["id"])
        .collect();
    assert_eq!(updated.len(), 1, "the feed tells integrators");

    // Again: only the address that still matches nothing is tried, and left alone.
    let again = app.post("/api/v1/geo/geocode", json!({"resources": ["accounts"]})).await.expect(202);
    let job2 = wait_for_job(&app, &format!("/api/v1/jobs/{}", s(&again["id"]))).await;
    assert_eq!(
        (job2["total"].as_i64(), job2["result"].clone()),
        (Some(2), json!({"geocoded": 0, "unresolved": 0, "unchanged": 2, "failed": 0})),
        "Atlantis and Seoul Co"
    );

    // The CLI runs the same, with a progress display.
    let late = app.contact("Late", "Graz", json!({"city": "Graz", "country": "AT"})).await;
    assert_eq!(s(&late["location_source"]), "geocoded", "the gazetteer knows Graz now");
    let other = app.contact("Other", "Place", json!({"city": "Nowhere Town", "country": "AT"})).await;
    assert_eq!(s(&other["location_source"]), "unresolved");
    std::fs::write(&cities, city_line("Nowhere Town", 47.0, 15.0, "AT", 10) + "\n").unwrap();
    crate::observability::stdout_of(crate::observability::crm(&["geo", "import", cities.to_str().unwrap()], &env));
    let (out, log) =
        crate::observability::stdout_of(crate::observability::crm(&["geo", "geocode", "--resource", "contacts"], &env));
    assert!(out.contains("geocoded 1 records; 0 addresses matched no place"), "{out}");
    assert!(log.contains("geocoding"), "progress on stderr: {log}");

    // Jobs are their starter's (and admins'); the scopes follow the resources.
    let path = format!("/api/v1/jobs/{}", s(&again["id"]));
    let stranger = token(&app.keys, "stranger", &["sales"], &[]);
    app.call(awc::http::Method::GET, &path, Some(&stranger), None, &[]).await.expect(404);
    let listed = app.get("/api/v1/jobs?kind=geocode").await.expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let accounts_only = token(&app.keys, "script", &[], &["accounts:write"]);
    let all =
        app.call(awc::http::Method::POST, "/api/v1/geo/geocode", Some(&accounts_only), Some(json!({})), &[]).await;
    assert_eq!(all.status, 403);
    let mine = app
        .call(
            awc::http::Method::POST,
            "/api/v1/geo/geocode",
            Some(&accounts_only),
            Some(json!({"resources": ["accounts"]})),
            &[],
        )
        .await
        .expect(202);
    let r = app
        .call(awc::http::Method::GET, &format!("/api/v1/jobs/{}", s(&mine["id"])), Some(&accounts_only), None, &[])
        .await;
    assert_eq!(r.status, 200, "its starter reads it");
}

/// A Nominatim-compatible geocoder for the test: answers by the query, and keeps each request
/// with when it came and its User-Agent.
#[derive(Clone, Default)]
struct FakeNominatim {
    seen: std::sync::Arc<std::sync::Mutex<Vec<(std::time::Instant, String, String)>>>,
}

async fn nominatim_search(
    req: actix_web::HttpRequest,
    fake: actix_web::web::Data<FakeNominatim>,
) -> actix_web::HttpResponse {
    let q = req.query_string().to_string();
    let agent = req.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    fake.seen.lock().unwrap().push((std::time::Instant::now(), q.clone(), agent));
    let has = |kv: &str| q.split('&').any(|p| p == kv);
    let body = if has("city=Gangneung") {
        json!([{"lat": "37.7519", "lon": "128.8761", "addresstype": "city"}])
    } else if has("postalcode=BN1+1AA") || has("postalcode=BN1%201AA") {
        json!([{"lat": "50.8225", "lon": "-0.1372", "addresstype": "postcode"}])
    } else if has("city=Graz") && q.contains("street=") {
        json!([{"lat": "47.0712", "lon": "15.4381", "addresstype": "building"}])
    } else if has("city=Error+City") || has("city=Error%20City") {
        return actix_web::HttpResponse::ServiceUnavailable().finish();
    } else {
        json!([])
    };
    actix_web::HttpResponse::Ok().json(body)
}

#[actix_web::test]
async fn the_http_geocoder_places_what_the_gazetteer_cannot_at_its_rate_and_once_per_address() {
    let fake = FakeNominatim::default();
    let data = actix_web::web::Data::new(fake.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().app_data(data.clone()).route("/search", actix_web::web::get().to(nominatim_search))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://127.0.0.1:{}", server.addrs()[0].port());
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let app = spawn_with(move |s| {
        s.geocoder = Some(crm_gateway::settings::GeocoderSettings { url, rate: 10.0, user_agent: "crm-test/1".into() })
    })
    .await;
    // Writes never wait for it: all four are unresolved when created.
    let gangneung = app.account("Gangneung Co", json!({"city": "Gangneung", "country": "KR"})).await;
    let brighton = app.contact("Bri", "Ghton", json!({"postal_code": "BN1 1AA", "country": "GB"})).await;
    let graz = app.lead("Graz", json!({"street": "Hauptplatz 1", "city": "Graz", "country": "AT"})).await;
    let atlantis = app.account("Atlantis", json!({"city": "Atlantis", "country": "GR"})).await;
    let broken = app.account("Broken", json!({"city": "Error City", "country": "FR"})).await;
    for r in [&gangneung, &brighton, &graz, &atlantis, &broken] {
        assert_eq!(s(&r["location_source"]), "unresolved");
    }
    assert!(fake.seen.lock().unwrap().is_empty());

    let job = app.post("/api/v1/geo/geocode", json!({})).await.expect(202);
    let job = wait_for_job(&app, &format!("/api/v1/jobs/{}", s(&job["id"]))).await;
    assert_eq!(s(&job["status"]), "succeeded", "{job}");
    assert_eq!(
        job["result"],
        json!({"geocoded": 3, "unresolved": 0, "unchanged": 1, "failed": 1, "last_error": "geocoder answered 503"})
    );
    assert_eq!((job["done"].as_i64(), job["failed"].as_i64()), (Some(5), Some(1)));
    let a = app.get(&format!("/api/v1/accounts/{}", s(&gangneung["id"]))).await.expect(200);
    assert_eq!(at(&a), located(37.7519, 128.8761, "geocoded", "city"));
    let c = app.get(&format!("/api/v1/contacts/{}", s(&brighton["id"]))).await.expect(200);
    assert_eq!(at(&c), located(50.8225, -0.1372, "geocoded", "postal_code"));
    let l = app.get(&format!("/api/v1/leads/{}", s(&graz["id"]))).await.expect(200);
    assert_eq!(at(&l), located(47.0712, 15.4381, "geocoded", "rooftop"));
    let a = app.get(&format!("/api/v1/accounts/{}", s(&broken["id"]))).await.expect(200);
    assert_eq!((s(&a["location_source"]), a["version"].as_i64()), ("unresolved", Some(1)), "left as it was");

    {
        let seen = fake.seen.lock().unwrap();
        assert_eq!(seen.len(), 5, "one request per address");
        assert!(seen.iter().all(|(_, _, agent)| agent == "crm-test/1"));
        let q = &seen.iter().find(|(_, q, _)| q.contains("Gangneung")).unwrap().1;
        assert!(q.contains("format=jsonv2") && q.contains("countrycodes=kr") && q.contains("limit=1"), "{q}");
        // 10 a second: sent at least 100 ms apart, so five span at least 400 ms (measured on
        // arrival, where one request may come a little late: 350).
        let span = seen[4].0 - seen[0].0;
        assert!(span >= std::time::Duration::from_millis(350), "{span:?} for five requests");
    }

    // Again: Atlantis's answer is in the cache (not asked twice); the failed one is asked again.
    let job = app.post("/api/v1/geo/geocode", json!({})).await.expect(202);
    let job = wait_for_job(&app, &format!("/api/v1/jobs/{}", s(&job["id"]))).await;
    assert_eq!(job["result"]["unchanged"], 1);
    assert_eq!(job["result"]["failed"], 1);
    let last = {
        let seen = fake.seen.lock().unwrap();
        assert_eq!(seen.len(), 6);
        seen[5].1.clone()
    };
    assert!(last.contains("Error"), "{last}");
    handle.stop(false).await;
}
