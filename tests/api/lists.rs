use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::*;

async fn fixture(app: &TestApp) -> (String, String) {
    let gold = app.account("Gold Co", json!({"tier": "gold", "industry": "retail", "country": "KR"})).await;
    let bronze = app.account("Bronze Co", json!({"tier": "bronze", "industry": "software", "country": "US"})).await;
    let (g, b) = (gold["id"].as_str().unwrap().to_string(), bronze["id"].as_str().unwrap().to_string());
    app.contact(
        "Ada",
        "Lovelace",
        json!({"city": "Seoul", "account_id": g, "lifecycle_stage": "customer", "tags": ["vip"]}),
    )
    .await;
    app.contact("Alan", "Turing", json!({"city": "Busan", "account_id": g, "lifecycle_stage": "lead"})).await;
    app.contact(
        "Grace",
        "Hopper",
        json!({"city": "Seoul", "account_id": b, "lifecycle_stage": "customer", "tags": ["vip", "b2b"]}),
    )
    .await;
    app.contact("Edsger", "Dijkstra", json!({"lifecycle_stage": "churned"})).await;
    app.contact(
        "Barbara",
        "Liskov",
        json!({"city": "Boston", "lifecycle_stage": "customer", "email": "barbara@mit.example.edu"}),
    )
    .await;
    (g, b)
}

fn last_names(page: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        page["data"].as_array().unwrap().iter().map(|c| c["last_name"].as_str().unwrap_or("").to_string()).collect();
    v.sort();
    v
}

async fn filtered(app: &TestApp, filter: &str) -> Vec<String> {
    last_names(&app.get(&format!("/api/v1/contacts?limit=100&filter={}", enc(filter))).await.expect(200))
}

#[actix_web::test]
async fn filters_follow_relations_and_combine() {
    let app = spawn().await;
    fixture(&app).await;
    assert_eq!(
        filtered(
            &app,
            "and(lifecycle_stage[eq]:customer,or(city[eq]:Seoul,city[eq]:Busan),account.tier[in]:[gold,platinum])"
        )
        .await,
        vec!["Lovelace"]
    );
    assert_eq!(filtered(&app, "account.industry[eq]:software").await, vec!["Hopper"]);
    assert_eq!(filtered(&app, "account.country[eq]:kr").await, vec!["Lovelace", "Turing"]);
    // Negation keeps rows where the field is empty.
    assert_eq!(filtered(&app, "not(city[eq]:Seoul)").await, vec!["Dijkstra", "Liskov", "Turing"]);
    assert_eq!(filtered(&app, "city[neq]:Seoul").await, vec!["Dijkstra", "Liskov", "Turing"]);
    assert_eq!(filtered(&app, "city[nin]:[Seoul,Busan]").await, vec!["Dijkstra", "Liskov"]);
    assert_eq!(filtered(&app, "city[is_null]:true").await, vec!["Dijkstra"]);
    assert_eq!(filtered(&app, "account_id[is_null]:true,lifecycle_stage[neq]:churned").await, vec!["Liskov"]);
    assert_eq!(filtered(&app, "tags[eq]:vip").await, vec!["Hopper", "Lovelace"]);
    assert_eq!(filtered(&app, "tags[in]:[b2b,nothing]").await, vec!["Hopper"]);
    assert_eq!(filtered(&app, "tags[is_null]:true").await, vec!["Dijkstra", "Liskov", "Turing"]);
    assert_eq!(filtered(&app, "last_name[starts_with]:li").await, vec!["Liskov"]);
    assert_eq!(filtered(&app, "first_name[contains]:RAC").await, vec!["Hopper"]);
    assert_eq!(filtered(&app, "email[eq]:BARBARA@mit.example.edu").await, vec!["Liskov"]);
    assert_eq!(filtered(&app, "created_at[gte]:2000-01-01,created_at[lt]:2999-01-01").await.len(), 5);
    // LIKE wildcards in values are literal.
    assert!(filtered(&app, "last_name[contains]:%").await.is_empty());

    // Following a relation reads the related resource: it needs that resource's scope.
    let contacts_only = token(&app.keys, "integration", &[], &["contacts:read"]);
    let r = app
        .call(
            actix_web::http::Method::GET,
            &format!("/api/v1/contacts?filter={}", enc("account.tier[eq]:gold")),
            Some(&contacts_only),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 403);
    // sort=-id is honoured (newest id first).
    let ids = app.all_ids("/api/v1/contacts?sort=-id&limit=2").await;
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(ids, sorted);

    // The same grammar on accounts.
    let accs =
        app.get(&format!("/api/v1/accounts?filter={}", enc("tier[in]:[gold],industry[eq]:retail"))).await.expect(200);
    assert_eq!(accs["data"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn bad_list_parameters_are_400_naming_the_field() {
    let app = spawn().await;
    let cases = [
        ("filter=shoe_size[eq]:42", "INVALID_FILTER", "shoe_size"),
        ("filter=account.color[eq]:red", "INVALID_FILTER", "account.color"),
        ("filter=account.tier[eq]:wood", "INVALID_FILTER", "account.tier"),
        ("filter=created_at[gt]:yesterday", "INVALID_FILTER", "created_at"),
        ("filter=do_not_call[contains]:x", "INVALID_FILTER", "do_not_call"),
        ("filter=city[eq]", "INVALID_FILTER", "filter"),
        ("filter=or(city[eq]:a", "INVALID_FILTER", "filter"),
        ("sort=shoe_size", "INVALID_SORT", "sort"),
        ("sort=phone", "INVALID_SORT", "sort"),
        ("cursor=garbage", "INVALID_CURSOR", "cursor"),
        ("limit=0", "INVALID_PARAMETER", "limit"),
        ("limit=5000", "INVALID_PARAMETER", "limit"),
        ("archived=maybe", "INVALID_PARAMETER", "archived"),
    ];
    for (query, code, field) in cases {
        let path = format!("/api/v1/contacts?{}", query.replace('[', "%5B").replace(']', "%5D"));
        let r = app.get(&path).await;
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert_eq!(r.body["code"], code, "{query}");
        assert_eq!(error_fields(&r.body), vec![field.to_string()], "{query}: {}", r.body);
    }
    // Unknown query parameters are not silently ignored.
    let r = app.get("/api/v1/contacts?filtre=city%5Beq%5D:x").await;
    assert_eq!(r.status, 400);
    assert!(r.body["detail"].as_str().unwrap().contains("filtre"));
    // A cursor made for one sort order is refused under another.
    for i in 0..3 {
        app.contact(&format!("P{i}"), &format!("Person{i}"), json!({})).await;
    }
    let p = app.get("/api/v1/contacts?limit=1&sort=last_name").await.expect(200);
    let cursor = p["next_cursor"].as_str().unwrap();
    let r = app.get(&format!("/api/v1/contacts?limit=1&sort=-created_at&cursor={cursor}")).await;
    assert_eq!(r.body["code"], "INVALID_CURSOR");
}

#[actix_web::test]
async fn keyset_pages_are_complete_while_rows_are_inserted() {
    let app = spawn().await;
    let cities = ["Seoul", "Busan", "Incheon"];
    let mut originals = HashSet::new();
    for i in 0..25 {
        // Repeated and missing last names exercise the id tie-breaker and NULL ordering.
        let last = if i % 5 == 0 { Value::Null } else { json!(format!("Name{}", i % 4)) };
        let c = app
            .post("/api/v1/contacts", json!({"first_name": format!("F{i}"), "last_name": last, "city": cities[i % 3]}))
            .await
            .expect(201);
        originals.insert(c["id"].as_str().unwrap().to_string());
    }
    for sort in ["last_name", "-last_name", "city,-last_name", "-created_at", "first_name"] {
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut inserted = 0;
        loop {
            let mut url = format!("/api/v1/contacts?limit=4&sort={}", enc(sort));
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page = app.get(&url).await.expect(200);
            seen.extend(page["data"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()));
            // Insert between pages, sorting both before and after the current position.
            app.post("/api/v1/contacts", json!({"first_name": format!("A{sort}{inserted}"), "last_name": "Aaa"}))
                .await
                .expect(201);
            app.post("/api/v1/contacts", json!({"first_name": format!("Z{sort}{inserted}"), "last_name": "Zzz"}))
                .await
                .expect(201);
            inserted += 1;
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "duplicates under sort {sort}");
        for id in &originals {
            assert!(unique.contains(id), "row {id} skipped under sort {sort}");
        }
    }
    // Sort order itself is right: NULL last names come last.
    let page =
        app.get("/api/v1/contacts?limit=1000&sort=last_name&filter=first_name%5Bstarts_with%5D:F").await.expect(200);
    let names: Vec<Value> = page["data"].as_array().unwrap().iter().map(|c| c["last_name"].clone()).collect();
    let first_null = names.iter().position(Value::is_null).unwrap();
    assert!(names[first_null..].iter().all(Value::is_null));
    assert!(names[..first_null].windows(2).all(|w| w[0].as_str() <= w[1].as_str()));
    let all = app.all_ids("/api/v1/contacts?limit=7").await;
    assert_eq!(
        all.len(),
        app.get("/api/v1/contacts?count=true&limit=1").await.expect(200)["total"].as_i64().unwrap() as usize
    );
}

#[actix_web::test]
async fn search_uses_the_index_and_combines_with_filters() {
    let app = spawn().await;
    let acc = app.account("Hanbit Logistics", json!({"domain": "hanbit-logistics.co.kr"})).await;
    app.contact("민준", "김", json!({"email": "minjun@hanbit.co.kr", "title": "물류 팀장", "account_id": acc["id"]}))
        .await;
    app.contact("Minjun", "Park", json!({"email": "mpark@example.com", "city": "Busan"})).await;
    app.contact("Jane", "O'Brien", json!({"department": "Procurement"})).await;
    let search = |q: &str| format!("/api/v1/contacts?q={}&count=true", enc(q));
    assert_eq!(app.get(&search("민준")).await.expect(200)["total"], 1);
    assert_eq!(app.get(&search("minjun")).await.expect(200)["total"], 2);
    assert_eq!(app.get(&search("MINJ")).await.expect(200)["total"], 2);
    assert_eq!(app.get(&search("minjun park")).await.expect(200)["total"], 1);
    assert_eq!(app.get(&search("o'brien")).await.expect(200)["total"], 1);
    assert_eq!(app.get(&search("procure")).await.expect(200)["total"], 1);
    assert_eq!(app.get(&search("\"*()")).await.expect(200)["total"], 0);
    let combined = app.get(&format!("{}&filter={}", search("minjun"), enc("city[eq]:Busan"))).await.expect(200);
    assert_eq!(combined["total"], 1);
    assert_eq!(combined["data"][0]["last_name"], "Park");
    // Updates reach the index.
    let id = combined["data"][0]["id"].as_str().unwrap();
    app.patch(&format!("/api/v1/contacts/{id}"), json!({"last_name": "Ahn"})).await.expect(200);
    assert_eq!(app.get(&search("ahn")).await.expect(200)["total"], 1);
    assert_eq!(app.get(&search("park")).await.expect(200)["total"], 0);
    assert_eq!(app.get(&format!("/api/v1/accounts?q={}&count=true", enc("hanbit"))).await.expect(200)["total"], 1);
}
