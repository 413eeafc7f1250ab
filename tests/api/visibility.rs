//! Record visibility (object-level authorization): sharing levels per resource, the manager
//! chain, teams, explicit shares, and a record one may not see answering 404 everywhere it
//! could be reached (get, list, count, patch, history, GraphQL, export).

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::*;

/// Staff of two teams and a manager: Mina and Joon sell in Seoul, Hana in Busan, Kim manages
/// Hana from headquarters.
struct Staff {
    mina: Value,
    joon: Value,
    hana: Value,
    kim: Value,
}

async fn staff(app: &TestApp) -> Staff {
    let kim = app.user("Kim", json!({"subject": "kim", "role": "sales", "team": "hq"})).await;
    Staff {
        mina: app.user("Mina", json!({"subject": "mina", "role": "sales", "team": "seoul"})).await,
        joon: app.user("Joon", json!({"subject": "joon", "role": "sales", "team": "seoul"})).await,
        hana: app
            .user("Hana", json!({"subject": "hana", "role": "sales", "team": "busan", "manager_id": kim["id"]}))
            .await,
        kim,
    }
}

fn as_(app: &TestApp, sub: &str) -> String {
    token(&app.keys, sub, &["sales"], &[])
}

async fn get_as(app: &TestApp, who: &str, path: &str) -> Resp {
    app.call(Method::GET, path, Some(&as_(app, who)), None, &[]).await
}

/// The names a caller lists (and the total it is told).
async fn names_as(app: &TestApp, who: &str, path: &str) -> (Vec<String>, i64) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let page = get_as(app, who, &format!("{path}{sep}count=true&limit=100")).await.expect(200);
    let mut names: Vec<String> = page["data"].as_array().unwrap().iter().map(|r| s(&r["name"]).to_string()).collect();
    names.sort();
    (names, page["total"].as_i64().unwrap())
}

#[actix_web::test]
async fn opportunities_are_seen_by_their_team_and_managers_and_hidden_from_others_as_not_found() {
    let app = spawn().await;
    let st = staff(&app).await;
    let account = app.account("Hanbit Logistics", json!({})).await;
    let pipeline = app.pipeline("New business", json!({})).await;
    let seoul = app.opportunity("Seoul fleet", &account, &pipeline, json!({"owner_id": st.mina["id"]})).await;
    let busan = app.opportunity("Busan port", &account, &pipeline, json!({"owner_id": st.hana["id"]})).await;
    app.opportunity("Open queue", &account, &pipeline, json!({"owner_id": null})).await;
    let (seoul_path, busan_path) =
        (format!("/api/v1/opportunities/{}", s(&seoul["id"])), format!("/api/v1/opportunities/{}", s(&busan["id"])));

    // Opportunities are `team` by default: Joon sees his teammate's deal and the unowned one.
    get_as(&app, "joon", &seoul_path).await.expect(200);
    let r = get_as(&app, "joon", &busan_path).await;
    assert_eq!((r.status.as_u16(), s(&r.body["code"])), (404, "NOT_FOUND"), "{}", r.body);
    assert_eq!(
        names_as(&app, "joon", "/api/v1/opportunities").await,
        (vec!["Open queue".to_string(), "Seoul fleet".to_string()], 2)
    );
    // A filter cannot reach around it.
    let filter = format!("/api/v1/opportunities?filter=owner_id[eq]:{}", s(&st.hana["id"]));
    assert_eq!(names_as(&app, "joon", &filter).await, (vec![], 0));
    // Writes, history and the account's nested list answer the same.
    let r =
        app.call(Method::PATCH, &busan_path, Some(&as_(&app, "joon")), Some(json!({"name": "Mine now"})), &[]).await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    let r = app.call(Method::DELETE, &busan_path, Some(&as_(&app, "joon")), None, &[]).await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    assert_eq!(get_as(&app, "joon", &format!("{busan_path}/history")).await.status.as_u16(), 404);
    let q = "query($id: ID!) { account(id: $id) { opportunities { nodes { name } } } }";
    let r = app.gql(&as_(&app, "joon"), q, json!({"id": account["id"]})).await;
    let nested: Vec<&str> = r["data"]["account"]["opportunities"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|o| s(&o["name"]))
        .collect();
    assert!(nested.contains(&"Seoul fleet") && !nested.contains(&"Busan port"), "{r}");
    // Kim manages Hana: he sees her deal, not the Seoul team's; Hana sees only her own.
    get_as(&app, "kim", &busan_path).await.expect(200);
    assert_eq!(get_as(&app, "kim", &seoul_path).await.status.as_u16(), 404);
    assert_eq!(
        names_as(&app, "hana", "/api/v1/opportunities").await,
        (vec!["Busan port".to_string(), "Open queue".to_string()], 2)
    );
    // GraphQL: the same service functions, so the same answers.
    let q = "query($id: ID!) { opportunity(id: $id) { name } opportunities { totalCount } }";
    let r = app.gql(&as_(&app, "joon"), q, json!({"id": busan["id"]})).await;
    // (A missing record is null there, as for an id that never existed.)
    assert_eq!(
        (&r["data"]["opportunity"], &r["data"]["opportunities"]["totalCount"]),
        (&Value::Null, &json!(2)),
        "{r}"
    );
    let r = app.gql(&as_(&app, "joon"), q, json!({"id": seoul["id"]})).await;
    assert_eq!(r["data"]["opportunity"]["name"], "Seoul fleet", "{r}");
    // An export holds what its caller lists.
    let r = app
        .call(
            Method::GET,
            "/api/v1/exports/stream?resource=opportunities&format=ndjson",
            Some(&as_(&app, "joon")),
            None,
            &[],
        )
        .await;
    let text = r.body.as_str().map(str::to_string).unwrap_or_else(|| r.body.to_string());
    assert!(r.status.is_success() && text.contains("Seoul fleet") && !text.contains("Busan port"), "{text}");
    // Forecasts add up what their reader sees: Joon's has no Busan deal.
    let keys = |f: &Value| -> Vec<String> {
        f["groups"].as_array().unwrap().iter().map(|g| g["key"].as_str().unwrap_or("").to_string()).collect()
    };
    let f = get_as(&app, "joon", "/api/v1/forecast?period=2026-Q4&group_by=owner").await.expect(200);
    assert!(
        keys(&f).contains(&s(&st.mina["id"]).to_string()) && !keys(&f).contains(&s(&st.hana["id"]).to_string()),
        "{f}"
    );
    let f = app.get("/api/v1/forecast?period=2026-Q4&group_by=owner").await.expect(200);
    assert!(keys(&f).contains(&s(&st.hana["id"]).to_string()), "{f}");
    // The change feed tells of records: a caller who does not see every record gets no events
    // of a resource that is not public.
    let feed_token = token(&app.keys, "joon", &["sales"], &["changes:read"]);
    let feed =
        app.call(Method::GET, "/api/v1/changes?after=0&limit=500", Some(&feed_token), None, &[]).await.expect(200);
    let types: Vec<&str> = feed["data"].as_array().unwrap().iter().map(|e| s(&e["type"])).collect();
    assert!(types.contains(&"account.created") && !types.contains(&"opportunity.created"), "{types:?}");
    let r = app.gql(&feed_token, "{ changes { data { type } } }", json!({})).await;
    let text = r.to_string();
    assert!(text.contains("account.created") && !text.contains("opportunity.created"), "{text}");
    let all = app.get("/api/v1/changes?after=0&limit=500").await.expect(200);
    assert!(all.to_string().contains("opportunity.created"));
    // Administrators and integrations see everything.
    assert_eq!(app.get("/api/v1/opportunities?count=true").await.expect(200)["total"], 3);
    let key = app.post("/api/v1/api-keys", json!({"name": "BI", "scopes": ["sales:read"]})).await.expect(201);
    let r =
        app.call(Method::GET, "/api/v1/opportunities?count=true", None, None, &[("X-Api-Key", s(&key["key"]))]).await;
    assert_eq!(r.expect(200)["total"], 3);
}

#[actix_web::test]
async fn an_administrator_sets_the_level_and_owners_share_single_records() {
    let app = spawn().await;
    let st = staff(&app).await;
    let mine = app.contact("Ji-woo", "Han", json!({"owner_id": st.mina["id"]})).await;
    let unowned = app.contact("Queue", "Person", json!({"owner_id": null})).await;
    let path = format!("/api/v1/contacts/{}", s(&mine["id"]));
    // Contacts are public by default.
    get_as(&app, "hana", &path).await.expect(200);

    // Only administrators set levels; a rule names a resource with an owner, once.
    let rule = json!({"entity": "contact", "level": "private", "note": "pilot of private books"});
    let r = app.call(Method::POST, "/api/v1/sharing-rules", Some(&as_(&app, "mina")), Some(rule.clone()), &[]).await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
    let bad = app.post("/api/v1/sharing-rules", json!({"entity": "product", "level": "team"})).await;
    assert_eq!((bad.status.as_u16(), error_fields(&bad.body)), (422, vec!["entity".to_string()]), "{}", bad.body);
    let rule = app.post("/api/v1/sharing-rules", rule).await.expect(201);
    let again = app.post("/api/v1/sharing-rules", json!({"entity": "contact", "level": "team"})).await;
    assert_eq!(again.status.as_u16(), 409, "{}", again.body);

    // Private: the owner (and her managers) only; unowned records stay in everyone's queue.
    get_as(&app, "mina", &path).await.expect(200);
    assert_eq!(get_as(&app, "joon", &path).await.status.as_u16(), 404);
    get_as(&app, "joon", &format!("/api/v1/contacts/{}", s(&unowned["id"]))).await.expect(200);
    // An email is taken whoever holds it, but the conflict names the holder only to those who
    // see it.
    let erp = json!([{"source": "erp", "id": "C-77"}]);
    app.patch(&path, json!({"email": "jiwoo@example.com", "external_ids": erp})).await.expect(200);
    for dup in
        [json!({"last_name": "Han", "email": "jiwoo@example.com"}), json!({"last_name": "Han", "external_ids": erp})]
    {
        let r = app.call(Method::POST, "/api/v1/contacts", Some(&as_(&app, "joon")), Some(dup.clone()), &[]).await;
        assert_eq!((r.status.as_u16(), r.body["existing_id"].clone()), (409, Value::Null), "{}", r.body);
        let r = app.post("/api/v1/contacts", dup).await;
        assert_eq!((r.status.as_u16(), &r.body["existing_id"]), (409, &mine["id"]), "{}", r.body);
    }

    // Mina shares the record with Joon: he sees it until she revokes the share.
    let share = json!({"entity": "contact", "record_id": mine["id"], "user_id": st.joon["id"], "note": "covering"});
    let made = app.call(Method::POST, "/api/v1/shares", Some(&as_(&app, "mina")), Some(share), &[]).await.expect(201);
    assert_eq!(made["granted_by"], st.mina["id"]);
    get_as(&app, "joon", &path).await.expect(200);
    let listed = get_as(&app, "joon", "/api/v1/contacts?count=true").await.expect(200);
    assert_eq!(listed["total"], 2, "{listed}");
    // Someone who does not see a record cannot share it (nor learn that it exists).
    let steal = json!({"entity": "contact", "record_id": mine["id"], "user_id": st.hana["id"]});
    let r = app.call(Method::POST, "/api/v1/shares", Some(&as_(&app, "hana")), Some(steal), &[]).await;
    assert_eq!((r.status.as_u16(), error_fields(&r.body)), (422, vec!["record_id".to_string()]), "{}", r.body);
    // Shares are the granter's (private): Hana does not see Mina's.
    let r = get_as(&app, "hana", &format!("/api/v1/shares/{}", s(&made["id"]))).await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    let share_path = format!("/api/v1/shares/{}", s(&made["id"]));
    app.call(Method::DELETE, &share_path, Some(&as_(&app, "mina")), None, &[]).await.expect(204);
    assert_eq!(get_as(&app, "joon", &path).await.status.as_u16(), 404);

    // A share with a team reaches its members.
    let team_share = json!({"entity": "contact", "record_id": mine["id"], "team": "busan"});
    app.call(Method::POST, "/api/v1/shares", Some(&as_(&app, "mina")), Some(team_share), &[]).await.expect(201);
    get_as(&app, "hana", &path).await.expect(200);
    assert_eq!(get_as(&app, "joon", &path).await.status.as_u16(), 404);

    // Kim manages nobody on the Seoul team; once he manages Mina he sees her records.
    assert_eq!(get_as(&app, "kim", &path).await.status.as_u16(), 404);
    app.patch(&format!("/api/v1/users/{}", s(&st.mina["id"])), json!({"manager_id": st.kim["id"]})).await.expect(200);
    get_as(&app, "kim", &path).await.expect(200);
    // The chain cannot loop.
    let r = app.patch(&format!("/api/v1/users/{}", s(&st.kim["id"])), json!({"manager_id": st.hana["id"]})).await;
    assert_eq!((r.status.as_u16(), s(&r.body["errors"][0]["code"])), (422, "cycle"), "{}", r.body);

    // Back to public by archiving the rule; every step is an event with history.
    app.delete(&format!("/api/v1/sharing-rules/{}", s(&rule["id"]))).await.expect(204);
    get_as(&app, "joon", &path).await.expect(200);
    let feed = app.get("/api/v1/changes?after=0&limit=500").await.expect(200);
    let types: Vec<&str> = feed["data"].as_array().unwrap().iter().map(|e| s(&e["type"])).collect();
    for t in ["sharing_rule.created", "sharing_rule.archived", "share.created", "share.archived", "user.updated"] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
}

#[actix_web::test]
async fn a_unit_cost_is_absent_for_callers_without_products_cost_everywhere_it_could_show() {
    let app = spawn().await;
    let cost = json!({"amount_minor": 1234, "currency": "EUR"});
    let p = app.product("COST-1", json!({"unit_cost": cost})).await;
    assert_eq!(p["unit_cost"], cost);
    let path = format!("/api/v1/products/{}", s(&p["id"]));
    app.patch(&path, json!({"unit_cost": {"amount_minor": 1300, "currency": "EUR"}})).await.expect(200);
    let rep = token(&app.keys, "rep", &["sales"], &["changes:read"]);
    let read = |path: String| {
        let (app, rep) = (&app, rep.clone());
        async move { app.call(Method::GET, &path, Some(&rep), None, &[]).await.expect(200) }
    };

    // The record, a list, GraphQL.
    let one = read(path.clone()).await;
    assert!(one.get("unit_cost").is_none() && one["list_price"]["amount_minor"] == 1999, "{one}");
    let list = read("/api/v1/products?limit=10".into()).await;
    assert!(!list.to_string().contains("unit_cost"), "{list}");
    let r = app
        .gql(&rep, "query($id: ID!) { product(id: $id) { sku unitCost { amountMinor } } }", json!({"id": p["id"]}))
        .await;
    assert_eq!(r["data"]["product"], json!({"sku": "COST-1", "unitCost": null}), "{r}");
    // An export, the history, the change feed.
    let export =
        app.call(Method::GET, "/api/v1/exports/stream?resource=products&format=ndjson", Some(&rep), None, &[]).await;
    let text = export.body.as_str().map(str::to_string).unwrap_or_else(|| export.body.to_string());
    assert!(export.status.is_success() && text.contains("COST-1") && !text.contains("1300"), "{text}");
    let history = read(format!("{path}/history")).await.to_string();
    assert!(!history.contains("unit_cost") && !history.contains("1300"), "{history}");
    let feed = read("/api/v1/changes?after=0&limit=100&types=product".into()).await;
    assert!(feed["data"].as_array().unwrap().len() == 2 && !feed.to_string().contains("unit_cost"), "{feed}");

    // Nor can a segment group customers by margin without it.
    let marketer = token(&app.keys, "mk", &["marketing"], &[]);
    let by_margin = json!({"name": "High margin", "criteria": "analytics(margin_minor[gt]:100)"});
    let r = app.call(Method::POST, "/api/v1/segments", Some(&marketer), Some(by_margin.clone()), &[]).await;
    assert_eq!((r.status.as_u16(), error_fields(&r.body)), (422, vec!["criteria".to_string()]), "{}", r.body);
    app.post("/api/v1/segments", by_margin).await.expect(201);

    // Whoever holds `products:cost` sees it all.
    let full = token(&app.keys, "controller", &["sales"], &["products:cost", "changes:read"]);
    let one = app.call(Method::GET, &path, Some(&full), None, &[]).await.expect(200);
    assert_eq!(one["unit_cost"]["amount_minor"], 1300);
    let history = app.call(Method::GET, &format!("{path}/history"), Some(&full), None, &[]).await.expect(200);
    assert!(history.to_string().contains("unit_cost"), "{history}");
    let feed = app.call(Method::GET, "/api/v1/changes?after=0&limit=100&types=product", Some(&full), None, &[]).await;
    assert!(feed.expect(200).to_string().contains("1300"));
}

#[actix_web::test]
async fn figures_and_aggregates_count_only_the_records_the_caller_sees() {
    let app = spawn().await;
    let st = staff(&app).await;
    let (mina, hana) = (st.mina["id"].clone(), st.hana["id"].clone());
    let here = |owner: &Value| json!({"latitude": 37.5665, "longitude": 126.978, "owner_id": owner});
    let hanbit = app.account("Hanbit Logistics", here(&mina)).await;
    let queue = app.account("Queue Co", json!({"owner_id": null})).await;
    let pipeline = app.pipeline("New business", json!({})).await;
    // On one account: Mina's deal (Joon's team sees it) and Hana's (Busan: Joon does not), and
    // Hana's call to make.
    let eur = |minor: i64| json!({"amount_minor": minor, "currency": "EUR"});
    app.opportunity("Seoul fleet", &hanbit, &pipeline, json!({"owner_id": mina, "amount": eur(500_000)})).await;
    app.opportunity("Busan port", &hanbit, &pipeline, json!({"owner_id": hana, "amount": eur(300_000)})).await;
    app.activity("Call the CFO", json!({"account_id": hanbit["id"], "assignee_id": hana})).await;
    let lee = app.lead("Lee", here(&hana)).await;
    let person = json!({"phone": "+82 10 1111 2222", "account_id": queue["id"], "owner_id": mina});
    let minjun = app.contact("Minjun", "Kim", person).await;
    // Nobody's contact, at Mina's account.
    app.contact("Ara", "Choi", json!({"account_id": hanbit["id"], "owner_id": null})).await;
    let targets =
        app.target_list("Q4", json!({"account_ids": [hanbit["id"]], "goal": eur(1_000_000), "owner_id": null})).await;

    // Opportunities and activities are `team`: Joon's figures hold Mina's deal only; an
    // administrator's hold both (amounts and probabilities worked out by hand: 20 % stage).
    let summary = format!("/api/v1/accounts/{}/summary", s(&hanbit["id"]));
    let coverage = format!("/api/v1/target-lists/{}/coverage", s(&targets["id"]));
    let snapshot = "/api/v1/geo/snapshot?near=37.5665,126.978,20km&period=2026";
    let suggestions = format!("/api/v1/routes/suggestions?near=37.5665,126.978,30km&owner_id={}", s(&mina));
    for (who, deals, amount, tasks, leads) in [("joon", 1, 500_000, 0, 0), ("admin", 2, 800_000, 1, 1)] {
        let get = |path: String| {
            let app = &app;
            async move { if who == "admin" { app.get(&path).await } else { get_as(app, who, &path).await } }
        };
        let sum = get(summary.clone()).await.expect(200);
        assert_eq!(
            (&sum["open_opportunities"], &sum["pipeline_value"], &sum["open_activities"]),
            (&json!(deals), &json!([eur(amount)]), &json!(tasks)),
            "{who}: {sum}"
        );
        let cov = get(coverage.clone()).await.expect(200);
        assert_eq!(
            (&cov["open_pipeline"], &cov["weighted_pipeline"], &cov["coverage_bp"]),
            (&eur(amount), &eur(amount / 5), &json!(amount / 100)),
            "{who}: {cov}"
        );
        let snap = get(snapshot.to_string()).await.expect(200);
        let t = &snap;
        assert_eq!(
            (&t["open_deals"], &t["open_pipeline"], &t["leads"], &t["prospects"]),
            (&json!(deals), &json!([eur(amount)]), &json!(leads), &json!(1)),
            "{who}: {snap}"
        );
        let ranked = get(suggestions.clone()).await.expect(200);
        assert_eq!((ranked.as_array().unwrap().len(), &ranked[0]["open_deals"]), (1, &json!(deals)), "{who}: {ranked}");
    }

    // Accounts and contacts made private: Joon no longer sees Mina's account nor her contact.
    for entity in ["account", "contact"] {
        app.post("/api/v1/sharing-rules", json!({"entity": entity, "level": "private"})).await.expect(201);
    }
    assert_eq!(get_as(&app, "joon", &summary).await.status.as_u16(), 404);
    assert_eq!(get_as(&app, "joon", &suggestions).await.expect(200), json!([]));
    let snap = get_as(&app, "joon", snapshot).await.expect(200);
    assert_eq!((&snap["prospects"], &snap["open_deals"]), (&json!(0), &json!(0)), "{snap}");
    let snap = app.get(snapshot).await.expect(200);
    assert_eq!((&snap["prospects"], &snap["open_deals"]), (&json!(1), &json!(2)), "{snap}");
    // A relation filter reads only the related records the caller sees: Joon sees Ara, but
    // cannot learn what her account is called by filtering on it.
    let by_account = "/api/v1/contacts?count=true&filter=account.name[eq]:Hanbit%20Logistics";
    assert_eq!(get_as(&app, "joon", by_account).await.expect(200)["total"], 0);
    assert_eq!(get_as(&app, "mina", by_account).await.expect(200)["total"], 1);
    let q = r#"{ contacts(filter: "account.name[eq]:Hanbit Logistics") { totalCount } }"#;
    assert_eq!(app.gql(&as_(&app, "joon"), q, json!({})).await["data"]["contacts"]["totalCount"], 0);

    // Consents follow their person: Joon sees neither Minjun's (Mina's private contact) nor
    // Lee's (a lead of Hana's team), by id, in lists or in the change feed; Mina sees hers.
    let consent = |person: (&str, &Value)| {
        json!({person.0: person.1["id"], "purpose": "marketing", "channel": "email", "status": "granted",
               "source": "web_form", "text_version": "notice-1", "evidence": "203.0.113.7"})
    };
    let of_minjun = app.created("/api/v1/consents", consent(("contact_id", &minjun))).await;
    let of_lee = app.created("/api/v1/consents", consent(("lead_id", &lee))).await;
    for c in [&of_minjun, &of_lee] {
        let r = get_as(&app, "joon", &format!("/api/v1/consents/{}", s(&c["id"]))).await;
        assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    }
    assert_eq!(get_as(&app, "joon", "/api/v1/consents?count=true").await.expect(200)["total"], 0);
    let hers = get_as(&app, "mina", "/api/v1/consents?count=true").await.expect(200);
    assert_eq!((&hers["total"], &hers["data"][0]["id"]), (&json!(1), &of_minjun["id"]), "{hers}");
    let r =
        app.gql(&as_(&app, "joon"), "query($id: ID!) { consent(id: $id) { id } }", json!({"id": of_lee["id"]})).await;
    assert_eq!(r["data"]["consent"], Value::Null, "{r}");
    let feed_token = token(&app.keys, "joon", &["sales"], &["changes:read"]);
    let feed =
        app.call(Method::GET, "/api/v1/changes?after=0&limit=500", Some(&feed_token), None, &[]).await.expect(200);
    assert!(!feed.to_string().contains("consent."), "{feed}");
    assert!(app.get("/api/v1/changes?after=0&limit=500").await.expect(200).to_string().contains("consent.created"));

    // Duplicates: Joon's twin of Minjun is still refused (the base stays clean), but the
    // candidate he may not see is named without its id, in REST and in a GraphQL batch.
    let twin = json!({"first_name": "Minjun", "last_name": "Kim", "phone": "+821011112222",
        "account_id": queue["id"], "owner_id": st.joon["id"]});
    let r = app.call(Method::POST, "/api/v1/contacts", Some(&as_(&app, "joon")), Some(twin.clone()), &[]).await;
    assert_eq!((r.status.as_u16(), s(&r.body["code"])), (409, "POSSIBLE_DUPLICATE"), "{}", r.body);
    assert_eq!(r.body["candidates"][0].get("id"), None, "{}", r.body);
    assert!(!r.body.to_string().contains(s(&minjun["id"])), "{}", r.body);
    let r = app.post("/api/v1/contacts", twin.clone()).await;
    assert_eq!(r.body["candidates"][0]["id"], minjun["id"], "{}", r.body);
    let q = "mutation($ops: [ContactBatchOp!]!) { batchContacts(operations: $ops, reportDuplicates: true) { status id possibleDuplicate { candidates { id score } } } }";
    let ops = json!([{"create": {"firstName": "Minjun", "lastName": "Kim", "phone": "+821011112222",
        "accountId": queue["id"], "ownerId": st.joon["id"]}}]);
    let res = app.gql(&as_(&app, "joon"), q, json!({"ops": ops})).await;
    let made = &res["data"]["batchContacts"][0];
    assert_eq!(made["status"], 201, "{res}");
    assert_eq!(made["possibleDuplicate"]["candidates"][0]["id"], Value::Null, "{res}");
    let twin_id = s(&made["id"]).to_string();
    // Looking for duplicates: of a contact he does not see, none (404); of his own, not hers.
    let r = get_as(&app, "joon", &format!("/api/v1/contacts/{}/duplicates", s(&minjun["id"]))).await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    let mine = get_as(&app, "joon", &format!("/api/v1/contacts/{twin_id}/duplicates")).await.expect(200);
    assert_eq!(mine, json!([]));
    let all = app.get(&format!("/api/v1/contacts/{twin_id}/duplicates")).await.expect(200);
    assert_eq!(all[0]["id"], minjun["id"], "{all}");
    // The scan's pairs: the administrator's one pair is neither Joon's nor Mina's to see.
    let job = app.post("/api/v1/duplicates/scan", json!({})).await.expect(202);
    let job = wait_for_job(&app, &format!("/api/v1/jobs/{}", s(&job["id"]))).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(app.get("/api/v1/duplicates?resource=contacts").await.expect(200)["total"], 1);
    for who in ["joon", "mina"] {
        let pairs = get_as(&app, who, "/api/v1/duplicates?resource=contacts").await.expect(200);
        assert_eq!((&pairs["total"], &pairs["data"]), (&json!(0), &json!([])), "{who}: {pairs}");
    }

    // Analyses: a customer Joon does not see is not in his lists, segments or alerts, and
    // answers 404 alone; the stored trends of the whole base are not his to read.
    let product = app.product("P1", json!({})).await;
    app.purchase(&hanbit, &product, json!({})).await;
    let r = app.post("/api/v1/analytics/refresh", json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let job = wait_for_job(&app, &r.header("location").unwrap()).await;
    assert_eq!(s(&job["status"]), "succeeded", "{job}");
    let listed =
        |v: &Value| v["data"].as_array().unwrap().iter().map(|a| s(&a["customer_id"]).to_string()).collect::<Vec<_>>();
    let everyone = app.get("/api/v1/analytics/customers").await.expect(200);
    assert_eq!(listed(&everyone), vec![s(&hanbit["id"]).to_string()], "{everyone}");
    assert_eq!(listed(&get_as(&app, "mina", "/api/v1/analytics/customers").await.expect(200)), listed(&everyone));
    let joons = get_as(&app, "joon", "/api/v1/analytics/customers").await.expect(200);
    assert_eq!(listed(&joons), Vec::<String>::new(), "{joons}");
    let seg = get_as(&app, "joon", "/api/v1/analytics/segments").await.expect(200);
    assert_eq!(seg["customers"], 0, "{seg}");
    assert_eq!(app.get("/api/v1/analytics/segments").await.expect(200)["customers"], 1);
    let r = get_as(&app, "joon", &format!("/api/v1/accounts/{}/analytics", s(&hanbit["id"]))).await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    get_as(&app, "mina", &format!("/api/v1/accounts/{}/analytics", s(&hanbit["id"]))).await.expect(200);
    let r = get_as(&app, "joon", "/api/v1/analytics/trends").await;
    assert_eq!((r.status.as_u16(), s(&r.body["code"])), (403, "WHOLE_BASE_ONLY"), "{}", r.body);
    app.get("/api/v1/analytics/trends").await.expect(200);
}
