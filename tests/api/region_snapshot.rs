//! Region snapshots: who is in a box, a circle or an administrative region, what their open
//! deals and purchases are worth, and the same per hexagonal cell. Every figure is worked out
//! here from the records the test creates; the cells come from h3o (the H3 reference
//! implementation in Rust), grouping the test's own points.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::*;

const CITY_HALL: (f64, f64) = (37.5665, 126.978);
const GANGNAM: (f64, f64) = (37.4979, 127.0276);
const NEAR_CITY_HALL: (f64, f64) = (37.57, 126.98);
const GWANGHWAMUN: (f64, f64) = (37.5759, 126.9769);
const TOKYO: (f64, f64) = (35.6762, 139.6503);

fn at(p: (f64, f64), extra: Value) -> Value {
    let mut v = json!({"latitude": p.0, "longitude": p.1});
    merge(&mut v, extra);
    v
}

fn stage(p: &Value, name: &str) -> Value {
    p["stages"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap()["id"].clone()
}

fn money(v: &Value) -> Vec<(String, i64)> {
    v.as_array().unwrap().iter().map(|m| (s(&m["currency"]).to_string(), m["amount_minor"].as_i64().unwrap())).collect()
}

fn counts(v: &Value) -> [i64; 5] {
    ["leads", "prospects", "customers", "contacts", "open_deals"].map(|k| v[k].as_i64().unwrap())
}

fn cell(p: (f64, f64), res: u8) -> String {
    h3o::LatLng::new(p.0, p.1).unwrap().to_cell(h3o::Resolution::try_from(res).unwrap()).to_string()
}

#[actix_web::test]
async fn a_region_holds_what_lies_in_it_in_all_and_per_cell() {
    let app = spawn().await;
    let pipeline = app.pipeline("Field", json!({})).await;
    let product = app.product("GEO-1", json!({})).await; // 19.99 EUR: two per purchase, 39.98

    // Seoul: a customer at City Hall with two open deals, a won one, a purchase this year, one
    // last year and one cancelled; a prospect in Gangnam with a deal in won.
    let hall = app.account("Hall Co", at(CITY_HALL, json!({"country": "KR"}))).await;
    app.opportunity("H1", &hall, &pipeline, json!({})).await; // 5,000.00 EUR at 20 %
    app.opportunity("H2", &hall, &pipeline, json!({"amount": {"amount_minor": 300_000, "currency": "EUR"}})).await;
    let won = app.opportunity("H3", &hall, &pipeline, json!({})).await;
    app.patch(&format!("/api/v1/opportunities/{}", s(&won["id"])), json!({"stage_id": stage(&pipeline, "Won")}))
        .await
        .expect(200);
    app.purchase(&hall, &product, json!({"ordered_at": "2026-03-01T10:00:00Z"})).await;
    app.purchase(&hall, &product, json!({"ordered_at": "2025-06-01T10:00:00Z"})).await;
    let cancelled = app.purchase(&hall, &product, json!({"ordered_at": "2026-04-01T10:00:00Z"})).await;
    app.patch(&format!("/api/v1/purchases/{}", s(&cancelled["id"])), json!({"status": "cancelled"})).await.expect(200);
    let gangnam = app.account("Gangnam Co", at(GANGNAM, json!({"country": "KR"}))).await;
    app.opportunity("G1", &gangnam, &pipeline, json!({"amount": {"amount_minor": 70_000, "currency": "KRW"}})).await;
    // Busan, located from its city: a customer.
    let busan = app.account("Busan Co", json!({"city": "Busan", "country": "KR"})).await;
    app.purchase(&busan, &product, json!({"ordered_at": "2026-09-01T10:00:00Z"})).await;
    // In Korea by address, but nowhere the gazetteer knows: no coordinates.
    let mapo = app.account("Mapo Co", json!({"city": "Mapo-gu", "country": "KR"})).await;
    assert_eq!(s(&mapo["location_source"]), "unresolved");

    app.lead("Open", at(NEAR_CITY_HALL, json!({"country": "KR"}))).await;
    let dropped = app.lead("Dropped", at(NEAR_CITY_HALL, json!({"country": "KR"}))).await;
    let path = format!("/api/v1/leads/{}", s(&dropped["id"]));
    app.patch(&path, json!({"status": "disqualified", "disqualify_reason": "no budget"})).await.expect(200);
    app.lead("Busan", json!({"city": "Busan", "country": "KR"})).await;
    app.lead("Tokyo", at(TOKYO, json!({"country": "JP"}))).await;
    app.contact("Min", "Gwang", at(GWANGHWAMUN, json!({"country": "KR"}))).await;
    app.contact("Su", "Busan", json!({"city": "busan", "country": "KR"})).await;
    app.contact("Yui", "Tokyo", at(TOKYO, json!({"country": "JP"}))).await;

    // Within 20 km of City Hall (Gangnam is 8.9 km away), in 2026, on a resolution-7 grid.
    let snap = app.get("/api/v1/geo/snapshot?near=37.5665,126.978,20km&period=2026&resolution=7").await.expect(200);
    // leads, prospects, customers, contacts, open deals
    assert_eq!(counts(&snap), [1, 1, 1, 1, 3], "{snap}");
    assert_eq!(money(&snap["open_pipeline"]), vec![("EUR".into(), 800_000), ("KRW".into(), 70_000)]);
    // 20 % of each: 160,000 EUR cents and 14,000 won.
    assert_eq!(money(&snap["weighted_pipeline"]), vec![("EUR".into(), 160_000), ("KRW".into(), 14_000)]);
    // The purchase of March 2026 only.
    assert_eq!(money(&snap["revenue"]), vec![("EUR".into(), 3998)]);
    assert_eq!((s(&snap["period_start"]), s(&snap["period_end_exclusive"])), ("2026-01-01", "2027-01-01"));

    // The cells: the test's own points grouped by h3o.
    let mut want: BTreeMap<String, [i64; 5]> = BTreeMap::new();
    for (p, k) in [(CITY_HALL, 2), (GANGNAM, 1), (NEAR_CITY_HALL, 0), (GWANGHWAMUN, 3)] {
        want.entry(cell(p, 7)).or_default()[k] += 1;
    }
    want.get_mut(&cell(CITY_HALL, 7)).unwrap()[4] += 2;
    want.get_mut(&cell(GANGNAM, 7)).unwrap()[4] += 1;
    let got: BTreeMap<String, [i64; 5]> =
        snap["cells"].as_array().unwrap().iter().map(|c| (s(&c["cell"]).to_string(), counts(c))).collect();
    assert_eq!(got, want);
    let hall_cell = snap["cells"].as_array().unwrap().iter().find(|c| c["cell"] == cell(CITY_HALL, 7)).unwrap();
    assert_eq!(money(&hall_cell["revenue"]), vec![("EUR".into(), 3998)]);
    let corners = hall_cell["boundary"].as_array().unwrap();
    assert_eq!(corners.len(), 6, "a hexagon");
    assert!(corners.iter().all(|c| crate::geo::great_circle(
        (c["latitude"].as_f64().unwrap(), c["longitude"].as_f64().unwrap()),
        CITY_HALL
    ) < 3_000.0));
    // Its centre is within a res-7 cell's reach (edge about 1.4 km) of City Hall.
    let (lat, lng) = (hall_cell["latitude"].as_f64().unwrap(), hall_cell["longitude"].as_f64().unwrap());
    assert!(crate::geo::great_circle((lat, lng), CITY_HALL) < 1_500.0);

    // Korea by address: Busan's and Mapo's accounts too, Busan's lead and contact; Mapo has no
    // coordinates (counted, not on any cell).
    let kr = app.get("/api/v1/geo/snapshot?country=kr&period=2026&resolution=5").await.expect(200);
    assert_eq!(counts(&kr), [2, 2, 2, 2, 3], "{kr}");
    assert_eq!(money(&kr["revenue"]), vec![("EUR".into(), 7996)]);
    assert_eq!(kr["unlocated"], json!({"leads": 0, "accounts": 1, "contacts": 0}));
    let on_grid: i64 = kr["cells"].as_array().unwrap().iter().map(|c| c["prospects"].as_i64().unwrap()).sum();
    assert_eq!(on_grid, 1, "Gangnam's prospect; Mapo's is off the grid");
    // Narrowed to a city, whatever its case.
    let busan_snap = app.get("/api/v1/geo/snapshot?country=KR&city=BUSAN&period=2026").await.expect(200);
    assert_eq!(counts(&busan_snap), [1, 0, 1, 1, 0]);
    assert_eq!(busan_snap["cells"], json!([]), "no grid asked");
    // A box around Japan (east of Busan's 129.08°); last year's revenue of Seoul.
    let jp = app.get("/api/v1/geo/snapshot?bbox=30,130,46,146").await.expect(200);
    assert_eq!(counts(&jp), [1, 0, 0, 1, 0]);
    let last_year = app.get("/api/v1/geo/snapshot?near=37.5665,126.978,20km&period=2025").await.expect(200);
    assert_eq!(money(&last_year["revenue"]), vec![("EUR".into(), 3998)]);

    // GraphQL, the same figures.
    let token = app.token(&["admin"]);
    let r = app
        .gql(
            &token,
            r#"{ regionSnapshot(region: {near: {latitude: 37.5665, longitude: 126.978, radiusM: 20000}}, period: "2026", resolution: 7) {
                leads prospects customers contacts openDeals weightedPipeline { amountMinor currency } cells { cell customers }
            } }"#,
            json!({}),
        )
        .await;
    let g = &r["data"]["regionSnapshot"];
    assert_eq!(
        [&g["leads"], &g["prospects"], &g["customers"], &g["contacts"], &g["openDeals"]].map(|v| v.as_i64().unwrap()),
        [1, 1, 1, 1, 3],
        "{r}"
    );
    assert_eq!(g["weightedPipeline"][1], json!({"amountMinor": 14000, "currency": "KRW"}));
    assert_eq!(g["cells"].as_array().unwrap().len(), want.len());
}

#[actix_web::test]
async fn a_region_must_be_one_and_well_formed_and_needs_the_read_scopes() {
    let app = spawn().await;
    for (query, field, code) in [
        ("", "region", "required"),
        ("bbox=33,124,39,132&near=37.5,127,5km", "region", "conflict"),
        ("city=Seoul", "country", "required"),
        ("country=Korea", "country", "invalid_country"),
        ("near=91,0,5km", "near", "invalid_value"),
        ("bbox=39,124,33,132", "bbox", "invalid_value"),
        ("country=KR&period=2026-13", "period", "invalid_value"),
        ("country=KR&resolution=16", "resolution", "out_of_range"),
    ] {
        let r = app.get(&format!("/api/v1/geo/snapshot?{query}")).await.expect(422);
        let e = &r["errors"][0];
        assert_eq!((s(&e["field"]), s(&e["code"])), (field, code), "{query}: {r}");
    }
    // A script that reads accounts and contacts, not deals.
    let script = token(&app.keys, "script", &[], &["accounts:read", "contacts:read"]);
    app.call(awc::http::Method::GET, "/api/v1/geo/snapshot?country=KR", Some(&script), None, &[]).await.expect(403);
}
