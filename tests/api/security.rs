//! What an attacker probe tried: cheap denial of service, the order of checks, input hygiene,
//! error wording, CORS and security headers. Each refusal is asserted with the code a client
//! reads, and each limit beside something just inside it that still works.

use std::time::{Duration, Instant};

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::*;

/// A refusal of a small body with a huge list must not cost the server: generous for a debug
/// build on a loaded machine, yet far below the seconds to minutes it took when every entry was
/// normalized and de-duplicated against all the others.
const CHEAP: Duration = Duration::from_secs(5);

#[actix_web::test]
async fn huge_lists_in_small_bodies_are_refused_before_any_entry_is_looked_at() {
    let app = spawn().await;
    let contact = app.contact("Lists", "Owner", json!({})).await;
    let tags: Vec<String> = (0..100_000).map(|i| format!("t{i}")).collect();
    let ext: Vec<Value> = (0..10_000).map(|i| json!({"source": format!("s{i}"), "id": "x"})).collect();
    let phones: Vec<String> = (0..10_000).map(|i| format!("010-1234-{i:04}")).collect();
    let cases = [
        ("/api/v1/contacts", json!({"last_name": "x", "tags": tags}), "tags"),
        ("/api/v1/contacts", json!({"last_name": "x", "external_ids": ext}), "external_ids"),
        ("/api/v1/contacts", json!({"last_name": "x", "country": "KR", "phones": phones}), "phones"),
        (
            "/api/v1/interactions",
            json!({"type": "note", "subject": "x", "contact_ids": vec![contact["id"].clone(); 50_000]}),
            "contact_ids",
        ),
    ];
    for (path, body, field) in cases {
        let started = Instant::now();
        let r = app.post(path, body).await;
        let took = started.elapsed();
        assert_eq!(r.status, 422, "{path} {field}: {}", r.body);
        assert_eq!(r.body["errors"][0]["field"], field, "{}", r.body);
        assert_eq!(r.body["errors"][0]["code"], "too_many", "{}", r.body);
        assert!(took < CHEAP, "{path} {field}: refused after {took:?}");
    }
    // Inside the bounds the lists work, duplicates removed (55 sent, 50 kept).
    let mut tags: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
    tags.extend((0..5).map(|i| format!("T{i} ")));
    let ok = app.post("/api/v1/contacts", json!({"last_name": "x", "tags": tags})).await.expect(201);
    assert_eq!(ok["tags"].as_array().unwrap().len(), 50);
}

#[actix_web::test]
async fn graphql_limits_what_one_request_may_cost() {
    let app = spawn().await;
    for i in 0..3 {
        app.contact("Graph", &format!("Cost{i}"), json!({})).await;
    }
    let code = |r: &Resp| r.body["errors"][0]["extensions"]["code"].as_str().unwrap_or("").to_string();
    let post = |body: Value| app.call(Method::POST, "/graphql", Some(&app.admin), Some(body), &[]);

    // One large page is fine: 1,000 contacts with two fields cost about 3,000.
    let one = post(json!({"query": "{ contacts(first: 1000) { totalCount nodes { id email } } }"})).await;
    assert_eq!(one.body["data"]["contacts"]["totalCount"], 3, "{}", one.body);
    // 50 aliases of it are not (each alias counts again).
    let aliases: String = (0..50).map(|i| format!("a{i}: contacts(first: 1000) {{ nodes {{ id email }} }} ")).collect();
    let r = post(json!({"query": format!("{{ {aliases} }}")})).await;
    assert_eq!(code(&r), "GRAPHQL_TOO_COMPLEX", "{}", r.body);
    assert!(r.body.get("data").is_none(), "{}", r.body);
    // Nesting multiplies: 1,000 contacts each with 1,000 of its account's contacts.
    let nested = "{ contacts(first: 1000) { nodes { id account { contacts(first: 1000) { nodes { id } } } } } }";
    let r = post(json!({"query": nested})).await;
    assert_eq!(code(&r), "GRAPHQL_TOO_COMPLEX", "{}", r.body);
    // `first` from a variable counts as written, and a fragment spread as its fields.
    // Ten aliases of 1,000 items with five values each: 10 × (1 + 1,000 × 5) = 50,010.
    let aliases: String = (0..10).map(|i| format!("a{i}: contacts(first: $n) {{ ...f }} ")).collect();
    let q = format!(
        "query($n: Int!) {{ {aliases} }} fragment f on ContactConnection {{ nodes {{ id email phone city }} }}"
    );
    let r = post(json!({"query": q, "variables": {"n": 1000}})).await;
    assert_eq!(code(&r), "GRAPHQL_TOO_COMPLEX", "{}", r.body);
    let r = post(json!({"query": q, "variables": {"n": 10}})).await;
    assert_eq!(r.body["data"]["a9"]["nodes"].as_array().unwrap().len(), 3, "{}", r.body);

    // Fragments spreading each other ten times over ten levels (10^10 selections if walked
    // without a budget): refused at once.
    let mut bomb = String::from("{ contacts(first: 1) { ...f0 } }");
    for level in 0..10 {
        let spreads: String = (0..10).map(|_| format!("...f{} ", level + 1)).collect();
        bomb.push_str(&format!(" fragment f{level} on ContactConnection {{ {spreads} }}"));
    }
    bomb.push_str(" fragment f10 on ContactConnection { totalCount }");
    let started = Instant::now();
    let r = post(json!({"query": bomb})).await;
    assert_eq!(code(&r), "GRAPHQL_TOO_COMPLEX", "{}", r.body);
    assert!(started.elapsed() < CHEAP, "{:?}", started.elapsed());

    // A query text over 64 KiB is refused before it is parsed (413 with the GraphQL media type).
    let long = format!("{{ {} }}", "a: __typename ".repeat(6_000));
    let r = app
        .call(
            Method::POST,
            "/graphql",
            Some(&app.admin),
            Some(json!({"query": long})),
            &[("Accept", "application/graphql-response+json")],
        )
        .await;
    assert_eq!((r.status.as_u16(), code(&r)), (413, "GRAPHQL_QUERY_TOO_LARGE".into()), "{}", r.body);

    // Depth, fragment cycles and operation batches stay refused.
    let deep = format!(
        "{{ __schema {{ queryType {{ fields {{ type {{ {}name{} }} }} }} }} }}",
        "ofType { ".repeat(14),
        " }".repeat(14)
    );
    assert_eq!(code(&post(json!({"query": deep})).await), "GRAPHQL_TOO_DEEP");
    let cycle =
        "{ contacts { ...a } } fragment a on ContactConnection { ...b } fragment b on ContactConnection { ...a }";
    assert_eq!(code(&post(json!({"query": cycle})).await), "GRAPHQL_VALIDATION_FAILED");
    // A cycle through fields, which a walk that only bounds spreads would follow until its stack
    // overflowed.
    let through = "{ ...f } fragment f on Query { contacts { ...g } } \
                   fragment g on ContactConnection { nodes { account { contacts { ...g } } } }";
    let r = post(json!({"query": through})).await;
    assert_eq!(code(&r), "GRAPHQL_VALIDATION_FAILED", "{}", r.body);
    assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("`g` spreads itself"), "{}", r.body);
    // The budget is the document's: many operations each spreading the bomb are refused too.
    let many: String = (0..200).map(|i| format!("query q{i} {{ contacts(first: 1) {{ ...f0 }} }} ")).collect();
    let mut bomb2 = many;
    for level in 0..10 {
        let spreads: String = (0..10).map(|_| format!("...f{} ", level + 1)).collect();
        bomb2.push_str(&format!(" fragment f{level} on ContactConnection {{ {spreads} }}"));
    }
    bomb2.push_str(" fragment f10 on ContactConnection { totalCount }");
    let started = Instant::now();
    let r = post(json!({"query": bomb2, "operationName": "q0"})).await;
    assert_eq!(code(&r), "GRAPHQL_TOO_COMPLEX", "{}", r.body);
    assert!(started.elapsed() < CHEAP);
    // A list argument counts its items: a batch of 1,000 given by one variable, in 60 aliases
    // (60 × 1,001), which one small body would otherwise turn into 60,000 writes.
    let ops: Vec<Value> = (0..1000).map(|i| json!({"create": {"lastName": format!("B{i}")}})).collect();
    let aliases: String = (0..60).map(|i| format!("b{i}: batchContacts(operations: $ops) {{ status }} ")).collect();
    let r = post(
        json!({"query": format!("mutation($ops: [ContactBatchOp!]!) {{ {aliases} }}"), "variables": {"ops": ops}}),
    )
    .await;
    assert_eq!(code(&r), "GRAPHQL_TOO_COMPLEX", "{}", r.body);
    assert_eq!(app.get("/api/v1/contacts?filter=last_name[eq]:B1").await.expect(200)["data"], json!([]));
    let batch =
        app.call(Method::POST, "/graphql", Some(&app.admin), Some(json!([{"query": "{ __typename }"}])), &[]).await;
    assert!(batch.body["data"].is_null() && !batch.body["errors"][0]["extensions"]["code"].is_null(), "{}", batch.body);
    // The schema is not shown without a token.
    let anonymous =
        app.call(Method::POST, "/graphql", None, Some(json!({"query": "{ __schema { types { name } } }"})), &[]).await;
    assert_eq!(anonymous.status, 401);
}

#[actix_web::test]
async fn a_graphql_answer_past_the_size_limit_is_refused() {
    let app = spawn().await;
    let contact = app.contact("Big", "Bodies", json!({})).await;
    // 34 notes of a million bytes each: within the cost limit, over the 32 MiB answer limit.
    let body = "x".repeat(1_000_000);
    for _ in 0..34 {
        app.interaction(&contact, json!({"type": "note", "body": body})).await;
    }
    let q = "{ interactions(first: 100) { nodes { id body } } }";
    let r = app.call(Method::POST, "/graphql", Some(&app.admin), Some(json!({"query": q})), &[]).await;
    assert_eq!(r.body["errors"][0]["extensions"]["code"], "RESPONSE_TOO_LARGE", "{}", r.status);
    // Fewer of them fit.
    let q = "{ interactions(first: 20) { nodes { id body } } }";
    let r = app.call(Method::POST, "/graphql", Some(&app.admin), Some(json!({"query": q})), &[]).await;
    assert_eq!(r.body["data"]["interactions"]["nodes"].as_array().map(Vec::len), Some(20));
}

#[actix_web::test]
async fn authorization_comes_before_validation() {
    let app = spawn().await;
    let account = app.account("Order Of Checks", json!({})).await;
    let contact = app.contact("Order", "Checks", json!({})).await;
    let campaign = app.campaign("Checks", json!({})).await;
    let readonly = app.token(&["readonly"]);
    let support = app.token(&["support"]);
    let acc = format!("/api/v1/accounts/{}", account["id"].as_str().unwrap());
    let camp = format!("/api/v1/campaigns/{}", campaign["id"].as_str().unwrap());
    let lead_convert = "/api/v1/leads/00000000-0000-7000-8000-000000000000/convert";
    let cases: Vec<(&str, Method, String, Value)> = vec![
        (&readonly, Method::PUT, "/api/v1/case-sla-policy".into(), json!({})),
        (&readonly, Method::POST, "/api/v1/contacts".into(), json!({"shoe_size": 44})),
        (&readonly, Method::PATCH, acc.clone(), json!({"name": 7})),
        (&readonly, Method::POST, "/api/v1/contacts/batch".into(), json!({"operations": "many"})),
        (&readonly, Method::PUT, "/api/v1/contacts/by-external-id/erp/C-1".into(), json!({"last_name": []})),
        (&readonly, Method::POST, format!("{camp}/responses"), json!({"responses": 3})),
        (&readonly, Method::POST, format!("{camp}/members"), json!({})),
        (&readonly, Method::PUT, "/api/v1/lead-scoring-rules".into(), json!({"rules": {}})),
        (&support, Method::POST, "/api/v1/leads/capture".into(), json!({"nope": true})),
        (&support, Method::POST, lead_convert.into(), json!({"account_id": "x"})),
        (&readonly, Method::POST, format!("/api/v1/cases/{}/comments", contact["id"].as_str().unwrap()), json!({})),
    ];
    for (tok, method, path, body) in &cases {
        let r = app.call(method.clone(), path, Some(tok), Some(body.clone()), &[]).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        assert_eq!(r.body["code"], "FORBIDDEN", "{method} {path}");
        assert!(r.body["errors"].is_null(), "nothing about the body's shape: {}", r.body);
    }
    // With the scope, the same bodies are refused for what they are.
    let r = app.call(Method::PUT, "/api/v1/case-sla-policy", Some(&app.admin), Some(json!({})), &[]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = app.call(Method::POST, "/api/v1/contacts", Some(&app.admin), Some(json!({"shoe_size": 44})), &[]).await;
    assert_eq!(r.status, 422, "{}", r.body);

    // Query strings too: the change feed needs `changes:read`, which support lacks.
    let r = app.call(Method::GET, "/api/v1/changes?limit=abc", Some(&support), None, &[]).await;
    assert_eq!((r.status.as_u16(), r.body["code"].as_str()), (403, Some("FORBIDDEN")), "{}", r.body);
    let nobody = app.token(&[]);
    let r = app.call(Method::GET, "/api/v1/contacts?limit=abc", Some(&nobody), None, &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app.call(Method::GET, "/api/v1/contacts?limit=abc", Some(&readonly), None, &[]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Parameter names are the public contract: an unknown one is refused on every operation,
    // also those that read no query (an archive that looked like a purge).
    let contact_path = format!("/api/v1/contacts/{}", contact["id"].as_str().unwrap());
    let r = app.call(Method::DELETE, &format!("{contact_path}?purge=true"), Some(&app.admin), None, &[]).await;
    assert_eq!((r.status.as_u16(), r.body["errors"][0]["field"].as_str()), (400, Some("purge")), "{}", r.body);
    assert_eq!(r.body["detail"], "unknown query parameter `purge`: this endpoint takes no query parameters");
    assert_eq!(app.get(&contact_path).await.expect(200)["archived_at"], Value::Null);
    let r = app.call(Method::GET, "/api/v1/contacts?limit=5&bogus=1", Some(&readonly), None, &[]).await;
    assert_eq!((r.status.as_u16(), r.body["errors"][0]["field"].as_str()), (400, Some("bogus")), "{}", r.body);
    // Without a token it is 401 all the same.
    assert_eq!(app.call(Method::GET, "/api/v1/contacts?bogus=1", None, None, &[]).await.status, 401);
}

#[actix_web::test]
async fn control_characters_get_the_same_answer_on_both_databases() {
    let app = spawn().await;
    for (text, name) in
        [("a\u{0}b", "NUL"), ("a\u{7}b", "BEL"), ("\u{1b}[31mred", "ESC"), ("a\u{7f}", "DEL"), ("a\u{85}b", "NEL")]
    {
        let r = app.post("/api/v1/contacts", json!({"last_name": text})).await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        assert_eq!(r.body["code"], "INVALID_BODY", "{name}");
        assert_eq!(r.body["errors"][0]["field"], "last_name", "{name}: {}", r.body);
        assert_eq!(r.body["errors"][0]["code"], "control_character", "{name}");
        // Nested fields are named by their path.
        let r = app.post("/api/v1/contacts", json!({"last_name": "ok", "custom_fields": {"note": [text]}})).await;
        assert_eq!(r.body["errors"][0]["field"], "custom_fields.note[0]", "{name}: {}", r.body);
        // GraphQL refuses them as well, in variables and in the document.
        let g = app
            .gql(&app.admin, "mutation($n: String) { createContact(input: {lastName: $n}) { id } }", json!({"n": text}))
            .await;
        assert_eq!(g["errors"][0]["extensions"]["code"], "INVALID_BODY", "{name}: {g}");
    }
    let escaped = r#"mutation { createContact(input: {lastName: "a\u0007b"}) { id } }"#;
    assert_eq!(app.gql(&app.admin, escaped, json!({})).await["errors"][0]["extensions"]["code"], "INVALID_BODY");
    // Tabs and line breaks are text.
    let contact = app.contact("Multi", "Line", json!({})).await;
    let note = app.interaction(&contact, json!({"type": "note", "body": "line 1\nline 2\r\n\tindented"})).await;
    assert_eq!(note["body"], "line 1\nline 2\r\n\tindented");
}

#[actix_web::test]
async fn errors_are_in_our_words_and_name_the_parameter() {
    let app = spawn().await;
    let r = app.get("/api/v1/contacts/not-a-uuid").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["detail"], "no such record: `not-a-uuid` is not an id (ids are UUIDs)");
    for (query, param) in
        [("limit=-1", "limit"), ("limit=abc", "limit"), ("count=maybe", "count"), ("purge=true", "purge")]
    {
        let r = app.get(&format!("/api/v1/contacts?{query}")).await;
        assert_eq!((r.status.as_u16(), r.body["code"].as_str()), (400, Some("INVALID_PARAMETER")), "{query}");
        assert_eq!(r.body["errors"][0]["field"], param, "{query}: {}", r.body);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("`{param}`")) && !detail.contains("deserialize"), "{query}: {detail}");
    }
    // GraphQL takes JSON only: a body a browser may send without a preflight is not run.
    for media in ["text/plain", "application/x-www-form-urlencoded"] {
        let r = app
            .client
            .post(format!("{}/graphql", app.base))
            .insert_header(("Authorization", format!("Bearer {}", app.admin)))
            .insert_header(("Content-Type", media))
            .send_body(r#"{"query": "mutation { createAccount(input: {name: \"Simple\"}) { id } }"}"#)
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 415, "{media}");
    }
    assert_eq!(app.get("/api/v1/accounts?filter=name[eq]:Simple").await.expect(200)["data"], json!([]));
    // A wrong method on a known path.
    let r = app.call(Method::PUT, "/api/v1/contacts", Some(&app.admin), Some(json!({})), &[]).await;
    assert_eq!((r.status.as_u16(), r.header("allow").as_deref()), (405, Some("GET, POST")));
}

#[actix_web::test]
async fn web_forms_post_with_the_capture_scope_or_as_sales_staff() {
    let app = spawn().await;
    let form = token(&app.keys, "website", &[], &["leads:capture"]);
    let cases = [
        (form.clone(), "a@web.example", 201),
        (app.token(&["sales"]), "b@web.example", 201),
        (app.admin.clone(), "c@web.example", 201),
        (app.token(&["support"]), "d@web.example", 403),
    ];
    for (tok, email, want) in cases {
        let body = json!({"last_name": "Form", "email": email, "company": "Web Co"});
        let r = app.call(Method::POST, "/api/v1/leads/capture", Some(&tok), Some(body), &[]).await;
        assert_eq!(r.status, want, "{email}: {}", r.body);
    }
    // The form's token can do nothing else.
    assert_eq!(app.call(Method::GET, "/api/v1/leads", Some(&form), None, &[]).await.status, 403);
}

#[actix_web::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn().await;
    let api = [
        app.get("/api/v1/contacts").await,
        app.call(Method::GET, "/api/v1/contacts", None, None, &[]).await,
        app.get("/api/v1/nothing-here").await,
        app.call(Method::POST, "/graphql", Some(&app.admin), Some(json!({"query": "{ __typename }"})), &[]).await,
    ];
    for r in &api {
        assert_eq!(r.header("x-content-type-options").as_deref(), Some("nosniff"), "{}", r.status);
        assert_eq!(r.header("cache-control").as_deref(), Some("no-store"), "{}", r.status);
        assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
        assert!(r.header("content-security-policy").unwrap().starts_with("default-src 'none'; frame-ancestors 'none'"));
    }
    for page in ["/docs/", "/graphql"] {
        let r = app.call(Method::GET, page, None, None, &[("Accept", "text/html")]).await;
        assert_eq!(r.status, 200, "{page}");
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{page}: {csp}");
        assert!(!csp.contains("unsafe-eval") && !csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
        assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
        assert_eq!(r.header("x-content-type-options").as_deref(), Some("nosniff"));
    }
}

#[actix_web::test]
async fn cors_is_closed_by_default_and_open_to_the_configured_origins() {
    let preflight = |origin: &'static str, method: &'static str| {
        [
            ("Origin", origin),
            ("Access-Control-Request-Method", method),
            ("Access-Control-Request-Headers", "authorization, content-type, if-match"),
        ]
    };
    // Closed: no grant for anyone.
    let closed = spawn().await;
    let r =
        closed.call(Method::OPTIONS, "/api/v1/contacts", None, None, &preflight("https://app.example", "GET")).await;
    assert!(r.header("access-control-allow-origin").is_none(), "{:?}", r.headers);
    let r = closed
        .call(Method::GET, "/api/v1/contacts", Some(&closed.admin), None, &[("Origin", "https://app.example")])
        .await;
    assert!(r.header("access-control-allow-origin").is_none());

    let app = spawn_with(|s| {
        s.cors =
            crm_gateway::settings::CorsSettings::parse("https://app.example, http://localhost:5173", false).unwrap()
    })
    .await;
    let r =
        app.call(Method::OPTIONS, "/api/v1/contacts/x", None, None, &preflight("https://app.example", "PATCH")).await;
    assert_eq!(r.status, 200, "{:?}", r.headers);
    assert_eq!(r.header("access-control-allow-origin").as_deref(), Some("https://app.example"));
    assert!(r.header("access-control-allow-methods").unwrap().contains("PATCH"));
    let allowed = r.header("access-control-allow-headers").unwrap();
    assert!(allowed.contains("authorization") && allowed.contains("if-match"), "{allowed}");
    assert!(r.header("access-control-allow-credentials").is_none());
    // Another origin gets no grant.
    let r = app.call(Method::OPTIONS, "/api/v1/contacts", None, None, &preflight("https://evil.example", "GET")).await;
    assert!(r.header("access-control-allow-origin").is_none(), "{:?}", r.headers);
    // The call itself: the origin granted, the headers a frontend reads exposed, and errors too.
    let r =
        app.call(Method::GET, "/api/v1/contacts", Some(&app.admin), None, &[("Origin", "http://localhost:5173")]).await;
    assert_eq!(r.header("access-control-allow-origin").as_deref(), Some("http://localhost:5173"));
    assert!(r.header("access-control-expose-headers").unwrap().contains("etag"));
    let r = app.call(Method::GET, "/api/v1/contacts", None, None, &[("Origin", "https://app.example")]).await;
    assert_eq!(
        (r.status.as_u16(), r.header("access-control-allow-origin").as_deref()),
        (401, Some("https://app.example"))
    );

    let with_cookies =
        spawn_with(|s| s.cors = crm_gateway::settings::CorsSettings::parse("https://app.example", true).unwrap()).await;
    let r = with_cookies.call(Method::OPTIONS, "/graphql", None, None, &preflight("https://app.example", "POST")).await;
    assert_eq!(r.header("access-control-allow-credentials").as_deref(), Some("true"));
}

#[actix_web::test]
async fn what_held_keeps_holding() {
    let app = spawn().await;
    // Bodies over 4 MiB, batches over 1,000 operations, JSON nested 5,000 deep.
    let big = json!({"last_name": "x", "custom_fields": {"blob": "x".repeat(5 * 1024 * 1024)}});
    assert_eq!(app.post("/api/v1/contacts", big).await.status, 413);
    let ops: Vec<Value> = (0..1001).map(|_| json!({"op": "create", "data": {"last_name": "x"}})).collect();
    let r = app.post("/api/v1/contacts/batch", json!({"operations": ops})).await;
    assert_eq!(r.status, 413, "{}", r.body);
    let deep = format!("{{\"last_name\": \"x\", \"custom_fields\": {}{}}}", "[".repeat(5000), "]".repeat(5000));
    let r = app
        .client
        .post(format!("{}/api/v1/contacts", app.base))
        .insert_header(("Authorization", format!("Bearer {}", app.admin)))
        .insert_header(("Content-Type", "application/json"))
        .send_body(deep)
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // Server-managed fields are refused on create.
    let r = app.post("/api/v1/contacts", json!({"last_name": "x", "version": 9})).await;
    assert_eq!(r.status, 422, "{}", r.body);
    // The same scope rule through REST, a batch and GraphQL.
    let readonly = app.token(&["readonly"]);
    let one = json!({"operations": [{"op": "create", "data": {"last_name": "x"}}]});
    let r = app.call(Method::POST, "/api/v1/contacts/batch", Some(&readonly), Some(one), &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let g = app.gql(&readonly, "mutation { createContact(input: {lastName: \"x\"}) { id } }", json!({})).await;
    assert_eq!(g["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

#[actix_web::test]
async fn adversarial_list_parameters_never_fail_the_server_nor_take_long() {
    let app = spawn().await;
    for i in 0..5 {
        app.contact("Adversarial", &format!("N{i}"), json!({"city": "Seoul", "tags": ["vip"]})).await;
    }
    let long = "a".repeat(10_000);
    let nested = format!("{}city[eq]:x{}", "and(".repeat(200), ")".repeat(200));
    let wide = format!("or({})", vec!["city[eq]:x"; 2000].join(","));
    let filters = [
        "",
        "(",
        ")",
        "and(",
        "and()",
        "or(,)",
        "not(",
        "city",
        "city[",
        "city[eq]",
        "city[eq]:",
        "city[zz]:x",
        "city[eq]:'",
        "city[eq]:\"",
        "city[eq]:\\",
        "city[in]:[",
        "city[in]:[]",
        "city[in]:[a,",
        "created_at[gt]:x",
        "created_at[gt]:99999-99-99",
        "version[gt]:1e999",
        "version[gt]:-9223372036854775809",
        "id[eq]:not-a-uuid",
        "account.tier[eq]:",
        "account.account.tier[eq]:x",
        "account.x[eq]:1",
        "rel(",
        "rel(interactions",
        "__proto__[eq]:1",
        "city[eq]:%00",
        "city[eq]:'; DROP TABLE contacts; --",
        "city[like]:%",
        "email[eq]:*",
        "tags[has]:",
        &long,
        &nested,
        &wide,
    ];
    let sorts = ["", ",", "-", "--city", "city,", "nope", "-id,-id", "city;DROP", &long];
    let cursors = ["", "x", "e30", "eyJ", "AAAA", "%00", "////", &long];
    let qs = ["", "*", "\"", "'", "a\" OR 1=1 --", "NEAR(", "a*b*c*", &"x ".repeat(500)];
    let mut asked = Vec::new();
    for f in filters {
        asked.push(format!("filter={}", enc(f)));
    }
    for s in sorts {
        asked.push(format!("sort={}", enc(s)));
    }
    for c in cursors {
        asked.push(format!("cursor={}", enc(c)));
    }
    for q in qs {
        asked.push(format!("q={}", enc(q)));
    }
    for f in ["", ",", "nope", "id,id", &long] {
        asked.push(format!("fields={}", enc(f)));
    }
    for l in ["0", "1001", "-1", "1e3", "99999999999999999999", ""] {
        asked.push(format!("limit={l}"));
    }
    for query in &asked {
        let started = Instant::now();
        let r = app.get(&format!("/api/v1/contacts?{query}")).await;
        let took = started.elapsed();
        assert!(r.status.as_u16() < 500, "{query}: {} {}", r.status, r.body);
        assert!(took < Duration::from_secs(2), "{}: {took:?}", &query[..query.len().min(80)]);
        if r.status != 200 {
            assert!(r.body["code"].is_string(), "{query}: {}", r.body);
        }
    }
}

/// Percent-encodes a query parameter value.
fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[actix_web::test]
async fn answers_are_compressed_when_the_client_asks() {
    let app = spawn().await;
    for i in 0..30 {
        app.contact("Compressed", &format!("Contact{i}"), json!({"city": "Seoul", "title": "Engineer"})).await;
    }
    let plain = app.get("/api/v1/contacts?limit=30").await.expect(200).to_string().len();
    for (encoding, magic) in [("gzip", &[0x1f_u8, 0x8b][..]), ("br", &[][..]), ("zstd", &[0x28, 0xb5, 0x2f, 0xfd][..])]
    {
        let mut r = app
            .client
            .get(format!("{}/api/v1/contacts?limit=30", app.base))
            .insert_header(("Authorization", format!("Bearer {}", app.admin)))
            .insert_header(("Accept-Encoding", encoding))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers().get("content-encoding").unwrap(), encoding);
        // The test client does not decode: these are the bytes on the wire.
        let wire = r.body().limit(1 << 20).await.unwrap();
        assert!(wire.starts_with(magic), "{encoding}: {:?}", &wire[..4]);
        assert!(wire.len() * 4 < plain, "{encoding}: {} bytes of {plain}", wire.len());
    }
    // Without Accept-Encoding, nothing is compressed.
    let r = app.get("/api/v1/contacts?limit=30").await;
    assert!(r.header("content-encoding").is_none());
}

#[actix_web::test]
async fn nul_in_query_values_is_refused_after_decoding() {
    let app = spawn().await;
    for query in ["q=a%00b", "cursor=%00", "filter=city%5Beq%5D:Seoul%00", "sort=city%00"] {
        let r = app.get(&format!("/api/v1/contacts?{query}")).await;
        assert_eq!(
            (r.status.as_u16(), r.body["errors"][0]["code"].as_str()),
            (400, Some("control_character")),
            "{query}: {}",
            r.body
        );
    }
    // Whitespace controls around names are trimmed, as before.
    app.get("/api/v1/contacts?sort=%09city%0A,%0B-id").await.expect(200);
    // A literal path reached through a template answers for the method, not the parameters.
    let r = app.call(Method::PATCH, "/api/v1/segments/preview?limit=5", Some(&app.admin), Some(json!({})), &[]).await;
    assert_eq!(r.status, 405, "{}", r.body);
    // The largest position is beyond the head, not a server error.
    assert_eq!(app.get("/api/v1/changes?after=9223372036854775807&limit=1").await.status, 409);
}
