use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::*;

#[actix_web::test]
async fn account_crud_with_versions_etags_and_normalization() {
    let app = spawn().await;
    for (name, t) in [("erp_segment", "text"), ("region_code", "number")] {
        app.created("/api/v1/schema/accounts/fields", json!({"name": name, "type": t})).await;
    }
    let created = app
        .post(
            "/api/v1/accounts",
            json!({
                "name": " Acme Korea ", "domain": "https://www.ACME.co.kr/about", "industry": "software",
                "tier": "gold", "phone": "02-1234-5678", "country": "kr", "city": "Seoul",
                "website": "acme.co.kr", "annual_revenue": {"amount_minor": 5_000_000_000_000i64, "currency": "krw"},
                "employee_count": 120, "tags": ["VIP", "vip", "b2b"], "custom_fields": {"erp_segment": "A"},
                "latitude": 37.5665, "longitude": 126.978
            }),
        )
        .await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.header("location").unwrap(), format!("/api/v1/accounts/{id}"));
    assert_eq!(created.header("etag").unwrap(), "\"1\"");
    let a = created.body;
    assert_eq!(a["name"], "Acme Korea");
    assert_eq!(a["domain"], "acme.co.kr");
    assert_eq!(a["phone"], "+82212345678");
    assert_eq!(a["country"], "KR");
    assert_eq!(a["website"], "https://acme.co.kr");
    assert_eq!(a["annual_revenue"], json!({"amount_minor": 5_000_000_000_000i64, "currency": "KRW"}));
    assert_eq!(a["tags"], json!(["vip", "b2b"]));
    assert_eq!(a["version"], 1);
    assert!(a["created_at"].as_str().unwrap().ends_with('Z'));

    // GET with ETag, and 304 when the client has this version.
    let got = app.get(&format!("/api/v1/accounts/{id}")).await;
    assert_eq!(got.header("etag").unwrap(), "\"1\"");
    assert_eq!(got.body, a);
    let nm = app
        .call(Method::GET, &format!("/api/v1/accounts/{id}"), Some(&app.admin), None, &[("If-None-Match", "\"1\"")])
        .await;
    assert_eq!(nm.status, 304);

    // Merge patch: null clears, absent keeps, custom fields merge.
    let p = app
        .patch(
            &format!("/api/v1/accounts/{id}"),
            json!({"industry": null, "tier": "platinum", "custom_fields": {"region_code": 7}}),
        )
        .await
        .expect(200);
    assert_eq!(p["industry"], json!(null));
    assert_eq!(p["tier"], "platinum");
    assert_eq!(p["domain"], "acme.co.kr");
    assert_eq!(p["custom_fields"], json!({"erp_segment": "A", "region_code": 7}));
    assert_eq!(p["version"], 2);

    // A patch that changes nothing keeps the version.
    let same = app.patch(&format!("/api/v1/accounts/{id}"), json!({"tier": "platinum"})).await.expect(200);
    assert_eq!(same["version"], 2);

    // Stale If-Match: 412 with the current version.
    let stale = app
        .call(
            Method::PATCH,
            &format!("/api/v1/accounts/{id}"),
            Some(&app.admin),
            Some(json!({"name": "X"})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.body["code"], "VERSION_CONFLICT");
    assert_eq!(stale.body["current_version"], 2);
    let fresh = app
        .call(
            Method::PATCH,
            &format!("/api/v1/accounts/{id}"),
            Some(&app.admin),
            Some(json!({"name": "Acme KR"})),
            &[("If-Match", "\"2\"")],
        )
        .await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    assert_eq!(fresh.header("etag").unwrap(), "\"3\"");

    // Archive, gone from lists, still readable, restore.
    assert_eq!(app.delete(&format!("/api/v1/accounts/{id}")).await.status, 204);
    let list = app.get("/api/v1/accounts").await.expect(200);
    assert!(list["data"].as_array().unwrap().is_empty());
    let archived = app.get("/api/v1/accounts?archived=only").await.expect(200);
    assert_eq!(archived["data"][0]["id"], id);
    assert!(archived["data"][0]["archived_at"].is_string());
    let restored = app.post(&format!("/api/v1/accounts/{id}/restore"), json!({})).await.expect(200);
    assert_eq!(restored["archived_at"], json!(null));
    assert_eq!(restored["version"], 5);
    assert_eq!(app.get("/api/v1/accounts").await.expect(200)["data"].as_array().unwrap().len(), 1);

    // Unknown ids and malformed ids are 404 problems.
    let missing = app.get("/api/v1/accounts/01a20352-0000-7000-8000-000000000000").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-type").unwrap(), "application/problem+json");
    assert_eq!(app.get("/api/v1/accounts/not-a-uuid").await.status, 404);
}

#[actix_web::test]
async fn concurrent_conditional_patches_exactly_one_wins() {
    let app = spawn().await;
    let a = app.account("Race Inc", json!({})).await;
    let path = format!("/api/v1/accounts/{}", a["id"].as_str().unwrap());
    let (r1, r2) = futures_util::join!(
        app.call(Method::PATCH, &path, Some(&app.admin), Some(json!({"industry": "one"})), &[("If-Match", "\"1\"")]),
        app.call(Method::PATCH, &path, Some(&app.admin), Some(json!({"industry": "two"})), &[("If-Match", "\"1\"")]),
    );
    let mut statuses = [r1.status.as_u16(), r2.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412], "{} / {}", r1.body, r2.body);
    let winner = if r1.status == 200 { &r1.body } else { &r2.body };
    let now = app.get(&path).await.expect(200);
    assert_eq!(now["version"], 2);
    assert_eq!(now["industry"], winner["industry"]);

    // Without If-Match, concurrent writers are serialized and none is lost.
    let futs: Vec<_> = (0..6).map(|i| app.patch(&path, json!({"tags": [format!("t{i}")]}))).collect();
    for r in futures_util::future::join_all(futs).await {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(app.get(&path).await.expect(200)["version"], 8);
}

#[actix_web::test]
async fn duplicate_domains_and_invalid_input_are_refused() {
    let app = spawn().await;
    let first = app.account("Acme", json!({"domain": "acme.com"})).await;
    let dup = app.post("/api/v1/accounts", json!({"name": "Acme 2", "domain": "WWW.ACME.COM"})).await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.body["code"], "DUPLICATE_RECORD");
    assert_eq!(dup.body["existing_id"], first["id"]);
    assert_eq!(error_fields(&dup.body), vec!["domain"]);

    let bad = app
        .post(
            "/api/v1/accounts",
            json!({"name": "", "domain": "nope", "country": "Korea", "phone": "12", "employee_count": -3,
                   "annual_revenue": {"amount_minor": 1, "currency": "DOLLARS"}, "latitude": 123.0, "custom_fields": [1]}),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["code"], "VALIDATION_FAILED");
    let fields = error_fields(&bad.body);
    for f in
        ["name", "domain", "country", "phone", "employee_count", "annual_revenue.currency", "latitude", "custom_fields"]
    {
        assert!(fields.contains(&f.to_string()), "{f} not in {fields:?}");
    }
    assert!(bad.body["request_id"].is_string());

    // Unknown fields, wrong types and broken JSON are refused, not ignored.
    let unknown = app.post("/api/v1/accounts", json!({"name": "A", "nmae": "typo"})).await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.body["detail"].as_str().unwrap().contains("nmae"));
    let typed = app.post("/api/v1/accounts", json!({"name": "A", "tier": "wood"})).await;
    assert_eq!(typed.status, 422);
    let raw = app
        .client
        .post(format!("{}/api/v1/accounts", app.base))
        .insert_header(("Authorization", format!("Bearer {}", app.admin)))
        .insert_header(("Content-Type", "application/json"))
        .send_body("{not json")
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);

    // Archiving frees the domain; restoring the old one then conflicts.
    let id = first["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/v1/accounts/{id}")).await.status, 204);
    app.account("Acme New", json!({"domain": "acme.com"})).await;
    let restore = app.post(&format!("/api/v1/accounts/{id}/restore"), json!({})).await;
    assert_eq!(restore.status, 409);
}

#[actix_web::test]
async fn unknown_routes_are_problem_documents() {
    let app = spawn().await;
    let r = app.get("/api/v1/nothing-here").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["code"], "NOT_FOUND");
    assert!(r.header("x-request-id").is_some());
    assert_eq!(r.body["request_id"].as_str(), r.header("x-request-id").as_deref());
    let health = app.call(Method::GET, "/healthz", None, None, &[]).await.expect(200);
    assert_eq!(health["status"], "ok");
    let ready = app.call(Method::GET, "/readyz", None, None, &[]).await.expect(200);
    assert_eq!(ready["status"], "ready");
}

#[actix_web::test]
async fn requests_the_contract_does_not_allow_get_the_documented_answers() {
    let app = spawn().await;
    // A method a path does not take: 405 with the methods it does take.
    let r = app.call(Method::PUT, "/api/v1/accounts", Some(&app.admin), Some(json!({})), &[]).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow").as_deref(), Some("GET, POST"));
    assert_eq!(r.body["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("content-type").as_deref(), Some("application/problem+json"));
    // `/users/me` is not `/users/{id}`: PATCH there is 405, not a 404 for the id `me`.
    let me = app.call(Method::PATCH, "/api/v1/users/me", Some(&app.admin), Some(json!({})), &[]).await;
    assert_eq!((me.status.as_u16(), me.header("allow").as_deref()), (405, Some("GET")));
    // A body is an object: an array is not read as fields in order.
    let a = app.account("Shape Co", json!({})).await;
    let arr = app.patch(&format!("/api/v1/accounts/{}", a["id"].as_str().unwrap()), json!([null, null])).await;
    assert_eq!((arr.status.as_u16(), arr.body["code"].as_str()), (422, Some("INVALID_BODY")));
    let after = app.get(&format!("/api/v1/accounts/{}", a["id"].as_str().unwrap())).await.expect(200);
    assert_eq!((after["name"].as_str(), after["version"].as_i64()), (Some("Shape Co"), Some(1)));
    // An empty batch is invalid, not too large.
    let empty = app.post("/api/v1/accounts/batch", json!({"operations": []})).await;
    assert_eq!((empty.status.as_u16(), empty.body["code"].as_str()), (422, Some("VALIDATION_FAILED")));
    // An If-Match that is not text is malformed; an empty one demands nothing.
    let id = a["id"].as_str().unwrap();
    let empty_match = app
        .call(
            Method::PATCH,
            &format!("/api/v1/accounts/{id}"),
            Some(&app.admin),
            Some(json!({"industry": "x"})),
            &[("If-Match", "")],
        )
        .await;
    assert_eq!(empty_match.status, 200);
}

#[actix_web::test]
async fn include_embeds_the_first_children_of_every_relation_the_catalog_declares() {
    let app = spawn_quiet().await;
    let p = app.pipeline("Sales", json!({"is_default": true})).await;
    let acme = app.account("Acme", json!({})).await;
    let other = app.account("Other", json!({})).await;
    let ada = app.contact("Ada", "Lovelace", json!({"account_id": acme["id"]})).await;
    app.contact("Bob", "Other", json!({"account_id": other["id"]})).await;
    for i in 0..23 {
        app.opportunity(&format!("Deal {i:02}"), &acme, &p, json!({"contact_id": ada["id"]})).await;
    }
    app.case("Broken", json!({"contact_id": ada["id"]})).await;
    app.interaction(&ada, json!({})).await;

    // Lists: each account with its first 20 deals (newest first), its contacts and cases.
    let before = app.db.statements_executed();
    let page = app.get("/api/v1/accounts?include=contacts,opportunities,cases&sort=name").await.expect(200);
    let used = app.db.statements_executed() - before;
    let (a, o) = (&page["data"][0], &page["data"][1]);
    assert_eq!((a["name"].as_str(), o["name"].as_str()), (Some("Acme"), Some("Other")));
    let deals: Vec<&str> = a["opportunities"]["data"].as_array().unwrap().iter().map(|d| s(&d["name"])).collect();
    let newest: Vec<String> = (3..23).rev().map(|i| format!("Deal {i:02}")).collect();
    assert_eq!(deals, newest);
    assert_eq!(a["contacts"]["data"][0]["first_name"], "Ada");
    assert_eq!(a["cases"]["data"][0]["subject"], "Broken");
    assert_eq!(a["cases"]["next_cursor"], Value::Null);
    assert_eq!(o["opportunities"], json!({"data": [], "next_cursor": null}));
    assert!(a.get("interactions").is_none() && a.get("owner").is_none(), "only what was asked: {a}");
    // The page and its external ids, then per child list one window query for all the
    // accounts and its records' external ids (deals also their lines and stages): 10, the
    // same for two accounts as for two hundred.
    assert!(used <= 10, "{used} statements");

    // The cursor continues with the child list filtered on the parent.
    let cursor = a["opportunities"]["next_cursor"].as_str().unwrap();
    let filter = format!("account_id[eq]:{}", s(&acme["id"]));
    let rest =
        app.get(&format!("/api/v1/opportunities?filter={}&cursor={}", enc(&filter), enc(cursor))).await.expect(200);
    let tail: Vec<&str> = rest["data"].as_array().unwrap().iter().map(|d| s(&d["name"])).collect();
    assert_eq!(tail, ["Deal 02", "Deal 01", "Deal 00"]);

    // One record; a contact's children; and what may be included, when asked for more.
    let one = app.get(&format!("/api/v1/accounts/{}?include=interactions,owner", s(&acme["id"]))).await.expect(200);
    assert_eq!(one["interactions"]["data"].as_array().unwrap().len(), 1);
    assert!(one["owner"].is_null() && one.get("opportunities").is_none(), "{one}");
    let c = app.get(&format!("/api/v1/contacts/{}?include=cases,opportunities", s(&ada["id"]))).await.expect(200);
    assert_eq!(
        (c["cases"]["data"].as_array().unwrap().len(), c["opportunities"]["data"].as_array().unwrap().len()),
        (1, 20)
    );
    let bad = app.get("/api/v1/accounts?include=invoices").await.expect(400);
    assert_eq!(
        bad["errors"][0]["message"],
        "includable: owner, contacts, opportunities, cases, interactions, activities, purchases"
    );
    // A child list the token may not read is refused, like the list itself would be.
    let narrow = token(&app.keys, "integration", &[], &["accounts:read"]);
    let r = app.call(Method::GET, "/api/v1/accounts?include=cases", Some(&narrow), None, &[]).await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
}

#[actix_web::test]
async fn amounts_sort_and_compare_only_within_one_currency() {
    let app = spawn().await;
    for (name, minor, currency) in
        [("Won Co", 900_000_000i64, "KRW"), ("Dollar Inc", 2_000_000, "USD"), ("Big Won", 5_000_000_000i64, "KRW")]
    {
        app.account(name, json!({"annual_revenue": {"amount_minor": minor, "currency": currency}})).await;
    }
    app.account("No Revenue", json!({})).await;
    let names = |r: &Value| -> Vec<String> {
        r["data"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_string()).collect()
    };
    // 2 000 000 cents are not more than 900 000 000 won: no order across currencies.
    let r = app.get("/api/v1/accounts?sort=-annual_revenue").await.expect(400);
    assert_eq!((r["code"].clone(), r["errors"][0]["field"].clone()), (json!("INVALID_SORT"), json!("sort")));
    assert_eq!(r["errors"][0]["code"], "currency_required");
    assert!(r["detail"].as_str().unwrap_or_default().contains("annual_revenue_currency[eq]"), "{r}");
    let r = app.get("/api/v1/accounts?filter=annual_revenue%5Bgt%5D%3A1000000").await.expect(400);
    assert_eq!(
        (r["code"].clone(), r["errors"][0]["code"].clone()),
        (json!("INVALID_FILTER"), json!("currency_required"))
    );
    assert_eq!(r["errors"][0]["field"], "annual_revenue");
    // Within one currency they sort and compare; `is_null` and zero need no currency.
    let r =
        app.get("/api/v1/accounts?sort=-annual_revenue&filter=annual_revenue_currency%5Beq%5D%3Akrw").await.expect(200);
    assert_eq!(names(&r), ["Big Won", "Won Co"]);
    let f = "or(and(annual_revenue_currency[eq]:KRW,annual_revenue[gte]:1000000000),and(annual_revenue_currency[eq]:USD,annual_revenue[gte]:1000000))";
    let r = app.get(&format!("/api/v1/accounts?sort=name&filter={}", enc(f))).await.expect(200);
    assert_eq!(names(&r), ["Big Won", "Dollar Inc"]);
    let r = app.get("/api/v1/accounts?filter=annual_revenue%5Bis_null%5D%3Atrue").await.expect(200);
    assert_eq!(names(&r), ["No Revenue"]);
    // Deals: the same rule on `amount` (its currency is the deal's `currency`), in REST and GraphQL.
    let p = app.pipeline("Sales", json!({"is_default": true})).await;
    let acme = app.account("Acme", json!({})).await;
    for (name, minor, currency) in [("Small", 1_000, "EUR"), ("Large", 9_000, "EUR"), ("Yen", 500_000, "JPY")] {
        app.opportunity(name, &acme, &p, json!({"amount": {"amount_minor": minor, "currency": currency}})).await;
    }
    let r = app.get("/api/v1/opportunities?sort=-amount").await.expect(400);
    assert_eq!(r["errors"][0]["code"], "currency_required", "{r}");
    let r = app.get("/api/v1/opportunities?sort=-amount&filter=currency%5Beq%5D%3AEUR").await.expect(200);
    assert_eq!(names(&r), ["Large", "Small"]);
    let g = app
        .gql(&app.admin, "{ opportunities(orderBy: [{field: AMOUNT, direction: DESC}]) { nodes { name } } }", json!({}))
        .await;
    assert_eq!(g["errors"][0]["extensions"]["code"], "INVALID_SORT", "{g}");
    let g = app
        .gql(
            &app.admin,
            "{ opportunities(where: {currency: {eq: \"EUR\"}}, orderBy: [{field: AMOUNT, direction: DESC}]) { nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(g["data"]["opportunities"]["nodes"], json!([{"name": "Large"}, {"name": "Small"}]), "{g}");
}
