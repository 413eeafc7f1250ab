//! Custom fields end to end: definitions, values checked by type on every write, filters and
//! sorts, history and the change feed, removal, GraphQL's typed fields and the served OpenAPI
//! document.

use awc::http::Method;
use serde_json::{Value, json};

use crate::support::*;

async fn define(app: &TestApp, resource: &str, body: Value) -> Value {
    app.created(&format!("/api/v1/schema/{resource}/fields"), body).await
}

fn codes(body: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = body["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| (s(&e["field"]).to_string(), s(&e["code"]).to_string())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn pair(field: &str, code: &str) -> (String, String) {
    (field.to_string(), code.to_string())
}

/// The contact fields most tests use.
async fn contact_fields(app: &TestApp) {
    let options = |v: &[&str]| Value::Array(v.iter().map(|o| json!({"value": o})).collect());
    define(
        app,
        "contacts",
        json!({"name": "tier", "type": "enum", "options": options(&["gold", "silver", "bronze"]), "required": true, "default": "silver"}),
    )
    .await;
    define(app, "contacts", json!({"name": "score", "type": "number", "min": 0, "max": 100})).await;
    define(app, "contacts", json!({"name": "budget", "type": "money"})).await;
    define(app, "contacts", json!({"name": "renewal", "type": "date", "label": "Renewal date"})).await;
    define(app, "contacts", json!({"name": "vip", "type": "boolean"})).await;
    define(
        app,
        "contacts",
        json!({"name": "interests", "type": "multi_enum", "options": options(&["golf", "wine", "jazz"])}),
    )
    .await;
    define(app, "contacts", json!({"name": "partner", "type": "reference", "reference_to": "accounts"})).await;
    define(app, "contacts", json!({"name": "note", "type": "text", "max_length": 20})).await;
}

#[actix_web::test]
async fn custom_fields_are_defined_and_their_values_checked_by_type() {
    let app = spawn().await;
    // Before any definition, a key in custom_fields is refused (typos never vanish).
    let r = app.post("/api/v1/contacts", json!({"last_name": "Early", "custom_fields": {"tier": "gold"}})).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(codes(&r.body), [pair("custom_fields.tier", "unknown_custom_field")]);

    contact_fields(&app).await;
    let acme = app.account("Acme", json!({})).await;
    let listed = app.get("/api/v1/schema/contacts/fields?limit=100").await.expect(200);
    let names: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|f| s(&f["name"])).collect();
    assert_eq!(names.len(), 8);
    assert_eq!(listed["data"][3]["label"], "Renewal date");
    assert_eq!(listed["data"][0]["key"], "contacts.tier");

    // Values are normalized by type; a field left out gets its default.
    let c = app
        .contact(
            "Min",
            "Kim",
            json!({"custom_fields": {
                "score": 72.5, "budget": {"amount_minor": 500000, "currency": "krw"}, "renewal": "2027-03-01",
                "vip": true, "interests": ["jazz", "golf", "jazz"], "partner": s(&acme["id"]).to_uppercase(),
                "note": "  likes tea  "
            }}),
        )
        .await;
    assert_eq!(
        c["custom_fields"],
        json!({
            "tier": "silver", "score": 72.5, "budget": {"amount_minor": 500000, "currency": "KRW"},
            "renewal": "2027-03-01", "vip": true, "interests": ["golf", "jazz"], "partner": acme["id"],
            "note": "likes tea"
        })
    );

    // Every problem at once, each named by its path, beside the built-in fields' problems.
    let r = app
        .post(
            "/api/v1/contacts",
            json!({"last_name": "Bad", "email": "not-an-email", "custom_fields": {
                "tier": "platinum", "score": 101, "budget": {"amount_minor": 5, "currency": "XXY"},
                "renewal": "2027-02-30", "vip": "yes", "interests": ["golf", "chess"],
                "partner": uuid::Uuid::now_v7().to_string(), "note": "x".repeat(21), "shoe_size": 42
            }}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["code"], "VALIDATION_FAILED");
    assert_eq!(
        codes(&r.body),
        [
            pair("custom_fields.budget.currency", "invalid_currency"),
            pair("custom_fields.interests", "not_an_option"),
            pair("custom_fields.note", "too_long"),
            pair("custom_fields.renewal", "invalid_date"),
            pair("custom_fields.score", "out_of_range"),
            pair("custom_fields.shoe_size", "unknown_custom_field"),
            pair("custom_fields.tier", "not_an_option"),
            pair("custom_fields.vip", "invalid_type"),
            pair("email", "invalid_email"),
        ]
    );
    // A reference must name a record (the other values being right).
    let r = app
        .post(
            "/api/v1/contacts",
            json!({"last_name": "Ref", "custom_fields": {"partner": uuid::Uuid::now_v7().to_string()}}),
        )
        .await;
    assert_eq!(codes(&r.body), [pair("custom_fields.partner", "not_found")]);

    // A patch merges key by key; a required value cannot be cleared; null clears others.
    let path = format!("/api/v1/contacts/{}", s(&c["id"]));
    let p = app.patch(&path, json!({"custom_fields": {"tier": "gold", "note": null}})).await.expect(200);
    assert_eq!(p["custom_fields"]["tier"], "gold");
    assert_eq!(p["custom_fields"]["score"], 72.5);
    assert!(p["custom_fields"].get("note").is_none());
    let r = app.patch(&path, json!({"custom_fields": {"tier": null}})).await;
    assert_eq!(codes(&r.body), [pair("custom_fields.tier", "required")]);
    // A patch that changes nothing leaves the version alone.
    let again = app.patch(&path, json!({"custom_fields": {"tier": "gold"}})).await.expect(200);
    assert_eq!(again["version"], p["version"]);

    // Definitions: unique names per resource, fixed type, rules per type.
    let r = app.post("/api/v1/schema/contacts/fields", json!({"name": "tier", "type": "text"})).await;
    assert_eq!((r.status.as_u16(), s(&r.body["code"])), (409, "DUPLICATE_RECORD"), "{}", r.body);
    // The same name on another resource is another field.
    define(&app, "accounts", json!({"name": "tier", "type": "text"})).await;
    let tier = &listed["data"][0];
    let r = app.patch(&format!("/api/v1/custom-fields/{}", s(&tier["id"])), json!({"type": "text"})).await;
    assert_eq!(codes(&r.body), [pair("type", "immutable")]);
    let r = app
        .post(
            "/api/v1/schema/contacts/fields",
            json!({"name": "Bad Name", "type": "enum", "min": 1, "default": "x", "reference_to": "users"}),
        )
        .await;
    assert_eq!(
        codes(&r.body),
        [
            pair("min", "not_applicable"),
            pair("name", "invalid_name"),
            pair("options", "required"),
            pair("reference_to", "not_applicable"),
        ]
    );
    let r = app
        .post("/api/v1/schema/contacts/fields", json!({"name": "size", "type": "number", "min": 5, "default": 1}))
        .await;
    assert_eq!(codes(&r.body), [pair("default", "out_of_range")]);
    let r = app.post("/api/v1/schema/contacts/fields", json!({"name": "x", "type": "text", "resource": "leads"})).await;
    assert_eq!(codes(&r.body), [pair("resource", "mismatch")]);
    // Options may change: a record holding a removed option keeps it while it is unchanged.
    let p2 = app
        .patch(
            &format!("/api/v1/custom-fields/{}", s(&tier["id"])),
            json!({"options": [{"value": "silver"}, {"value": "bronze", "label": "Bronze"}]}),
        )
        .await
        .expect(200);
    assert_eq!(p2["options"], json!([{"value": "silver", "label": "silver"}, {"value": "bronze", "label": "Bronze"}]));
    let kept = app.patch(&path, json!({"first_name": "Minjun"})).await.expect(200);
    assert_eq!(kept["custom_fields"]["tier"], "gold");
    let r = app.patch(&path, json!({"custom_fields": {"tier": "platinum"}})).await;
    assert_eq!(codes(&r.body), [pair("custom_fields.tier", "not_an_option")]);

    // Who may: every role reads the definitions, only admins write them.
    let sales = app.token(&["sales"]);
    let r = app.call(Method::GET, "/api/v1/schema/contacts/fields", Some(&sales), None, &[]).await;
    assert_eq!(r.status, 200);
    let r = app
        .call(
            Method::POST,
            "/api/v1/schema/contacts/fields",
            Some(&sales),
            Some(json!({"name": "y", "type": "text"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app.get("/api/v1/schema/widgets/fields").await;
    assert_eq!(r.status, 404);
    assert!(s(&r.body["detail"]).contains("not a resource with custom fields"), "{}", r.body);
}

#[actix_web::test]
async fn lists_filter_and_sort_on_custom_fields() {
    let app = spawn().await;
    contact_fields(&app).await;
    define(&app, "accounts", json!({"name": "grade", "type": "enum", "options": [{"value": "a"}, {"value": "b"}]}))
        .await;
    let top = app.account("Top", json!({"custom_fields": {"grade": "a"}})).await;
    let low = app.account("Low", json!({"custom_fields": {"grade": "b"}})).await;
    // name, account, custom fields
    let people = [
        (
            "Ann",
            &top,
            json!({"tier": "gold", "score": 90, "renewal": "2026-12-31", "vip": true, "interests": ["golf"], "budget": {"amount_minor": 9000, "currency": "KRW"}}),
        ),
        (
            "Bob",
            &top,
            json!({"tier": "bronze", "score": 40, "renewal": "2027-06-01", "vip": false, "interests": ["wine", "golf"], "budget": {"amount_minor": 500, "currency": "KRW"}}),
        ),
        (
            "Cy",
            &low,
            json!({"tier": "gold", "score": 55.5, "vip": true, "budget": {"amount_minor": 9000, "currency": "USD"}}),
        ),
        ("Di", &low, json!({"score": 55.5, "renewal": "2027-01-15", "interests": ["jazz"]})),
        ("Ed", &low, json!({"tier": "bronze"})),
    ];
    for (name, account, cf) in &people {
        app.contact(name, "Test", json!({"account_id": account["id"], "custom_fields": cf})).await;
    }
    let names = |page: &Value| -> Vec<String> {
        page["data"].as_array().unwrap().iter().map(|c| s(&c["first_name"]).to_string()).collect()
    };
    let filtered = |f: &str| {
        let app = &app;
        let url = format!("/api/v1/contacts?sort=first_name&filter={}", enc(f));
        let f = f.to_string();
        async move {
            let r = app.get(&url).await;
            assert_eq!(r.status, 200, "{f}: {}", r.body);
            names(&r.body)
        }
    };
    assert_eq!(filtered("custom_fields.score[gte]:55.5").await, ["Ann", "Cy", "Di"]);
    assert_eq!(filtered("custom_fields.tier[in]:[gold,silver]").await, ["Ann", "Cy", "Di"], "Di got the default");
    assert_eq!(filtered("custom_fields.renewal[lt]:2027-01-16").await, ["Ann", "Di"]);
    assert_eq!(filtered("custom_fields.vip[eq]:true").await, ["Ann", "Cy"]);
    assert_eq!(filtered("not(custom_fields.vip[eq]:true)").await, ["Bob", "Di", "Ed"], "no value is not true");
    assert_eq!(filtered("custom_fields.interests[eq]:golf").await, ["Ann", "Bob"]);
    assert_eq!(filtered("custom_fields.interests[in]:[jazz,wine]").await, ["Bob", "Di"]);
    assert_eq!(filtered("custom_fields.interests[is_null]:true").await, ["Cy", "Ed"]);
    assert_eq!(filtered("custom_fields.renewal[is_null]:true").await, ["Cy", "Ed"]);
    assert_eq!(filtered("and(custom_fields.budget_currency[eq]:krw,custom_fields.budget[gt]:1000)").await, ["Ann"]);
    assert_eq!(filtered("account.custom_fields.grade[eq]:a").await, ["Ann", "Bob"]);
    assert_eq!(
        filtered("account(custom_fields.grade[eq]:b,name[eq]:Low),custom_fields.score[lt]:60").await,
        ["Cy", "Di"]
    );
    let bad = |f: &str| {
        let app = &app;
        let url = format!("/api/v1/contacts?filter={}", enc(f));
        async move { app.get(&url).await }
    };
    let r = bad("custom_fields.budget[gt]:1000").await;
    assert_eq!((r.status.as_u16(), codes(&r.body)), (400, vec![pair("custom_fields.budget", "currency_required")]));
    let r = bad("custom_fields.shoe[eq]:1").await;
    assert_eq!(codes(&r.body), [pair("custom_fields.shoe", "unknown_field")]);
    let r = bad("custom_fields.tier[eq]:platinum").await;
    assert_eq!(codes(&r.body), [pair("custom_fields.tier", "invalid_value")]);

    // Sorting pages through with the cursor; records without a value come last either way.
    let order = |sort: &str| {
        let app = &app;
        let sort = sort.to_string();
        async move {
            let mut out = Vec::new();
            let mut cursor = String::new();
            loop {
                let page = app.get(&format!("/api/v1/contacts?limit=2&sort={sort}{cursor}")).await.expect(200);
                out.extend(names(&page));
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => return out,
                }
            }
        }
    };
    assert_eq!(order("-custom_fields.score,first_name").await, ["Ann", "Cy", "Di", "Bob", "Ed"]);
    assert_eq!(order("custom_fields.score,first_name").await, ["Bob", "Cy", "Di", "Ann", "Ed"]);
    assert_eq!(order("custom_fields.renewal").await, ["Ann", "Di", "Bob", "Cy", "Ed"]);
    // Enumerations sort by their values' text, as built-in ones do.
    assert_eq!(order("-custom_fields.tier,first_name").await, ["Di", "Ann", "Cy", "Bob", "Ed"]);
    let r = app.get("/api/v1/contacts?sort=custom_fields.budget").await;
    assert_eq!((r.status.as_u16(), s(&r.body["code"])), (400, "INVALID_SORT"));
    let krw = enc("custom_fields.budget_currency[eq]:KRW");
    let page = app.get(&format!("/api/v1/contacts?sort=-custom_fields.budget&filter={krw}")).await.expect(200);
    assert_eq!(names(&page), ["Ann", "Bob"]);
    // Segments select on them too (one grammar).
    let preview = app
        .post(
            "/api/v1/segments/preview",
            json!({"criteria": "and(custom_fields.vip[eq]:true,account.custom_fields.grade[eq]:b)"}),
        )
        .await
        .expect(200);
    assert_eq!(preview["count"], 1);
    assert_eq!(preview["data"][0]["first_name"], "Cy");
    let _ = low;
}

#[actix_web::test]
async fn custom_field_changes_are_in_the_history_and_the_feed_and_removal_keeps_them() {
    let app = spawn().await;
    contact_fields(&app).await;
    let c = app.contact("Ann", "Lee", json!({"custom_fields": {"tier": "gold", "score": 10}})).await;
    let path = format!("/api/v1/contacts/{}", s(&c["id"]));
    app.patch(&path, json!({"custom_fields": {"tier": "bronze", "score": 11}, "title": "CEO"})).await.expect(200);

    let history = app.get(&format!("{path}/history")).await.expect(200);
    let latest = &history["data"][0];
    let mut changes: Vec<(String, Value, Value)> = latest["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (s(&c["field"]).to_string(), c["from"].clone(), c["to"].clone()))
        .collect();
    changes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        changes,
        [
            ("custom_fields.score".to_string(), json!(10), json!(11)),
            ("custom_fields.tier".to_string(), json!("gold"), json!("bronze")),
            ("title".to_string(), Value::Null, json!("CEO")),
        ]
    );
    let feed = app.get("/api/v1/changes?types=contact.updated").await.expect(200);
    let last = feed["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["changed_fields"], json!(["custom_fields.score", "custom_fields.tier", "title"]));

    // Removing a field archives its definition: the values stay readable and in the history,
    // but are no longer written, filtered or sorted on; restoring brings them back.
    let fields = app.get(&format!("/api/v1/schema/contacts/fields?filter={}", enc("name[eq]:score"))).await.expect(200);
    let score = s(&fields["data"][0]["id"]).to_string();
    let r = app.delete(&format!("/api/v1/custom-fields/{score}")).await;
    assert_eq!(r.status, 204);
    let read = app.get(&path).await.expect(200);
    assert_eq!(read["custom_fields"]["score"], 11);
    app.patch(&path, json!({"title": "CTO"})).await.expect(200);
    let r = app.patch(&path, json!({"custom_fields": {"score": 12}})).await;
    assert_eq!(codes(&r.body), [pair("custom_fields.score", "unknown_custom_field")]);
    let cleared = app.patch(&path, json!({"custom_fields": {"score": null}})).await.expect(200);
    assert!(cleared["custom_fields"].get("score").is_none(), "a removed field's value can be cleared");
    let r = app.get(&format!("/api/v1/contacts?filter={}", enc("custom_fields.score[gt]:1"))).await;
    assert_eq!(r.status, 400);
    let live = app.get("/api/v1/schema/contacts/fields?limit=100").await.expect(200);
    assert_eq!(live["data"].as_array().unwrap().len(), 7);
    let all = app.get("/api/v1/schema/contacts/fields?limit=100&archived=true").await.expect(200);
    assert_eq!(all["data"].as_array().unwrap().len(), 8);
    let history = app.get(&format!("{path}/history")).await.expect(200);
    let scores: Vec<Value> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["changes"].as_array().unwrap().clone())
        .filter(|c| c["field"] == "custom_fields.score")
        .map(|c| c["to"].clone())
        .collect();
    assert_eq!(scores, [Value::Null, json!(11), json!(10)], "newest first");
    app.post(&format!("/api/v1/custom-fields/{score}/restore"), json!({})).await.expect(200);
    app.patch(&path, json!({"custom_fields": {"score": 12}})).await.expect(200);
    let r = app.get(&format!("/api/v1/contacts?filter={}", enc("custom_fields.score[gt]:11"))).await.expect(200);
    assert_eq!(r["data"].as_array().unwrap().len(), 1);
    // The definitions have their own history and events.
    let h = app.get(&format!("/api/v1/custom-fields/{score}/history")).await.expect(200);
    let kinds: Vec<&str> = h["data"].as_array().unwrap().iter().map(|e| s(&e["type"])).collect();
    assert_eq!(kinds, ["custom_field.restored", "custom_field.archived", "custom_field.created"]);
}

#[actix_web::test]
async fn graphql_types_custom_fields_and_rebuilds_without_a_restart() {
    let app = spawn().await;
    let admin = app.admin.clone();
    // No custom fields: no typed part.
    let r = app.gql(&admin, "{ contacts { nodes { custom { tier } } } }", json!({})).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{r}");

    contact_fields(&app).await;
    define(&app, "accounts", json!({"name": "grade", "type": "enum", "options": [{"value": "a"}, {"value": "b"}]}))
        .await;
    let top = app.account("Top", json!({"custom_fields": {"grade": "a"}})).await;
    let low = app.account("Low", json!({"custom_fields": {"grade": "b"}})).await;
    app.contact(
        "Ann",
        "T",
        json!({"account_id": top["id"], "custom_fields": {"tier": "gold", "score": 90, "renewal": "2027-01-31",
            "budget": {"amount_minor": 9000, "currency": "KRW"}, "vip": true, "interests": ["wine", "golf"],
            "partner": top["id"], "note": "n"}}),
    )
    .await;
    app.contact("Bob", "T", json!({"account_id": low["id"], "custom_fields": {"score": 40}})).await;
    app.contact("Cy", "T", json!({"account_id": top["id"], "custom_fields": {"tier": "bronze", "score": 70}})).await;

    // Typed values, a typed where on the record and through a relation, a custom sort key.
    let q = r#"query($w: ContactWhere) {
        contacts(where: $w, orderBy: [{field: CUSTOM_FIELDS__SCORE, direction: DESC}]) {
            nodes { firstName custom { tier score budget { amountMinor currency } renewal vip interests partner note }
                    account { custom { grade } } }
        } }"#;
    let r = app.gql(&admin, q, json!({"w": {"customFields": {"tier": {"in": ["GOLD", "SILVER"]}}}})).await;
    assert!(r.get("errors").is_none(), "{r}");
    let nodes = r["data"]["contacts"]["nodes"].as_array().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| s(&n["firstName"])).collect();
    assert_eq!(names, ["Ann", "Bob"], "Bob got the default tier; sorted by score, highest first");
    assert_eq!(
        nodes[0]["custom"],
        json!({"tier": "GOLD", "score": 90.0, "budget": {"amountMinor": 9000, "currency": "KRW"}, "renewal": "2027-01-31",
               "vip": true, "interests": ["GOLF", "WINE"], "partner": top["id"], "note": "n"})
    );
    assert_eq!(nodes[0]["account"]["custom"]["grade"], "A");
    assert_eq!(nodes[1]["custom"]["tier"], "SILVER");
    assert_eq!(nodes[1]["custom"]["budget"], Value::Null);
    let r = app
        .gql(
            &admin,
            q,
            json!({"w": {"account": {"customFields": {"grade": {"eq": "A"}}},
                         "customFields": {"budgetCurrency": {"eq": "KRW"}, "budget": {"gte": 100}}}}),
        )
        .await;
    let names: Vec<&str> =
        r["data"]["contacts"]["nodes"].as_array().unwrap().iter().map(|n| s(&n["firstName"])).collect();
    assert_eq!(names, ["Ann"], "{r}");
    // The same rules as REST: an amount needs its currency pinned; values are typed.
    let r = app.gql(&admin, q, json!({"w": {"customFields": {"budget": {"gte": 100}}}})).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "INVALID_FILTER", "{r}");
    let r = app.gql(&admin, q, json!({"w": {"customFields": {"tier": {"eq": "PLATINUM"}}}})).await;
    assert!(r["errors"][0]["message"].as_str().unwrap_or("").contains("PLATINUM"), "{r}");

    // Introspection shows the types.
    let t = app
        .gql(&admin, r#"{ __type(name: "ContactCustom") { fields { name type { kind name ofType { kind name ofType { name } } } } } }"#, json!({}))
        .await;
    let types: Vec<(String, String)> = t["data"]["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let ty = &f["type"];
            let shown = match ty["kind"].as_str() {
                Some("LIST") => format!("[{}!]", s(&ty["ofType"]["ofType"]["name"])),
                _ => s(&ty["name"]).to_string(),
            };
            (s(&f["name"]).to_string(), shown)
        })
        .collect();
    let expect = [
        ("tier", "ContactCustomTier"),
        ("score", "Float"),
        ("budget", "Money"),
        ("renewal", "NaiveDate"),
        ("vip", "Boolean"),
        ("interests", "[ContactCustomInterests!]"),
        ("partner", "UUID"),
        ("note", "String"),
    ];
    assert_eq!(types, expect.map(|(a, b)| (a.to_string(), b.to_string())));

    // A field defined through another instance shows up here without a restart (within a
    // second); one defined here, at once.
    let other = spawn_on(&app.database_url).await;
    define(&other, "contacts", json!({"name": "first_order", "type": "date"})).await;
    let mut seen = false;
    for _ in 0..30 {
        let r = app.gql(&admin, "{ contacts(first: 1) { nodes { custom { firstOrder } } } }", json!({})).await;
        if r.get("errors").is_none() {
            seen = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "the new field reached this instance's schema");
    define(&app, "leads", json!({"name": "budget_band", "type": "text"})).await;
    let r = app.gql(&admin, "{ leads { nodes { custom { budgetBand } } } }", json!({})).await;
    assert!(r.get("errors").is_none(), "{r}");
}

#[actix_web::test]
async fn the_served_openapi_document_types_the_custom_fields() {
    let app = spawn().await;
    let committed: Value = serde_json::from_str(include_str!("../../openapi/openapi.json")).unwrap();
    let served = app.call(Method::GET, "/openapi.json", None, None, &[]).await.expect(200);
    assert_eq!(served, committed, "without definitions, the served document is this build's");

    contact_fields(&app).await;
    let doc = app.call(Method::GET, "/openapi.json", None, None, &[]).await.expect(200);
    let out = &doc["components"]["schemas"]["ContactCustomFields"];
    let input = &doc["components"]["schemas"]["ContactCustomFieldsInput"];
    assert_eq!(out["additionalProperties"], false);
    assert_eq!(out["properties"]["tier"]["enum"], json!(["gold", "silver", "bronze"]));
    assert_eq!(input["properties"]["tier"]["enum"], json!(["gold", "silver", "bronze", null]));
    assert_eq!(input["properties"]["tier"]["default"], "silver");
    assert_eq!(
        (out["properties"]["score"]["minimum"].clone(), out["properties"]["score"]["maximum"].clone()),
        (json!(0.0), json!(100.0))
    );
    assert_eq!(out["properties"]["budget"]["$ref"], "#/components/schemas/Money");
    assert_eq!(out["properties"]["renewal"]["format"], "date");
    assert_eq!(out["properties"]["interests"]["items"]["enum"], json!(["golf", "wine", "jazz"]));
    assert_eq!(out["properties"]["partner"]["format"], "uuid");
    assert_eq!(out["properties"]["note"]["maxLength"], 20);
    assert_eq!(
        doc["components"]["schemas"]["Contact"]["properties"]["custom_fields"]["$ref"],
        "#/components/schemas/ContactCustomFields"
    );
    assert_eq!(
        doc["components"]["schemas"]["ContactPatch"]["properties"]["custom_fields"]["$ref"],
        "#/components/schemas/ContactCustomFieldsInput"
    );
    // The list's sort keys include the custom ones; amounts need their currency pinned.
    let params = doc["paths"]["/api/v1/contacts"]["get"]["parameters"].as_array().unwrap();
    let sort = params.iter().find(|p| p["name"] == "sort").unwrap();
    let pattern = s(&sort["schema"]["pattern"]);
    assert!(pattern.contains(r"custom_fields\.renewal"), "{pattern}");
    assert!(!pattern.contains(r"custom_fields\.interests"), "lists do not sort by a set");
    assert_eq!(sort["x-sort-needs-currency"], json!(["lifetime_value", "custom_fields.budget"]));
    // Accounts have none: their part stays closed.
    assert_eq!(doc["components"]["schemas"]["AccountCustomFields"]["properties"], json!({}));
}

#[derive(diesel::QueryableByName)]
struct PgPlan {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

#[derive(diesel::QueryableByName)]
struct SqlitePlan {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

/// How the database would run `SELECT id FROM contacts WHERE <cond>`, as text.
fn plan(conn: &mut crm_db::AnyConnection, cond: &str) -> String {
    use diesel::RunQueryDsl;
    let q = format!("SELECT id FROM contacts WHERE {cond}");
    match conn {
        crm_db::AnyConnection::Postgresql(c) => {
            diesel::sql_query("SET enable_seqscan = off").execute(c).unwrap();
            let rows: Vec<PgPlan> = diesel::sql_query(format!("EXPLAIN {q}")).load(c).unwrap();
            rows.into_iter().map(|r| r.line).collect::<Vec<_>>().join("\n")
        }
        crm_db::AnyConnection::Sqlite(c) => {
            let rows: Vec<SqlitePlan> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {q}")).load(c).unwrap();
            rows.into_iter().map(|r| r.detail).collect::<Vec<_>>().join("\n")
        }
    }
}

#[actix_web::test]
async fn custom_fields_get_the_indexes_their_filters_use() {
    let app = spawn_quiet().await;
    contact_fields(&app).await;
    let ensure = |app: &TestApp| {
        let db = app.db.clone();
        actix_web::rt::task::spawn_blocking(move || db.run_sync(crm_records::custom::ensure_indexes).unwrap())
    };
    let mut created = ensure(&app).await.unwrap().created;
    created.sort();
    let pg = app.database_url.starts_with("postgres");
    let mut expected = vec![
        "cfx_contacts_budget",
        "cfx_contacts_note",
        "cfx_contacts_partner",
        "cfx_contacts_score",
        "cfx_contacts_tier",
        "cfx_contacts_vip",
    ];
    if !pg {
        // PostgreSQL cannot index a text-to-date cast (it is not immutable); SQLite compares text.
        expected.insert(3, "cfx_contacts_renewal");
    }
    assert_eq!(created, expected, "lists of options are not indexed");
    assert_eq!(ensure(&app).await.unwrap(), Default::default(), "a second run changes nothing");

    // The list's own expressions are the indexed ones.
    let spec = |name: &str, t| crm_core::custom::CustomFieldSpec {
        resource: "contacts".into(),
        name: name.into(),
        field_type: t,
        required: false,
        default: None,
        options: vec!["gold".into(), "silver".into(), "bronze".into()],
        min: None,
        max: None,
        max_length: None,
        reference_to: None,
    };
    use crm_core::custom::{CustomFieldType, field_defs};
    for (name, t, value) in [
        ("tier", CustomFieldType::Enum, "'gold'"),
        ("score", CustomFieldType::Number, "50"),
        ("vip", CustomFieldType::Boolean, "TRUE"),
    ] {
        let col = field_defs(&spec(name, t))[0].column;
        let db = app.db.clone();
        let cond = format!("{col} = {value}");
        let p = actix_web::rt::task::spawn_blocking(move || {
            db.run_sync(|c| Ok::<_, crm_db::DbError>(plan(c, &cond))).unwrap()
        })
        .await
        .unwrap();
        assert!(p.contains(&format!("cfx_contacts_{name}")), "{name}: {p}");
    }
    let budget = field_defs(&spec("budget", CustomFieldType::Money));
    let cond = format!("{} = 'KRW' AND {} > 100", budget[1].column, budget[0].column);
    let db = app.db.clone();
    let p =
        actix_web::rt::task::spawn_blocking(move || db.run_sync(|c| Ok::<_, crm_db::DbError>(plan(c, &cond))).unwrap())
            .await
            .unwrap();
    assert!(p.contains("cfx_contacts_budget"), "{p}");

    // A removed field's index goes; restored, it comes back.
    let fields = app.get(&format!("/api/v1/schema/contacts/fields?filter={}", enc("name[eq]:score"))).await.expect(200);
    let score = s(&fields["data"][0]["id"]).to_string();
    assert_eq!(app.delete(&format!("/api/v1/custom-fields/{score}")).await.status, 204);
    assert_eq!(ensure(&app).await.unwrap().dropped, ["cfx_contacts_score"]);
    app.post(&format!("/api/v1/custom-fields/{score}/restore"), json!({})).await.expect(200);
    assert_eq!(ensure(&app).await.unwrap().created, ["cfx_contacts_score"]);
}
