//! Bulk imports: CSV and NDJSON files uploaded as multipart, run as jobs through the write
//! rules of the API, with per-row error reports, dry runs, upserts by external id and by email,
//! and a job that resumes after its instance is killed without leaving half a chunk.

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::*;

/// Uploads a file with its `import` part first.
async fn upload(app: &TestApp, token: &str, import: Value, file: &[u8]) -> Resp {
    post_form(app, token, "/api/v1/imports", &[("import", import.to_string().as_bytes()), ("file", file)]).await
}

/// Polls an import until it ends, for at most two minutes.
async fn wait_for_import(app: &TestApp, id: &str) -> Value {
    let started = std::time::Instant::now();
    loop {
        let import = app.get(&format!("/api/v1/imports/{id}")).await.expect(200);
        if ["succeeded", "failed", "cancelled"].contains(&import["status"].as_str().unwrap_or_default()) {
            return import;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "the import never ended: {import}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn import(app: &TestApp, request: Value, file: &str) -> Value {
    let started = upload(app, &app.admin, request, file.as_bytes()).await;
    assert_eq!(started.header("location"), Some(format!("/api/v1/imports/{}", s(&started.body["id"]))));
    let body = started.expect(202);
    let done = wait_for_import(app, s(&body["id"])).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    done
}

fn counts(import: &Value) -> [i64; 5] {
    let c = &import["counts"];
    ["read", "created", "updated", "unchanged", "failed"].map(|k| c[k].as_i64().unwrap())
}

const CONTACTS_CSV: &str = "Customer No,First,Last,E-mail,Account No,Tags,DNC,Notes\n\
C-1,Minjun,Kim,minjun.kim@example.kr,A-1,vip; seoul,yes,ignored\n\
C-2,Bad,Email,not-an-email,A-1,,no,\n\
C-3,No,Account,no.account@example.com,A-404,,no,\n\
C-4,Maybe,Call,maybe.call@example.com,,,maybe,\n\
C-5,Anna,\"Schmidt, Dr.\",anna@example.de,,,0,\"two\nlines\"\n";

fn contacts_request() -> Value {
    json!({
        "resource": "contacts", "mode": "upsert", "source": "erp",
        "mapping": {"Customer No": "external_id", "First": "first_name", "Last": "last_name", "E-mail": "email",
                    "Account No": "account.external_id", "Tags": "tags", "DNC": "do_not_call", "Notes": ""}
    })
}

#[actix_web::test]
async fn csv_upsert_by_external_id_with_an_error_report() {
    let app = spawn().await;
    let account = app.account("Acme Korea", json!({"external_ids": [{"source": "erp", "id": "A-1"}]})).await;

    let done = import(&app, contacts_request(), CONTACTS_CSV).await;
    // Five data rows (the quoted line break is one row): two created, three refused.
    assert_eq!(done["rows"], 5);
    assert_eq!(counts(&done), [5, 2, 0, 0, 3], "{done}");
    assert_eq!(done["percent"], 100.0);

    let kim = app.get("/api/v1/contacts/by-external-id/erp/C-1").await.expect(200);
    assert_eq!(kim["email"], "minjun.kim@example.kr");
    assert_eq!(kim["account_id"], account["id"]);
    assert_eq!(kim["tags"], json!(["vip", "seoul"]));
    assert_eq!(kim["do_not_call"], true);
    let anna = app.get("/api/v1/contacts/by-external-id/erp/C-5").await.expect(200);
    assert_eq!(anna["last_name"], "Schmidt, Dr.");
    assert_eq!(anna["do_not_call"], false);
    app.get("/api/v1/contacts/by-external-id/erp/C-2").await.expect(404);

    // The report: one error per refused row, with the column it came from.
    let report = app.get(&format!("/api/v1/imports/{}/errors", s(&done["id"]))).await.expect(200);
    let rows: Vec<(i64, Value, Value, String)> = report["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["field"].clone(), e["column"].clone(), s(&e["code"]).to_string()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (2, json!("email"), json!("E-mail"), "invalid_email".to_string()),
            (3, json!("account.external_id"), json!("Account No"), "not_found".to_string()),
            (4, json!("do_not_call"), json!("DNC"), "invalid_boolean".to_string()),
        ],
        "{report}"
    );
    // Row 4 starts on line 5 of the file (the header is line 1).
    assert_eq!(report["data"][2]["line"], 5);
    let csv = app.get(&format!("/api/v1/imports/{}/errors?format=csv", s(&done["id"]))).await;
    assert_eq!(csv.status, 200);
    let text = s(&csv.body).to_string();
    assert!(text.starts_with("row,line,column,field,code,message\n"), "{text}");
    assert_eq!(text.lines().count(), 4, "{text}");

    // The same file again, one name changed: one update, one row unchanged.
    let again = CONTACTS_CSV.replace("C-1,Minjun,Kim", "C-1,Min-jun,Kim");
    let done = import(&app, contacts_request(), &again).await;
    assert_eq!(counts(&done), [5, 0, 1, 1, 3], "{done}");
    let kim2 = app.get("/api/v1/contacts/by-external-id/erp/C-1").await.expect(200);
    assert_eq!(kim2["first_name"], "Min-jun");
    assert_eq!(kim2["version"].as_i64(), Some(kim["version"].as_i64().unwrap() + 1));

    // Imported rows are ordinary writes: the change feed has them.
    let feed = app.get("/api/v1/changes?after=0&limit=100").await.expect(200);
    let kinds: Vec<&str> = feed["data"].as_array().unwrap().iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "contact.created").count(), 2, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "contact.updated").count(), 1, "{kinds:?}");

    // GraphQL follows the same import.
    let g = app
        .gql(&app.admin, "query($id: UUID!) { import(id: $id) { status counts { read failed } } importErrors(id: $id, first: 2) { nodes { row code } nextAfter } }", json!({"id": done["id"]}))
        .await;
    assert_eq!(g["data"]["import"]["counts"], json!({"read": 5, "failed": 3}), "{g}");
    assert_eq!(g["data"]["importErrors"]["nodes"].as_array().unwrap().len(), 2, "{g}");
    assert!(g["data"]["importErrors"]["nextAfter"].is_string(), "{g}");
}

#[actix_web::test]
async fn dry_run_checks_everything_and_writes_nothing() {
    let app = spawn().await;
    app.account("Acme Korea", json!({"external_ids": [{"source": "erp", "id": "A-1"}]})).await;
    let mut request = contacts_request();
    request["dry_run"] = json!(true);
    let done = import(&app, request, CONTACTS_CSV).await;
    assert_eq!(counts(&done), [5, 2, 0, 0, 3], "{done}");
    assert_eq!(done["dry_run"], true);
    let list = app.get("/api/v1/contacts").await.expect(200);
    assert_eq!(list["data"], json!([]));
    let feed = app.get("/api/v1/changes?after=0&limit=100").await.expect(200);
    let contact_events = feed["data"].as_array().unwrap().iter().filter(|e| e["entity"] == "contact").count();
    assert_eq!(contact_events, 0, "{feed}");
}

#[actix_web::test]
async fn ndjson_upsert_by_email_and_a_saved_mapping() {
    let app = spawn().await;
    let existing = app.contact("Old", "Name", json!({"email": "ada@example.com"})).await;
    app.call(
        Method::PUT,
        "/api/v1/import-mappings/contacts/shop",
        Some(&app.admin),
        Some(json!({"mapping": {"mail": "email", "given": "first_name", "family": "last_name", "vip": "tags"}})),
        &[],
    )
    .await
    .expect(200);
    let file = "{\"mail\": \"ADA@example.com\", \"given\": \"Ada\", \"family\": \"Lovelace\"}\n\
                \n\
                {\"mail\": \"grace@example.com\", \"given\": \"Grace\", \"family\": \"Hopper\"}\n\
                {\"mail\": \"grace@example.com\", \"given\": \"Grace\", \"family\": \"Hopper\", \"vip\": [\"navy\"]}\n\
                {\"mail\": \"grace@example.com\", \"given\": \"Grace\", \"family\": \"Hopper\", \"vip\": [\"navy\"]}\n\
                not json\n";
    let request = json!({"resource": "contacts", "format": "ndjson", "mode": "upsert", "match_on": "email", "mapping_name": "shop"});
    let done = import(&app, request, file).await;
    // Ada updated; Grace created, then updated (same email later in the file), then unchanged.
    assert_eq!(done["rows"], 5);
    assert_eq!(counts(&done), [5, 1, 2, 1, 1], "{done}");
    let ada = app.get(&format!("/api/v1/contacts/{}", s(&existing["id"]))).await.expect(200);
    assert_eq!(ada["first_name"], "Ada");
    let graces = app.get("/api/v1/contacts?filter=email[eq]:grace@example.com").await.expect(200);
    assert_eq!(graces["data"].as_array().unwrap().len(), 1);
    assert_eq!(graces["data"][0]["tags"], json!(["navy"]));
    let report = app.get(&format!("/api/v1/imports/{}/errors", s(&done["id"]))).await.expect(200);
    assert_eq!(report["data"][0]["code"], "invalid_json");
    assert_eq!(report["data"][0]["row"], 5);
}

/// The parts may come in either order: the file is counted as CSV and as NDJSON until the
/// request says which it is.
#[actix_web::test]
async fn the_file_may_come_before_the_request() {
    let app = spawn().await;
    let import = json!({"resource": "contacts", "format": "ndjson", "mode": "create"});
    let file = b"{\"first_name\": \"Ada\", \"email\": \"ada@example.com\"}\n{\"first_name\": \"Grace\"}\n";
    let import = import.to_string();
    let parts: [(&str, &[u8]); 2] = [("file", file), ("import", import.as_bytes())];
    let started = post_form(&app, &app.admin, "/api/v1/imports", &parts).await.expect(202);
    assert_eq!(started["rows"], 2, "{started}");
    let done = wait_for_import(&app, s(&started["id"])).await;
    assert_eq!(counts(&done), [2, 2, 0, 0, 0], "{done}");
}

#[actix_web::test]
async fn bad_uploads_are_refused_before_anything_runs() {
    let app = spawn().await;
    let csv = b"first_name,Surname\nAda,Lovelace\n";
    let fields = |r: &Resp| error_fields(&r.body);
    // A column whose name is no field, without a mapping.
    let r = upload(&app, &app.admin, json!({"resource": "contacts", "mode": "create"}), csv).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r), vec!["mapping.Surname"]);
    // A mapping to a field that does not exist, and one naming a column the file lacks.
    let r = upload(&app, &app.admin, json!({"resource": "contacts", "mode": "create", "mapping": {"first_name": "first_name", "Surname": "surname"}}), csv).await;
    assert_eq!(fields(&r), vec!["mapping.Surname"]);
    let r = upload(
        &app,
        &app.admin,
        json!({"resource": "contacts", "mode": "create", "mapping": {"Given": "first_name"}}),
        csv,
    )
    .await;
    assert_eq!(r.body["code"], "VALIDATION_FAILED", "{}", r.body);
    // An upsert by external id needs the source and a key column.
    let r = upload(
        &app,
        &app.admin,
        json!({"resource": "contacts", "mode": "upsert", "mapping": {"first_name": "external_id"}}),
        csv,
    )
    .await;
    assert_eq!(fields(&r), vec!["source"]);
    let r = upload(
        &app,
        &app.admin,
        json!({"resource": "contacts", "mode": "upsert", "match_on": "phone", "mapping": {"first_name": "first_name"}}),
        csv,
    )
    .await;
    assert_eq!(fields(&r), vec!["match_on"]);
    let r = upload(&app, &app.admin, json!({"resource": "widgets", "mode": "create"}), csv).await;
    assert_eq!(fields(&r), vec!["resource"]);
    // The caller must be allowed to write the resource.
    let support = app.token(&["support"]);
    let r = upload(
        &app,
        &support,
        json!({"resource": "accounts", "mode": "create", "mapping": {"first_name": "name"}}),
        csv,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Not a form.
    let r = app.post("/api/v1/imports", json!({"resource": "contacts"})).await;
    assert_eq!(r.status, 415);
    // Nothing was queued, and no piece of a refused file stays.
    let list = app.get("/api/v1/imports").await.expect(200);
    assert_eq!(list, json!([]));
    let pieces = app
        .db
        .run_sync(|c| {
            use diesel::prelude::*;
            crm_db::schema::job_files::table.count().get_result::<i64>(c).map_err(crm_db::DbError::from)
        })
        .unwrap();
    assert_eq!(pieces, 0);
}

/// The instance running an import is killed (SIGKILL) midway; another takes the job over when
/// the lease runs out and resumes after the last committed chunk: every row once, no half chunk.
#[actix_web::test]
async fn an_import_resumes_after_its_instance_is_killed() {
    // This instance runs no jobs; the child process does.
    let app = spawn_with(|s| s.job_interval = std::time::Duration::ZERO).await;
    let (mut child, _base) = crate::scaling::other_process(&app.database_url);
    let n = 30_000;
    let mut file = String::from("id,first,last,email\n");
    for i in 0..n {
        file.push_str(&format!("K-{i},Person,Number {i},person{i}@example.com\n"));
    }
    let request = json!({"resource": "contacts", "mode": "create", "source": "erp",
        "mapping": {"id": "external_id", "first": "first_name", "last": "last_name", "email": "email"}});
    let started = upload(&app, &app.admin, request, file.as_bytes()).await.expect(202);
    let id = s(&started["id"]).to_string();
    let count = |db: &crm_db::Db| {
        db.run_sync(|c| {
            use diesel::prelude::*;
            crm_db::schema::contacts::table.count().get_result::<i64>(c).map_err(crm_db::DbError::from)
        })
        .unwrap()
    };
    // Wait for a few chunks, then kill the child.
    let t = std::time::Instant::now();
    loop {
        let i = app.get(&format!("/api/v1/imports/{id}")).await.expect(200);
        if i["counts"]["read"].as_i64().unwrap() >= 1000 {
            break;
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(60), "the import did not start: {i}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.0.kill().expect("killed");
    let _ = child.0.wait();
    let at_kill = app.get(&format!("/api/v1/imports/{id}")).await.expect(200);
    assert_eq!(at_kill["status"], "running");
    let committed = at_kill["counts"]["created"].as_i64().unwrap();
    assert!(committed < n, "the import finished before the kill: {at_kill}");
    // Whole chunks only: the rows written are the checkpoint's.
    assert_eq!(count(&app.db), committed);
    assert_eq!(committed % 500, 0);

    // The lease runs out (made to, rather than waiting a minute); another instance takes over.
    app.db
        .run_sync(|c| {
            use crm_db::schema::jobs;
            use diesel::prelude::*;
            diesel::update(jobs::table)
                .set(jobs::lease_until.eq(Some(crm_db::now() - chrono::Duration::seconds(1))))
                .execute(c)
                .map_err(crm_db::DbError::from)
        })
        .unwrap();
    let other = spawn_on(&app.database_url).await;
    let done = wait_for_import(&other, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["counts"]["read"], n);
    assert_eq!(done["counts"]["created"], n);
    assert_eq!(done["counts"]["failed"], 0);
    assert_eq!(done["counts"]["resumed_at"], committed);
    assert_eq!(count(&app.db), n);
    let events = app
        .db
        .run_sync(|c| {
            use crm_db::schema::events;
            use diesel::prelude::*;
            events::table
                .filter(events::kind.eq("contact.created"))
                .count()
                .get_result::<i64>(c)
                .map_err(crm_db::DbError::from)
        })
        .unwrap();
    assert_eq!(events, n);
    // The file is gone with the job.
    let pieces = app
        .db
        .run_sync(|c| {
            use diesel::prelude::*;
            crm_db::schema::job_files::table.count().get_result::<i64>(c).map_err(crm_db::DbError::from)
        })
        .unwrap();
    assert_eq!(pieces, 0);
}

#[actix_web::test]
async fn a_stopping_instance_hands_its_import_back_after_the_chunk_it_writes() {
    // This instance runs no jobs; the one that stops does.
    let app = spawn_with(|s| s.job_interval = std::time::Duration::ZERO).await;
    let (_runner, stopper, serving) =
        spawn_stoppable(&app.database_url, |s| s.drain_delay = std::time::Duration::ZERO).await;
    let n = 30_000;
    let mut file = String::from("id,last\n");
    for i in 0..n {
        file.push_str(&format!("H-{i},Handed {i}\n"));
    }
    let request = json!({"resource": "contacts", "mode": "create", "source": "erp",
        "mapping": {"id": "external_id", "last": "last_name"}});
    let started = upload(&app, &app.admin, request, file.as_bytes()).await.expect(202);
    let id = s(&started["id"]).to_string();
    let t = std::time::Instant::now();
    loop {
        let i = app.get(&format!("/api/v1/imports/{id}")).await.expect(200);
        if i["counts"]["read"].as_i64().unwrap() >= 1000 {
            break;
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(60), "the import did not start: {i}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Stopping waits for the chunk being written, then hands the job back.
    stopper.stop().await;
    serving.await.expect("the serving task").expect("served");
    let at_stop = app.get(&format!("/api/v1/imports/{id}")).await.expect(200);
    assert_eq!(at_stop["status"], "running", "{at_stop}");
    let committed = at_stop["counts"]["created"].as_i64().unwrap();
    assert!(committed < n && committed % 500 == 0, "{at_stop}");
    let (rows, lease_until) = app
        .db
        .run_sync(|c| {
            use diesel::prelude::*;
            let rows = crm_db::schema::contacts::table.count().get_result::<i64>(c)?;
            let lease = crm_db::schema::jobs::table
                .select(crm_db::schema::jobs::lease_until)
                .first::<Option<chrono::NaiveDateTime>>(c)?;
            Ok::<_, crm_db::DbError>((rows, lease))
        })
        .unwrap();
    assert_eq!(rows, committed, "whole chunks only");
    assert!(lease_until.unwrap() <= crm_db::now(), "the lease was handed back, not left to run out");
    // Another instance takes it at once and finishes it, every row once.
    let other = spawn_on(&app.database_url).await;
    let done = wait_for_import(&other, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!((done["counts"]["created"].as_i64(), done["counts"]["resumed_at"].as_i64()), (Some(n), Some(committed)));
}
