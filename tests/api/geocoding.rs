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
