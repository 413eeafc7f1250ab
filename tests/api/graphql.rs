use serde_json::{Value, json};

use crate::support::*;

const CONTACT_FIELDS: &str = "id firstName lastName email emails phone phones title department accountId ownerId \
    lifecycleStage emailConsent emailConsentAt doNotCall doNotMail marketingOptOut street city region postalCode country latitude longitude \
    tags customFields lifetimeValue { amountMinor currency } purchaseCount lastPurchaseAt externalIds { source id } \
    version createdAt updatedAt archivedAt";

/// GraphQL enums are SCREAMING_CASE; REST uses snake_case. Everything else is identical.
fn normalize_gql(v: &Value, key: &str) -> Value {
    match (key, v) {
        ("lifecycleStage" | "emailConsent" | "tier", Value::String(s)) => Value::String(s.to_lowercase()),
        _ => v.clone(),
    }
}

#[actix_web::test]
async fn rest_and_graphql_return_the_same_records() {
    let app = spawn().await;
    app.created("/api/v1/schema/contacts/fields", json!({"name": "k", "type": "number"})).await;
    let acc = app
        .account(
            "Parity Co",
            json!({"tier": "gold", "annual_revenue": {"amount_minor": 9_000_000_000i64, "currency": "KRW"}}),
        )
        .await;
    for i in 0..5 {
        app.contact(&format!("P{i}"), "Same", json!({"account_id": acc["id"], "email": format!("p{i}@parity.example.com"),
            "phone": format!("+82 10 5555 000{i}"), "tags": ["x"], "custom_fields": {"k": i}, "email_consent": "opted_in"})).await;
    }
    let rest = app.get("/api/v1/contacts?limit=3&sort=first_name&filter=account.tier%5Beq%5D:gold").await.expect(200);
    let q = format!(
        "query($f: String) {{ contacts(first: 3, orderBy: [{{field: FIRST_NAME}}], filter: $f) {{ nodes {{ {CONTACT_FIELDS} account {{ id name tier annualRevenue {{ amountMinor currency }} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let gql = app.gql(&app.admin, &q, json!({"f": "account.tier[eq]:gold"})).await;
    assert!(gql.get("errors").is_none(), "{gql}");
    let nodes = gql["data"]["contacts"]["nodes"].as_array().unwrap();
    let rows = rest["data"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    for (row, node) in rows.iter().zip(nodes) {
        for (k, v) in row.as_object().unwrap() {
            let ck = camel(k);
            assert_eq!(normalize_gql(&node[&ck], &ck), *v, "field {k}");
        }
        assert_eq!(node["account"]["annualRevenue"]["amountMinor"], 9_000_000_000i64);
    }
    // Same cursor semantics: GraphQL's endCursor continues the REST page.
    let cursor = gql["data"]["contacts"]["pageInfo"]["endCursor"].as_str().unwrap();
    assert_eq!(cursor, rest["next_cursor"].as_str().unwrap());
    let next = app
        .get(&format!("/api/v1/contacts?limit=3&sort=first_name&filter=account.tier%5Beq%5D:gold&cursor={cursor}"))
        .await
        .expect(200);
    assert_eq!(next["data"].as_array().unwrap().len(), 2);

    // Account.contacts through the loader, and totalCount.
    let g = app
        .gql(
            &app.admin,
            "{ accounts(first: 10) { totalCount nodes { name contacts(first: 2) { nodes { lastName } pageInfo { hasNextPage endCursor } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(g["data"]["accounts"]["totalCount"], 1);
    let nested = &g["data"]["accounts"]["nodes"][0]["contacts"];
    assert_eq!(nested["nodes"].as_array().unwrap().len(), 2);
    // Paged like the REST list of the account's contacts: the cursor continues it there.
    assert_eq!(nested["pageInfo"]["hasNextPage"], true);
    let acc_contacts =
        app.get(&format!("/api/v1/accounts/{}/contacts?limit=2", acc["id"].as_str().unwrap())).await.expect(200);
    assert_eq!(acc_contacts["next_cursor"], nested["pageInfo"]["endCursor"]);
    let rest_rest = app
        .get(&format!(
            "/api/v1/accounts/{}/contacts?limit=10&cursor={}",
            acc["id"].as_str().unwrap(),
            nested["pageInfo"]["endCursor"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(rest_rest["data"].as_array().unwrap().len(), 3);
}

#[actix_web::test]
async fn graphql_where_mutations_and_errors() {
    let app = spawn().await;
    let created = app
        .gql(
            &app.admin,
            "mutation($i: AccountInput!) { createAccount(input: $i) { id version domain tier } }",
            json!({"i": {"name": "GQL Co", "domain": "gql.example.com", "tier": "SILVER"}}),
        )
        .await;
    let acc = &created["data"]["createAccount"];
    assert_eq!(acc["version"], 1);
    assert_eq!(acc["tier"], "SILVER");
    let id = acc["id"].as_str().unwrap();

    // Merge patch semantics: null clears, absent keeps; expectedVersion guards.
    let upd = app
        .gql(
            &app.admin,
            "mutation($id: UUID!) { updateAccount(id: $id, input: {domain: null, industry: \"media\"}, expectedVersion: 1) { version domain industry tier } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        upd["data"]["updateAccount"],
        json!({"version": 2, "domain": null, "industry": "media", "tier": "SILVER"})
    );
    let stale = app
        .gql(
            &app.admin,
            "mutation($id: UUID!) { updateAccount(id: $id, input: {industry: \"x\"}, expectedVersion: 1) { version } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(stale["errors"][0]["extensions"]["code"], "VERSION_CONFLICT");
    assert_eq!(stale["errors"][0]["extensions"]["current_version"], 2);

    // Validation errors carry the same code and fields as REST.
    let bad = app.gql(&app.admin, "mutation { createContact(input: {email: \"nope\"}) { id } }", json!({})).await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "VALIDATION_FAILED");
    assert_eq!(bad["errors"][0]["extensions"]["errors"][0]["field"], "email");

    // Typed `where` objects: a misspelled field or enum value fails validation, naming it.
    app.contact("Wh", "Ere", json!({"city": "Seoul", "account_id": id})).await;
    app.contact("No", "Where", json!({"city": "Busan"})).await;
    let w = app
        .gql(
            &app.admin,
            "{ contacts(where: {city: {eq: \"Seoul\"}, account: {industry: {in: [\"media\"]}}}) { nodes { lastName } } }",
            json!({}),
        )
        .await;
    assert_eq!(w["data"]["contacts"]["nodes"], json!([{"lastName": "Ere"}]));
    let badw = app.gql(&app.admin, "{ contacts(where: {shoe: {eq: \"1\"}}) { nodes { id } } }", json!({})).await;
    assert_eq!(badw["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    assert!(badw["errors"][0]["message"].as_str().unwrap().contains("shoe"), "{badw}");
    let bad_enum = app.gql(&app.admin, "{ accounts(where: {tier: {eq: WOOD}}) { nodes { id } } }", json!({})).await;
    assert_eq!(bad_enum["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    assert!(bad_enum["errors"][0]["message"].as_str().unwrap().contains("WOOD"), "{bad_enum}");

    // Missing records are null, not errors; archive and restore work.
    let missing =
        app.gql(&app.admin, "{ contact(id: \"01a20352-0000-7000-8000-000000000000\") { id } }", json!({})).await;
    assert_eq!(missing["data"]["contact"], Value::Null);
    let arch = app
        .gql(&app.admin, "mutation($id: UUID!) { archiveAccount(id: $id) { archivedAt version } }", json!({"id": id}))
        .await;
    assert!(arch["data"]["archiveAccount"]["archivedAt"].is_string());
    let rest = app.get(&format!("/api/v1/accounts/{id}")).await.expect(200);
    assert_eq!(rest["version"], 3);
}

#[actix_web::test]
async fn graphql_lists_with_relations_use_a_constant_number_of_statements() {
    let app = spawn_quiet().await;
    for i in 0..40 {
        let a = app.account(&format!("Co {i}"), json!({})).await;
        app.contact(&format!("F{i}"), "Loader", json!({"account_id": a["id"]})).await;
    }
    let query = "query($n: Int!) { contacts(first: $n) { nodes { id account { id name contacts(first: 3) { nodes { id } } } } } }";
    let mut deltas = Vec::new();
    for n in [5, 40] {
        let before = app.db.statements_executed();
        let r = app.gql(&app.admin, query, json!({"n": n})).await;
        assert!(r.get("errors").is_none(), "{r}");
        assert_eq!(r["data"]["contacts"]["nodes"].as_array().unwrap().len(), n as usize);
        deltas.push(app.db.statements_executed() - before);
    }
    // One list query, the accounts its nodes select in the same trip, and one statement for
    // the first contacts of every account (a window query): 3, for 5 rows as for 40. External
    // ids are read nowhere, as nothing selects them.
    assert_eq!(deltas, vec![3, 3], "statements for 5 rows vs 40 rows");
}

#[actix_web::test]
async fn graphql_reads_external_ids_only_when_selected_and_always_right() {
    let app = spawn_quiet().await;
    let acc = app.account("Xid Co", json!({"external_ids": [{"source": "erp", "id": "A-1"}]})).await;
    let c = app
        .contact("Xid", "Person", json!({"account_id": acc["id"], "external_ids": [{"source": "erp", "id": "C-1"}]}))
        .await;
    let erp = |id: &str| json!([{"source": "erp", "id": id}]);

    // Selected on the page and on its accounts: read with them, in the same statements.
    let with =
        "{ contacts(first: 10) { nodes { id externalIds { source id } account { externalIds { source id } } } } }";
    let before = app.db.statements_executed();
    let r = app.gql(&app.admin, with, json!({})).await;
    let used = app.db.statements_executed() - before;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(r["data"]["contacts"]["nodes"][0]["externalIds"], erp("C-1"));
    assert_eq!(r["data"]["contacts"]["nodes"][0]["account"]["externalIds"], erp("A-1"));
    assert_eq!(used, 4, "page, its external ids, accounts, theirs");

    // Not selected: two statements fewer.
    let without = "{ contacts(first: 10) { nodes { id account { name } } } }";
    let before = app.db.statements_executed();
    let r = app.gql(&app.admin, without, json!({})).await;
    let used = app.db.statements_executed() - before;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(r["data"]["contacts"]["nodes"][0]["account"]["name"], "Xid Co");
    assert_eq!(used, 2, "page and accounts only");

    // The same records reached another way in the same request, with `externalIds` selected
    // there: the page read them without, the loaders share records, and the answer is still
    // complete. Also on the accounts list.
    let mixed = "query($id: UUID!) {
        contacts(first: 10) { nodes { id account { name } } }
        contact(id: $id) { externalIds { source id } account { externalIds { source id } } }
        accounts(first: 10) { nodes { name } }
        account: accountByExternalId(externalId: {source: \"erp\", id: \"A-1\"}) { externalIds { id } }
    }";
    let r = app.gql(&app.admin, mixed, json!({"id": c["id"]})).await;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(r["data"]["contact"]["externalIds"], erp("C-1"));
    assert_eq!(r["data"]["contact"]["account"]["externalIds"], erp("A-1"));
    assert_eq!(r["data"]["account"]["externalIds"], json!([{"id": "A-1"}]));
    let accounts = "{ accounts(first: 10) { nodes { name externalIds { id } } } }";
    let r = app.gql(&app.admin, accounts, json!({})).await;
    assert_eq!(r["data"]["accounts"]["nodes"][0]["externalIds"], json!([{"id": "A-1"}]), "{r}");
}

/// GraphQL ids of `contacts(where: …, orderBy: …)`, every page.
async fn gql_contact_ids(app: &TestApp, where_: &str, order_by: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let q = format!(
            "query($after: String) {{ contacts(first: 4, after: $after, where: {where_}, orderBy: {order_by}) \
             {{ nodes {{ id }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        let r = app.gql(&app.admin, &q, json!({"after": after})).await;
        assert!(r["errors"].is_null(), "{where_}: {r}");
        let c = &r["data"]["contacts"];
        ids.extend(c["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()));
        if c["pageInfo"]["hasNextPage"] != true {
            return ids;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
}

#[actix_web::test]
async fn typed_where_and_the_rest_filter_select_the_same_records() {
    let app = spawn().await;
    let owner = app.post("/api/v1/users", json!({"name": "Owner", "email": "owner@acme.test"})).await.expect(201);
    let gold = app
        .account(
            "Gold Co",
            json!({"tier": "gold", "owner_id": owner["id"], "annual_revenue": {"amount_minor": 5_000_000, "currency": "EUR"}}),
        )
        .await;
    let plat = app
        .account("Plat Co", json!({"tier": "platinum", "annual_revenue": {"amount_minor": 90_000, "currency": "EUR"}}))
        .await;
    let bronze = app.account("Bronze Co", json!({"tier": "bronze"})).await;
    // (first, last, city, account, tags, stage)
    let people = [
        ("Ann", "Kim", Some("Seoul"), Some(&gold), vec!["vip"], "customer"),
        ("Bo", "Kang", Some("Seoul"), Some(&plat), vec![], "lead"),
        ("Cy", "Lee", Some("Seoul"), Some(&bronze), vec!["vip", "press"], "lead"),
        ("Di", "Kwon", Some("Busan"), Some(&gold), vec![], "opportunity"),
        ("Ed", "Park", None, None, vec!["vip"], "customer"),
        ("Fa", "Kimura", Some("Seoul"), None, vec![], "churned"),
    ];
    let mut by_last = std::collections::HashMap::new();
    for (first, last, city, account, tags, stage) in &people {
        let c = app
            .contact(
                first,
                last,
                json!({"city": city, "account_id": account.map(|a| a["id"].clone()), "tags": tags,
                       "lifecycle_stage": stage, "email": format!("{first}@Example.com")}),
            )
            .await;
        by_last.insert(c["id"].as_str().unwrap().to_string(), *last);
    }
    let names = |ids: &[String]| ids.iter().map(|i| by_last[i]).collect::<Vec<_>>();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "city[eq]:Seoul,account.tier[in]:[gold,platinum]",
            "{city: {eq: \"Seoul\"}, account: {tier: {in: [GOLD, PLATINUM]}}}",
            &["Kang", "Kim"],
        ),
        (
            "or(last_name[starts_with]:kim,tags[eq]:vip)",
            "{or: [{lastName: {startsWith: \"kim\"}}, {tags: {eq: \"vip\"}}]}",
            &["Kim", "Kimura", "Lee", "Park"],
        ),
        ("not(city[is_null]:true)", "{not: {city: {isNull: true}}}", &["Kang", "Kim", "Kimura", "Kwon", "Lee"]),
        (
            "account(annual_revenue_currency[eq]:EUR,annual_revenue[gt]:100000)",
            "{account: {annualRevenueCurrency: {eq: \"EUR\"}, annualRevenue: {gt: 100000}}}",
            &["Kim", "Kwon"],
        ),
        (
            "account.owner.email[eq]:OWNER@acme.test",
            "{account: {owner: {email: {eq: \"OWNER@acme.test\"}}}}",
            &["Kim", "Kwon"],
        ),
        ("email[contains]:a@EXAMPLE", "{email: {contains: \"a@EXAMPLE\"}}", &["Kimura"]),
        (
            "lifecycle_stage[nin]:[lead,customer],account_id[is_null]:false",
            "{lifecycleStage: {nin: [LEAD, CUSTOMER]}, accountId: {isNull: false}}",
            &["Kwon"],
        ),
        (
            "created_at[gte]:2000-01-01T00:00:00Z,tags[in]:[press]",
            "{createdAt: {gte: \"2000-01-01T00:00:00Z\"}, tags: {in: [\"press\"]}}",
            &["Lee"],
        ),
    ];
    for (rest, typed, expected) in cases {
        let rest_ids = app.all_ids(&format!("/api/v1/contacts?limit=4&sort=last_name&filter={}", enc(rest))).await;
        let gql_ids = gql_contact_ids(&app, typed, "[{field: LAST_NAME}]").await;
        assert_eq!(names(&rest_ids), *expected, "REST {rest}");
        assert_eq!(gql_ids, rest_ids, "GraphQL {typed} against REST {rest}");
    }
    // Descending order and several keys agree too.
    let rest_ids = app.all_ids("/api/v1/contacts?limit=4&sort=-city,last_name").await;
    let gql_ids = gql_contact_ids(&app, "{}", "[{field: CITY, direction: DESC}, {field: LAST_NAME}]").await;
    assert_eq!(gql_ids, rest_ids);
    assert_eq!(names(&rest_ids)[..2], ["Kang", "Kim"]);
}

#[actix_web::test]
async fn list_errors_name_the_graphql_arguments_not_the_rest_parameters() {
    let app = spawn().await;
    let acme = app.account("Acme", json!({})).await;
    for first in [0, 1001, -1] {
        let g =
            app.gql(&app.admin, "query($n: Int!) { contacts(first: $n) { nodes { id } } }", json!({"n": first})).await;
        let e = &g["errors"][0];
        assert_eq!(e["extensions"]["code"], "INVALID_PARAMETER", "{g}");
        assert_eq!(e["extensions"]["errors"][0]["field"], "first", "{g}");
        assert!(e["message"].as_str().unwrap().starts_with("first must be"), "{g}");
        // Connections under a record too.
        let q = "query($id: UUID!, $n: Int!) { account(id: $id) { contacts(first: $n) { nodes { id } } } }";
        let g = app.gql(&app.admin, q, json!({"id": acme["id"], "n": first})).await;
        assert_eq!(g["errors"][0]["extensions"]["errors"][0]["field"], "first", "{g}");
    }
    let g = app.gql(&app.admin, "{ contacts(after: \"not-a-cursor\") { nodes { id } } }", json!({})).await;
    assert_eq!(g["errors"][0]["extensions"]["code"], "INVALID_CURSOR", "{g}");
    assert_eq!(g["errors"][0]["extensions"]["errors"][0]["field"], "after", "{g}");
    let long = "x".repeat(201);
    let g =
        app.gql(&app.admin, "query($q: String) { contacts(search: $q) { nodes { id } } }", json!({"q": long})).await;
    assert_eq!(g["errors"][0]["extensions"]["errors"][0]["field"], "search", "{g}");
    // REST keeps its own names.
    let r = app.get("/api/v1/contacts?limit=0").await.expect(400);
    assert_eq!(r["errors"][0]["field"], "limit");
}

#[actix_web::test]
async fn a_customer_screen_is_one_request_with_a_constant_number_of_statements() {
    let app = spawn_quiet().await;
    let p = app.pipeline("Sales", json!({"is_default": true})).await;
    let won = p["stages"][1]["id"].clone();
    let product = app.product("SKU-1", json!({})).await;
    for i in 0..12 {
        let a = app.account(&format!("Screen {i:02}"), json!({})).await;
        let c = app.contact(&format!("P{i}"), "Screen", json!({"account_id": a["id"]})).await;
        let o = app.opportunity(&format!("Deal {i}a"), &a, &p, json!({"contact_id": c["id"]})).await;
        app.opportunity(&format!("Deal {i}b"), &a, &p, json!({"contact_id": c["id"]})).await;
        app.patch(&format!("/api/v1/opportunities/{}", s(&o["id"])), json!({"stage_id": won})).await.expect(200);
        app.case(&format!("Case {i}"), json!({"contact_id": c["id"]})).await;
        app.interaction(&c, json!({})).await;
        app.activity(&format!("Call {i}"), json!({"contact_id": c["id"], "account_id": a["id"]})).await;
        app.purchase(&a, &product, json!({"contact_id": c["id"]})).await;
    }
    let screen = "query($n: Int!) { accounts(first: $n, orderBy: [{field: NAME}]) { nodes { name
        contacts(first: 5) { nodes { firstName
            opportunities(orderBy: [{field: NAME}]) { nodes { name } }
            cases { nodes { subject } } activities { nodes { subject } } purchases { nodes { id } }
            interactions { nodes { type } } } }
        won: opportunities(where: {status: {eq: WON}}) { nodes { name status } }
        open: opportunities(filter: \"status[eq]:open\") { nodes { name } }
        cases(first: 3) { nodes { subject } pageInfo { hasNextPage } }
        interactions { nodes { type } }
        activities { nodes { subject } }
        purchases { nodes { lines { quantity } } } } } }";
    let mut deltas = Vec::new();
    // The first request of a process reads a little more once (1: warm-up, not counted).
    for n in [1, 3, 12] {
        let before = app.db.statements_executed();
        let r = app.gql(&app.admin, screen, json!({"n": n})).await;
        deltas.push(app.db.statements_executed() - before);
        assert!(r.get("errors").is_none(), "{r}");
        let nodes = r["data"]["accounts"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), n as usize);
        if n == 1 {
            continue;
        }
        let first = &nodes[0];
        assert_eq!(first["name"], "Screen 00");
        assert_eq!(first["won"]["nodes"], json!([{"name": "Deal 0a", "status": "WON"}]), "{first}");
        assert_eq!(first["open"]["nodes"], json!([{"name": "Deal 0b"}]), "{first}");
        assert_eq!(first["cases"]["nodes"], json!([{"subject": "Case 0"}]));
        assert_eq!(first["interactions"]["nodes"].as_array().unwrap().len(), 1);
        assert_eq!(first["activities"]["nodes"], json!([{"subject": "Call 0"}]));
        assert_eq!(first["purchases"]["nodes"].as_array().unwrap().len(), 1);
        let person = &first["contacts"]["nodes"][0];
        assert_eq!(person["opportunities"]["nodes"], json!([{"name": "Deal 0a"}, {"name": "Deal 0b"}]), "{person}");
        assert_eq!(person["cases"]["nodes"], json!([{"subject": "Case 0"}]));
        assert_eq!(person["activities"]["nodes"], json!([{"subject": "Call 0"}]));
        assert_eq!(person["interactions"]["nodes"].as_array().map(Vec::len), Some(1), "{person}");
        assert_eq!(nodes[n as usize - 1]["won"]["nodes"][0]["name"], format!("Deal {}a", n - 1));
    }
    // The same statements for 3 accounts as for 12: the page, then one window query per
    // connection (14 of them; a person's interactions, linked through their participants, one
    // more for the links) and the child rows of what they return (deal and purchase lines,
    // stages), whatever the number of parents.
    assert_eq!(deltas[1], deltas[2], "statements for 3 accounts vs 12: {deltas:?}");
    assert!(deltas[1] <= 22, "{deltas:?}");
    // A role without a resource's scope gets that connection refused, the rest answered.
    let narrow = token(&app.keys, "integration", &[], &["accounts:read", "cases:read"]);
    let r = app
        .gql(
            &narrow,
            "{ accounts(first: 1) { nodes { name cases { nodes { subject } } opportunities { nodes { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
    assert_eq!(r["errors"][0]["path"][3], "opportunities", "{r}");
    assert_eq!(r["data"]["accounts"]["nodes"][0]["cases"]["nodes"].as_array().map(Vec::len), Some(1), "{r}");
}
