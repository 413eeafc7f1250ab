//! The integrator's write contract: idempotency, external ids, batches, change feed, history.

use std::collections::HashSet;
use std::time::Instant;

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::*;

async fn count(app: &TestApp, path: &str) -> i64 {
    let sep = if path.contains('?') { '&' } else { '?' };
    app.get(&format!("{path}{sep}count=true&limit=1")).await.expect(200)["total"].as_i64().unwrap()
}

/// Posts a contact batch and returns the answer with each operation's status.
async fn batch(app: &TestApp, body: Value) -> (Value, Vec<u64>) {
    let r = app.post("/api/v1/contacts/batch", body).await.expect(200);
    let statuses = r["results"].as_array().unwrap().iter().map(|x| x["status"].as_u64().unwrap()).collect();
    (r, statuses)
}

#[actix_web::test]
async fn idempotent_retries_replay_and_reused_keys_are_refused() {
    let app = spawn().await;
    let body = json!({"first_name": "Ida", "last_name": "Rhodes", "email": "ida@example.com"});
    let key = [("Idempotency-Key", "4d1f0a52-7b1c-4f7e-9c7a-000000000001")];
    let first = app.call(Method::POST, "/api/v1/contacts", Some(&app.admin), Some(body.clone()), &key).await;
    assert_eq!(first.status, 201);
    assert!(first.header("idempotent-replayed").is_none());
    let again = app.call(Method::POST, "/api/v1/contacts", Some(&app.admin), Some(body.clone()), &key).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(count(&app, "/api/v1/contacts").await, 1);

    // Same key, other request: refused, nothing written.
    let other = json!({"first_name": "Someone", "last_name": "Else"});
    let reused = app.call(Method::POST, "/api/v1/contacts", Some(&app.admin), Some(other), &key).await;
    assert_eq!(reused.status, 422);
    assert_eq!(reused.body["code"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(count(&app, "/api/v1/contacts").await, 1);

    // Keys are per caller: another subject's identical key is its own request.
    let other_user = token(&app.keys, "someone-else", &["admin"], &[]);
    let theirs = app.call(Method::POST, "/api/v1/contacts", Some(&other_user), Some(body.clone()), &key).await;
    assert_eq!(theirs.status, 409, "a real second attempt: the email is taken");
    assert!(theirs.header("idempotent-replayed").is_none());

    // Error answers are replayed too (the request is not re-run), PATCH included.
    let id = first.body["id"].as_str().unwrap();
    let pkey = [("Idempotency-Key", "patch-1"), ("If-Match", "\"1\"")];
    let p1 = app
        .call(Method::PATCH, &format!("/api/v1/contacts/{id}"), Some(&app.admin), Some(json!({"title": "A"})), &pkey)
        .await;
    assert_eq!(p1.status, 200);
    let p2 = app
        .call(Method::PATCH, &format!("/api/v1/contacts/{id}"), Some(&app.admin), Some(json!({"title": "A"})), &pkey)
        .await;
    assert_eq!(p2.status, 200);
    assert_eq!(p2.body["version"], 2, "replayed, not applied twice");
    assert_eq!(app.get(&format!("/api/v1/contacts/{id}")).await.expect(200)["version"], 2);

    let bad = app
        .call(Method::POST, "/api/v1/contacts", Some(&app.admin), Some(body), &[("Idempotency-Key", "has space")])
        .await;
    assert_eq!(bad.body["code"], "INVALID_IDEMPOTENCY_KEY");
}

#[actix_web::test]
async fn concurrent_requests_with_one_key_write_once() {
    let app = spawn().await;
    let body = json!({"name": "Once Ltd", "domain": "once.example.com"});
    let key = [("Idempotency-Key", "same-key-for-all")];
    let futs: Vec<_> = (0..6)
        .map(|_| app.call(Method::POST, "/api/v1/accounts", Some(&app.admin), Some(body.clone()), &key))
        .collect();
    let results = futures_util::future::join_all(futs).await;
    let mut created_ids = HashSet::new();
    for r in &results {
        match r.status.as_u16() {
            201 => {
                created_ids.insert(r.body["id"].as_str().unwrap().to_string());
            }
            409 => assert_eq!(r.body["code"], "IDEMPOTENCY_KEY_IN_USE"),
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!(created_ids.len(), 1, "every 201 is the same record");
    assert_eq!(count(&app, "/api/v1/accounts").await, 1);
    let retry = app.call(Method::POST, "/api/v1/accounts", Some(&app.admin), Some(body), &key).await;
    assert_eq!(retry.status, 201);
    assert!(created_ids.contains(retry.body["id"].as_str().unwrap()));
}

#[actix_web::test]
async fn upsert_by_external_id_and_references_by_external_id() {
    let app = spawn().await;
    let put = |body: Value| {
        app.call(Method::PUT, "/api/v1/accounts/by-external-id/ERP/A-7", Some(&app.admin), Some(body), &[])
    };
    let first = put(json!({"name": "Seven Industries", "city": "Seoul"})).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["version"], 1);
    assert_eq!(first.body["external_ids"], json!([{"source": "erp", "id": "A-7"}]));
    let second = put(json!({"industry": "steel"})).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body["version"], 2);
    assert_eq!(second.body["id"], first.body["id"]);
    assert_eq!(second.body["city"], "Seoul", "fields not sent are kept");
    // Even a patch that clears external_ids keeps the one it was addressed by.
    let third = put(json!({"external_ids": [{"source": "sap", "id": "9"}]})).await.expect(200);
    assert_eq!(third["external_ids"].as_array().unwrap().len(), 2);
    assert_eq!(count(&app, "/api/v1/accounts").await, 1);
    let got = app.get("/api/v1/accounts/by-external-id/erp/A-7").await.expect(200);
    assert_eq!(got["id"], first.body["id"]);
    assert_eq!(app.get("/api/v1/accounts/by-external-id/erp/nope").await.status, 404);
    // Creating through upsert still validates what a new record needs.
    let missing_name = app
        .call(
            Method::PUT,
            "/api/v1/accounts/by-external-id/erp/A-8",
            Some(&app.admin),
            Some(json!({"city": "Busan"})),
            &[],
        )
        .await;
    assert_eq!(missing_name.status, 422);
    assert_eq!(error_fields(&missing_name.body), vec!["name"]);

    // A contact references its account by external id; lists filter by external id.
    let c = app
        .call(
            Method::PUT,
            "/api/v1/contacts/by-external-id/erp/C-10042",
            Some(&app.admin),
            Some(json!({"last_name": "Park", "account": {"external_id": {"source": "erp", "id": "A-7"}}})),
            &[],
        )
        .await
        .expect(201);
    assert_eq!(c["account_id"], first.body["id"]);
    let listed = app.get("/api/v1/contacts?filter=external_id%5Beq%5D:erp:C-10042").await.expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let in_list =
        app.get("/api/v1/contacts?filter=external_id%5Bin%5D:%5Berp:C-10042,erp:nothing%5D").await.expect(200);
    assert_eq!(in_list["data"].as_array().unwrap().len(), 1);
    let unknown = app
        .post(
            "/api/v1/contacts",
            json!({"last_name": "Lost", "account": {"external_id": {"source": "erp", "id": "A-404"}}}),
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert_eq!(error_fields(&unknown.body), vec!["account.external_id"]);
    // Moving the contact to another account by reference (the sync's way of saying "moved").
    app.call(
        Method::PUT,
        "/api/v1/accounts/by-external-id/erp/A-8",
        Some(&app.admin),
        Some(json!({"name": "Eight"})),
        &[],
    )
    .await
    .expect(201);
    let moved = app
        .call(
            Method::PUT,
            "/api/v1/contacts/by-external-id/erp/C-10042",
            Some(&app.admin),
            Some(json!({"account": {"external_id": {"source": "erp", "id": "A-8"}}})),
            &[],
        )
        .await
        .expect(200);
    assert_ne!(moved["account_id"], first.body["id"]);
    // Re-sending the same external ids in another order changes nothing.
    let cid = c["id"].as_str().unwrap();
    let v = moved["version"].as_i64().unwrap();
    app.patch(
        &format!("/api/v1/contacts/{cid}"),
        json!({"external_ids": [{"source": "zz", "id": "1"}, {"source": "erp", "id": "C-10042"}]}),
    )
    .await
    .expect(200);
    let again = app
        .patch(
            &format!("/api/v1/contacts/{cid}"),
            json!({"external_ids": [{"source": "erp", "id": "C-10042"}, {"source": "ZZ", "id": "1"}]}),
        )
        .await
        .expect(200);
    assert_eq!(again["version"], v + 1);
    // An external id belongs to one record.
    let clash = app
        .post("/api/v1/contacts", json!({"last_name": "Clash", "external_ids": [{"source": "erp", "id": "C-10042"}]}))
        .await;
    assert_eq!(clash.status, 409);
    assert_eq!(clash.body["existing_id"], c["id"]);
}

#[actix_web::test]
async fn batches_answer_per_item_or_roll_back_as_a_whole() {
    let app = spawn().await;
    let existing = app.contact("Ex", "Isting", json!({"email": "ex@example.com"})).await;
    let ex_id = existing["id"].as_str().unwrap();
    let r = app
        .post(
            "/api/v1/contacts/batch",
            json!({"operations": [
                {"op": "create", "data": {"last_name": "One"}},
                {"op": "create", "data": {"email": "not-an-email"}},
                {"op": "update", "id": ex_id, "data": {"title": "CTO"}, "expected_version": 1},
                {"op": "update", "id": ex_id, "data": {"title": "CEO"}, "expected_version": 1},
                {"op": "upsert", "external_id": {"source": "erp", "id": "B-1"}, "data": {"last_name": "Two"}},
                {"op": "delete", "id": ex_id},
                {"op": "create", "data": {"last_name": "Dup", "email": "one@example.com"}},
                {"op": "create", "data": {"last_name": "Dup2", "email": "one@example.com"}}
            ]}),
        )
        .await
        .expect(200);
    let statuses: Vec<u64> = r["results"].as_array().unwrap().iter().map(|x| x["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![201, 422, 200, 412, 201, 204, 201, 409]);
    assert_eq!(r["results"][1]["error"]["code"], "VALIDATION_FAILED");
    assert_eq!(r["results"][3]["error"]["current_version"], 2);
    assert_eq!(r["results"][4]["record"]["external_ids"][0]["id"], "B-1");
    assert_eq!(count(&app, "/api/v1/contacts").await, 3);

    // The same external id twice in one batch: created, then updated from a fresh read.
    let twice = app
        .post(
            "/api/v1/contacts/batch",
            json!({"operations": [
                {"op": "upsert", "external_id": {"source": "erp", "id": "T-1"}, "data": {"last_name": "Twice"}},
                {"op": "upsert", "external_id": {"source": "erp", "id": "T-1"}, "data": {"title": "CFO"}},
                {"op": "upsert", "external_id": {"source": "erp", "id": "B-1"}, "data": {"title": "COO"}},
                {"op": "upsert", "external_id": {"source": "erp", "id": "B-1"}, "data": {"department": "Ops"}}
            ]}),
        )
        .await
        .expect(200);
    let r: Vec<(u64, i64)> = twice["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["status"].as_u64().unwrap(), x["version"].as_i64().unwrap()))
        .collect();
    assert_eq!(r, vec![(201, 1), (200, 2), (200, 2), (200, 3)]);
    assert_eq!(twice["results"][3]["record"]["title"], "COO");
    assert_eq!(count(&app, "/api/v1/contacts").await, 4);

    // An id given by a create, then upserted: the upsert finds the record the create made.
    // A record archived, then updated: the update starts from the archived record.
    let mixed = app
        .post(
            "/api/v1/contacts/batch",
            json!({"operations": [
                {"op": "create", "data": {"last_name": "Made", "external_ids": [{"source": "erp", "id": "M-1"}]}},
                {"op": "upsert", "external_id": {"source": "erp", "id": "M-1"}, "data": {"title": "Found"}},
                {"op": "delete", "id": twice["results"][0]["id"]},
                {"op": "update", "id": twice["results"][0]["id"], "data": {"title": "Late"}}
            ]}),
        )
        .await
        .expect(200);
    let r: Vec<u64> = mixed["results"].as_array().unwrap().iter().map(|x| x["status"].as_u64().unwrap()).collect();
    assert_eq!(r, vec![201, 200, 204, 200]);
    assert_eq!(mixed["results"][1]["id"], mixed["results"][0]["id"]);
    assert_eq!(mixed["results"][1]["record"]["title"], "Found");
    assert!(mixed["results"][3]["record"]["archived_at"].is_string(), "updated from the archived record");
    assert_eq!(mixed["results"][3]["version"], 4);
    assert_eq!(count(&app, "/api/v1/contacts").await, 4);

    // Atomic: one bad item, nothing applied.
    let before = count(&app, "/api/v1/contacts?archived=true").await;
    let atomic = app
        .post(
            "/api/v1/contacts/batch",
            json!({"atomic": true, "operations": [
                {"op": "create", "data": {"last_name": "A1"}},
                {"op": "create", "data": {"last_name": "A2", "phone": "12"}},
                {"op": "create", "data": {"last_name": "A3"}}
            ]}),
        )
        .await;
    assert_eq!(atomic.status, 422);
    assert_eq!(atomic.body["operation_index"], 1);
    assert_eq!(error_fields(&atomic.body), vec!["operations[1].phone"]);
    assert_eq!(count(&app, "/api/v1/contacts?archived=true").await, before);

    // Limits and shape.
    let too_many: Vec<Value> =
        (0..1001).map(|i| json!({"op": "create", "data": {"last_name": format!("N{i}")}})).collect();
    assert_eq!(app.post("/api/v1/contacts/batch", json!({"operations": too_many})).await.status, 413);
    let unknown_op = app.post("/api/v1/contacts/batch", json!({"operations": [{"op": "merge", "data": {}}]})).await;
    assert_eq!(unknown_op.status, 422);
}

#[actix_web::test]
async fn failures_across_a_long_batch_leave_nothing_behind() {
    // Operations run in groups under one savepoint; a failure rolls its group back and the
    // others run again. Failures at group edges and in a row must still answer per item, and
    // only what succeeded may be stored and announced in the feed, once.
    let app = spawn().await;
    let bad: HashSet<usize> = [0, 1, 63, 64, 65, 127, 150, 199].into_iter().collect();
    let ops: Vec<Value> = (0..200)
        .map(|i| {
            if bad.contains(&i) {
                json!({"op": "create", "data": {"last_name": format!("Bad{i}"), "email": "not-an-email"}})
            } else if i == 100 {
                // The same email as operation 99, in the same group: a duplicate.
                json!({"op": "create", "data": {"last_name": "Dup", "email": "g99@long.example.com"}})
            } else {
                json!({"op": "upsert", "external_id": {"source": "erp", "id": format!("G-{i}")},
                       "data": {"last_name": format!("G{i}"), "email": format!("g{i}@long.example.com")}})
            }
        })
        .collect();
    let r = app.post("/api/v1/contacts/batch", json!({"operations": ops})).await.expect(200);
    let statuses: Vec<u64> = r["results"].as_array().unwrap().iter().map(|x| x["status"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (0..200)
        .map(|i| {
            if bad.contains(&i) {
                422
            } else if i == 100 {
                409
            } else {
                201
            }
        })
        .collect();
    assert_eq!(statuses, expected);
    assert_eq!(r["results"][100]["error"]["existing_id"], r["results"][99]["id"]);
    let created = 200 - bad.len() - 1;
    assert_eq!(count(&app, "/api/v1/contacts").await, created as i64);
    let feed = app.get("/api/v1/changes?after=0&limit=1000").await.expect(200);
    let events = feed["data"].as_array().unwrap();
    assert_eq!(events.len(), created, "one event per stored record, none from rolled-back attempts");
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=created as i64).collect::<Vec<i64>>());
    let entity_ids: HashSet<&str> = events.iter().map(|e| e["entity_id"].as_str().unwrap()).collect();
    let stored: HashSet<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["status"] == 201)
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(entity_ids, stored, "the feed names exactly the records answered as created");
    // Every stored record carries its external id once.
    let g2 = app.get("/api/v1/contacts/by-external-id/erp/G-2").await.expect(200);
    assert_eq!(g2["id"], r["results"][2]["id"]);
    assert_eq!(g2["external_ids"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn a_thousand_upserts_in_one_batch() {
    let app = spawn().await;
    let ops = |suffix: &str| -> Vec<Value> {
        (0..1000)
            .map(|i| {
                json!({"op": "upsert", "external_id": {"source": "erp", "id": format!("C-{i}")},
                       "data": {"first_name": format!("F{i}"), "last_name": format!("L{suffix}"), "email": format!("c{i}@bulk.example.com")}})
            })
            .collect()
    };
    let started = Instant::now();
    let r = app.post("/api/v1/contacts/batch", json!({"operations": ops("a")})).await.expect(200);
    let created = started.elapsed();
    assert!(r["results"].as_array().unwrap().iter().all(|x| x["status"] == 201));
    let started = Instant::now();
    let r = app.post("/api/v1/contacts/batch", json!({"operations": ops("b")})).await.expect(200);
    let updated = started.elapsed();
    assert!(r["results"].as_array().unwrap().iter().all(|x| x["status"] == 200 && x["version"] == 2));
    assert_eq!(count(&app, "/api/v1/contacts").await, 1000);
    // The updates were written a group at a time: every row holds what was answered.
    assert_eq!(count(&app, "/api/v1/contacts?filter=last_name%5Beq%5D:Lb").await, 1000);
    assert_eq!(count(&app, "/api/v1/contacts?filter=version%5Beq%5D:2").await, 1000);
    let last = app.get("/api/v1/contacts/by-external-id/erp/C-999").await.expect(200);
    assert_eq!(last, r["results"][999]["record"]);
    // The feed streams long pages in slices; the slices join into one exact page.
    let feed = app.get("/api/v1/changes?after=0&limit=10000").await.expect(200);
    let seqs: Vec<i64> = feed["data"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=2000).collect::<Vec<i64>>());
    assert_eq!(feed["next_after"], 2000);
    let part = app.get("/api/v1/changes?after=500&limit=1200").await.expect(200);
    assert_eq!(part["data"].as_array().unwrap().len(), 1200);
    assert_eq!(part["data"][0]["seq"], 501);
    assert_eq!(part["next_after"], 1700);
    let updates = app.get("/api/v1/changes?after=0&limit=10000&types=contact.updated").await.expect(200);
    assert_eq!(updates["data"].as_array().unwrap().len(), 1000);
    assert_eq!(updates["data"][999]["after"]["last_name"], "Lb");
    assert_eq!(updates["next_after"], 2000);
    // Timing is reported, not asserted (benchmarks own targets); see docs/PERFORMANCE notes.
    eprintln!("batch of 1000 upserts (debug build): create {created:?}, update {updated:?}");
}

#[actix_web::test]
async fn batch_operations_see_the_updates_before_them() {
    // Updates of records the batch read up front are written at the end of their group; any
    // other operation must still see them (a second update of the same record, an email
    // that an earlier operation frees).
    let app = spawn().await;
    let a = app.contact("A", "A", json!({"email": "a@seen.example.com"})).await;
    let b = app.contact("B", "B", json!({"email": "b@seen.example.com"})).await;
    let c = app.contact("C", "C", json!({"email": "c@seen.example.com"})).await;
    let (a, b, c) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap(), c["id"].as_str().unwrap());
    let r = app
        .post(
            "/api/v1/contacts/batch",
            json!({"operations": [
                {"op": "update", "id": a, "data": {"title": "T1"}},
                {"op": "update", "id": a, "data": {"department": "D1"}, "expected_version": 2},
                {"op": "update", "id": b, "data": {"title": "T2"}},
                {"op": "update", "id": c, "data": {"email": "b@seen.example.com"}},
                {"op": "update", "id": b, "data": {"email": "b2@seen.example.com"}},
                {"op": "update", "id": c, "data": {"email": "b@seen.example.com"}},
                {"op": "update", "id": c, "data": {"title": "T3"}}
            ]}),
        )
        .await
        .expect(200);
    let got: Vec<(u64, i64)> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["status"].as_u64().unwrap(), x["version"].as_i64().unwrap_or(0)))
        .collect();
    assert_eq!(got, vec![(200, 2), (200, 3), (200, 2), (409, 0), (200, 3), (200, 2), (200, 3)]);
    assert_eq!(r["results"][1]["record"]["title"], "T1");
    assert_eq!(r["results"][4]["record"]["title"], "T2");
    for (i, id) in [(1, a), (4, b), (6, c)] {
        let stored = app.get(&format!("/api/v1/contacts/{id}")).await.expect(200);
        assert_eq!(stored, r["results"][i]["record"], "operation {i}");
    }
    let feed = app.get("/api/v1/changes?after=0&types=contact.updated").await.expect(200);
    assert_eq!(feed["data"].as_array().unwrap().len(), 6, "one event per applied update");

    // Creates are written at the end of their group too: a taken external id or email is
    // still reported on the operation that took it, with the owner, and nothing else is lost.
    app.patch(&format!("/api/v1/contacts/{a}"), json!({"external_ids": [{"source": "erp", "id": "A-1"}]}))
        .await
        .expect(200);
    let (r, statuses) = batch(
        &app,
        json!({"operations": [
            {"op": "create", "data": {"last_name": "N1", "email": "n1@seen.example.com"}},
            {"op": "create", "data": {"last_name": "N2", "external_ids": [{"source": "erp", "id": "A-1"}]}},
            {"op": "create", "data": {"last_name": "N3", "external_ids": [{"source": "erp", "id": "N-3"}, {"source": "erp", "id": "N-3"}]}},
            {"op": "create", "data": {"last_name": "N4", "email": "N1@seen.example.com"}},
            {"op": "update", "id": b, "data": {"title": "T4"}}
        ]}),
    )
    .await;
    assert_eq!(statuses, vec![201, 409, 201, 409, 200]);
    assert_eq!(r["results"][1]["error"]["code"], "DUPLICATE_RECORD");
    assert_eq!(r["results"][1]["error"]["existing_id"], a);
    assert_eq!(r["results"][3]["error"]["existing_id"], r["results"][0]["id"]);
    let n3 = app.get("/api/v1/contacts/by-external-id/erp/N-3").await.expect(200);
    assert_eq!(n3, r["results"][2]["record"]);
    assert_eq!(app.get(&format!("/api/v1/contacts/{b}")).await.expect(200)["title"], "T4");
    assert_eq!(count(&app, "/api/v1/contacts").await, 5);

    // An update that frees an external id after a create asked for it does not let the create
    // have it (one by one, the create came first and found it taken).
    app.patch(&format!("/api/v1/contacts/{c}"), json!({"external_ids": [{"source": "erp", "id": "C-1"}]}))
        .await
        .expect(200);
    let (r, statuses) = batch(
        &app,
        json!({"operations": [
            {"op": "create", "data": {"last_name": "N5", "external_ids": [{"source": "erp", "id": "C-1"}]}},
            {"op": "update", "id": c, "data": {"external_ids": []}}
        ]}),
    )
    .await;
    assert_eq!(statuses, vec![409, 200]);
    assert_eq!(r["results"][0]["error"]["existing_id"], c);
    assert_eq!(count(&app, "/api/v1/contacts").await, 5);

    // Atomic batches defer too, and still roll back whole.
    let atomic = app
        .post(
            "/api/v1/contacts/batch",
            json!({"atomic": true, "operations": [
                {"op": "update", "id": a, "data": {"title": "Never"}},
                {"op": "update", "id": b, "data": {"email": "a@seen.example.com"}}
            ]}),
        )
        .await;
    assert_eq!(atomic.status, 409);
    assert_eq!(atomic.body["operation_index"], 1);
    assert_eq!(app.get(&format!("/api/v1/contacts/{a}")).await.expect(200)["title"], "T1");
}

#[actix_web::test]
async fn batch_updates_racing_single_updates_lose_nothing() {
    // Batches read their records first and write them a group at a time; a PATCH landing in
    // between makes that write find a newer version, and the group runs again. Whatever the
    // interleaving, every applied change stays and each version is announced once.
    let app = spawn().await;
    let n = 120;
    let ops = |round: usize| -> Value {
        let ops: Vec<Value> = (0..n)
            .map(|i| {
                json!({"op": "upsert", "external_id": {"source": "erp", "id": format!("R-{i}")},
                            "data": {"last_name": format!("R{i}"), "title": format!("round {round}")}})
            })
            .collect();
        json!({ "operations": ops })
    };
    let created = app.post("/api/v1/contacts/batch", ops(0)).await.expect(200);
    let ids: Vec<String> =
        created["results"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_string()).collect();
    let batches = async {
        for round in 1..=6 {
            let r = app.post("/api/v1/contacts/batch", ops(round)).await.expect(200);
            assert!(r["results"].as_array().unwrap().iter().all(|x| x["status"] == 200), "round {round}: {r}");
        }
    };
    let patches = async {
        for pass in 0..2 {
            for id in ids.iter().step_by(3) {
                app.patch(&format!("/api/v1/contacts/{id}"), json!({"department": format!("pass {pass}")}))
                    .await
                    .expect(200);
            }
        }
    };
    futures_util::join!(batches, patches);
    let feed = app.get("/api/v1/changes?after=0&limit=10000").await.expect(200);
    let mut versions: std::collections::HashMap<&str, Vec<i64>> = std::collections::HashMap::new();
    for e in feed["data"].as_array().unwrap() {
        versions.entry(e["entity_id"].as_str().unwrap()).or_default().push(e["after"]["version"].as_i64().unwrap());
    }
    for (k, id) in ids.iter().enumerate() {
        let stored = app.get(&format!("/api/v1/contacts/{id}")).await.expect(200);
        assert_eq!(stored["title"], "round 6");
        let patched = k % 3 == 0;
        assert_eq!(stored["department"], if patched { json!("pass 1") } else { Value::Null });
        let v = stored["version"].as_i64().unwrap();
        assert_eq!(v, if patched { 9 } else { 7 }, "contact {k}");
        assert_eq!(versions[id.as_str()], (1..=v).collect::<Vec<i64>>(), "contact {k}: one event per version");
    }
}

#[actix_web::test]
async fn the_change_feed_is_complete_and_ordered_under_concurrent_writers() {
    let app = spawn().await;
    let reader = token(&app.keys, "sync-job", &[], &["changes:read", "contacts:read", "accounts:read"]);
    let writers = 4;
    let per_writer = 15;
    // The reader stops only once the writers are done and a last read finds nothing new.
    let writers_done = std::cell::Cell::new(false);
    let feed = async {
        let mut seen: Vec<Value> = Vec::new();
        let mut after = 0i64;
        loop {
            let finished = writers_done.get();
            let page = app
                .call(Method::GET, &format!("/api/v1/changes?after={after}&limit=7"), Some(&reader), None, &[])
                .await
                .expect(200);
            let data = page["data"].as_array().unwrap().clone();
            after = page["next_after"].as_i64().unwrap();
            if data.is_empty() {
                if finished {
                    break;
                }
                actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
            } else {
                seen.extend(data);
            }
        }
        seen
    };
    let write = |w: usize| {
        let app = &app;
        async move {
            let mut ok = 0usize;
            for i in 0..per_writer {
                let c = app
                    .post("/api/v1/contacts", json!({"first_name": format!("W{w}"), "last_name": format!("N{i}")}))
                    .await;
                if c.status == 201 {
                    ok += 1;
                    let id = c.body["id"].as_str().unwrap().to_string();
                    if app.patch(&format!("/api/v1/contacts/{id}"), json!({"title": "t"})).await.status == 200 {
                        ok += 1;
                    }
                }
            }
            ok
        }
    };
    let writes = async {
        let oks = futures_util::future::join_all((0..writers).map(write)).await;
        writers_done.set(true);
        oks
    };
    let (seen, oks) = futures_util::join!(feed, writes);
    let total_writes: usize = oks.iter().sum();
    assert_eq!(total_writes, writers * per_writer * 2);
    let seqs: Vec<i64> = seen.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs.len(), total_writes, "every committed write appears exactly once");
    for (i, s) in seqs.iter().enumerate() {
        assert_eq!(*s, i as i64 + 1, "no gap and no duplicate at position {i}");
    }
    let ids: HashSet<&str> = seen.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), seen.len());
    let created = seen.iter().filter(|e| e["type"] == "contact.created").count();
    assert_eq!(created, writers * per_writer);
    let upd = seen.iter().find(|e| e["type"] == "contact.updated").unwrap();
    assert_eq!(upd["changed_fields"], json!(["title"]));
    assert_eq!(upd["before"]["title"], Value::Null);
    assert_eq!(upd["after"]["title"], "t");
    assert_eq!(upd["actor"], "admin-user");
    assert!(upd["request_id"].is_string());
}

#[actix_web::test]
async fn feed_scopes_filters_and_history() {
    let app = spawn().await;
    let acc = app.account("Feed Co", json!({})).await;
    let c = app.contact("Hist", "Ory", json!({"account_id": acc["id"]})).await;
    let id = c["id"].as_str().unwrap();
    app.patch(&format!("/api/v1/contacts/{id}"), json!({"title": "Engineer", "city": "Seoul"})).await.expect(200);
    app.patch(&format!("/api/v1/contacts/{id}"), json!({"title": "CTO"})).await.expect(200);
    app.delete(&format!("/api/v1/contacts/{id}")).await;

    let readonly = app.token(&["readonly"]);
    let r = app.call(Method::GET, "/api/v1/changes", Some(&readonly), None, &[]).await;
    assert_eq!(r.status, 403);
    let contacts_only = token(&app.keys, "job", &[], &["changes:read", "contacts:read"]);
    let page = app.call(Method::GET, "/api/v1/changes", Some(&contacts_only), None, &[]).await.expect(200);
    assert!(page["data"].as_array().unwrap().iter().all(|e| e["entity"] == "contact"));
    assert_eq!(page["data"].as_array().unwrap().len(), 4);
    assert_eq!(
        app.call(Method::GET, "/api/v1/changes?types=account", Some(&contacts_only), None, &[]).await.status,
        403
    );
    let typed = app.get("/api/v1/changes?types=contact.archived").await.expect(200);
    assert_eq!(typed["data"].as_array().unwrap().len(), 1);
    assert_eq!(typed["data"][0]["changed_fields"], json!(["archived_at"]));
    assert_eq!(app.get("/api/v1/changes?types=widget").await.status, 400);
    // A position past the head is refused (the_feed_refuses_positions_it_cannot_continue_from).
    let tail = app.get(&format!("/api/v1/changes?after={}", page["next_after"].as_i64().unwrap() + 100)).await;
    assert_eq!(tail.status, 409);

    let h = app.get(&format!("/api/v1/contacts/{id}/history")).await.expect(200);
    let entries = h["data"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0]["type"], "contact.archived");
    assert_eq!(entries[1]["type"], "contact.updated");
    assert_eq!(entries[1]["changes"], json!([{"field": "title", "from": "Engineer", "to": "CTO"}]));
    // Title and city, and the location's source: a city without a country places nothing.
    let changed: Vec<&str> = entries[2]["changes"].as_array().unwrap().iter().map(|c| s(&c["field"])).collect();
    assert_eq!(changed, vec!["city", "location_source", "title"]);
    assert_eq!(entries[3]["type"], "contact.created");
    assert_eq!(entries[3]["actor"], "admin-user");
    let paged = app.get(&format!("/api/v1/contacts/{id}/history?limit=2")).await.expect(200);
    let before = paged["next_before"].as_i64().unwrap();
    let older = app.get(&format!("/api/v1/contacts/{id}/history?limit=2&before={before}")).await.expect(200);
    assert_eq!(older["data"][1]["type"], "contact.created");
    assert_eq!(
        app.get(&format!("/api/v1/accounts/{}/history", acc["id"].as_str().unwrap())).await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // GraphQL: the same feed and history.
    let g = app
        .gql(
            &app.admin,
            "{ changes(after: 0, types: [\"contact\"], first: 2) { nextAfter data { seq type } } }",
            json!({}),
        )
        .await;
    assert_eq!(g["data"]["changes"]["data"].as_array().unwrap().len(), 2);
    let gh = app
        .gql(
            &app.admin,
            "query($id: UUID!) { contact(id: $id) { history(first: 1) { type changes { field } } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(gh["data"]["contact"]["history"][0]["type"], "contact.archived");
}

#[actix_web::test]
async fn graphql_upserts_and_batches() {
    let app = spawn().await;
    let up = app
        .gql(
            &app.admin,
            "mutation { upsertAccount(externalId: {source: \"erp\", id: \"G-1\"}, input: {name: \"GQL\"}) { created node { version externalIds { source id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(up["data"]["upsertAccount"]["created"], true);
    let again = app
        .gql(&app.admin, "mutation { upsertAccount(externalId: {source: \"erp\", id: \"G-1\"}, input: {city: \"Busan\"}) { created node { version } } }", json!({}))
        .await;
    assert_eq!(again["data"]["upsertAccount"], json!({"created": false, "node": {"version": 2}}));
    let b = app
        .gql(
            &app.admin,
            "mutation { batchContacts(operations: [{create: {lastName: \"B1\"}}, {create: {email: \"bad\"}}, {upsert: {externalId: {source: \"erp\", id: \"X\"}, input: {lastName: \"B3\"}}}]) { status id error { code fields { field } } } }",
            json!({}),
        )
        .await;
    let results = b["data"]["batchContacts"].as_array().unwrap();
    assert_eq!(results.iter().map(|r| r["status"].as_i64().unwrap()).collect::<Vec<_>>(), vec![201, 422, 201]);
    assert_eq!(results[1]["error"]["code"], "VALIDATION_FAILED");
    let atomic = app
        .gql(&app.admin, "mutation { batchContacts(atomic: true, operations: [{create: {lastName: \"Z1\"}}, {create: {email: \"bad\"}}]) { status } }", json!({}))
        .await;
    assert_eq!(atomic["errors"][0]["extensions"]["operation_index"], 1);
    assert_eq!(count(&app, "/api/v1/contacts").await, 2);
}

/// A client cannot skip changes by holding a wrong position: beyond the head is 409 with the
/// head, a position whose following events retention removed is 410 with the oldest one kept;
/// the head can be read on its own (the bootstrap: note the head, export, then follow).
#[actix_web::test]
async fn the_feed_refuses_positions_it_cannot_continue_from() {
    let app = spawn().await;
    let empty = app.get("/api/v1/changes/head").await.expect(200);
    assert_eq!(empty, json!({"head": 0, "oldest_available": null}));
    for i in 0..5 {
        app.contact("Feed", &format!("Bound{i}"), json!({})).await;
    }
    let bounds = app.get("/api/v1/changes/head").await.expect(200);
    assert_eq!(bounds, json!({"head": 5, "oldest_available": 1}));
    // At the head: an empty page that stays there. Beyond it: refused.
    let at_head = app.get("/api/v1/changes?after=5").await.expect(200);
    assert_eq!((at_head["data"].as_array().unwrap().len(), &at_head["next_after"]), (0, &json!(5)));
    let ahead = app.get("/api/v1/changes?after=999999999").await;
    assert_eq!(
        (ahead.status.as_u16(), ahead.body["code"].as_str()),
        (409, Some("CHANGE_FEED_AHEAD")),
        "{}",
        ahead.body
    );
    assert_eq!(ahead.body["head"], 5);
    let g = app.gql(&app.admin, "{ changes(after: 6) { nextAfter } }", json!({})).await;
    assert_eq!(g["errors"][0]["extensions"]["code"], "CHANGE_FEED_AHEAD", "{g}");

    // Retention removes the first three events (they occurred 40 days ago).
    let removed = app
        .db
        .write(|c| -> Result<usize, crm_db::DbError> {
            use crm_db::schema::events;
            use diesel::prelude::*;
            let long_ago = (chrono::Utc::now() - chrono::Duration::days(40)).naive_utc();
            diesel::update(events::table.filter(events::seq.le(3)))
                .set(events::occurred_at.eq(long_ago))
                .execute(c)
                .map_err(crm_db::DbError::from)?;
            crm_events::purge_before(c, (chrono::Utc::now() - chrono::Duration::days(30)).naive_utc())
        })
        .await
        .unwrap();
    assert_eq!(removed, 3);
    let bounds = app.get("/api/v1/changes/head").await.expect(200);
    assert_eq!(bounds, json!({"head": 5, "oldest_available": 4}));
    // A client at 1 missed 2 and 3: told so, with where the feed starts now.
    let gone = app.get("/api/v1/changes?after=1").await;
    assert_eq!((gone.status.as_u16(), gone.body["code"].as_str()), (410, Some("CHANGE_FEED_EXPIRED")), "{}", gone.body);
    assert_eq!((gone.body["oldest_available"].as_i64(), gone.body["head"].as_i64()), (Some(4), Some(5)));
    // At 3 nothing was missed; 0 reads from the oldest kept; a type filter with nothing to
    // show after a valid position is an empty page, not an error.
    let from_3 = app.get("/api/v1/changes?after=3").await.expect(200);
    assert_eq!(from_3["data"][0]["seq"], 4);
    let from_0 = app.get("/api/v1/changes?after=0").await.expect(200);
    assert_eq!(from_0["data"][0]["seq"], 4);
    let none = app.get("/api/v1/changes?after=3&types=account").await.expect(200);
    assert_eq!((none["data"].as_array().unwrap().len(), &none["next_after"]), (0, &json!(3)));
    // Reading the bounds needs the feed's scope.
    let support = app.token(&["support"]);
    assert_eq!(app.call(Method::GET, "/api/v1/changes/head", Some(&support), None, &[]).await.status, 403);
    let g = app.gql(&app.admin, "{ changeFeedBounds { head oldestAvailable } }", json!({})).await;
    assert_eq!(g["data"]["changeFeedBounds"], json!({"head": 5, "oldestAvailable": 4}));
}
