use std::time::Duration;

use actix_web::http::{Method, StatusCode, header::HeaderMap};
use crm_db::testing::TestDatabase;
use crm_gateway::Application;
use crm_gateway::auth::JwtKeys;
use crm_gateway::settings::{JwtSettings, Settings};
use serde_json::{Value, json};

pub const SECRET: &str = "test-secret-test-secret-test-secret!!";
pub const ISSUER: &str = "crm-test";
pub const AUDIENCE: &str = "crm-api";

pub fn jwt_settings() -> JwtSettings {
    JwtSettings {
        secret: Some(SECRET.into()),
        issuer: Some(ISSUER.into()),
        audience: Some(AUDIENCE.into()),
        ..Default::default()
    }
}

pub struct TestApp {
    pub base: String,
    pub client: awc::Client,
    pub keys: JwtKeys,
    pub admin: String,
    /// The instance's pool (e.g. to count statements).
    pub db: crm_db::Db,
    pub database_url: String,
    _db: Option<TestDatabase>,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(String::from)
    }
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        self.body
    }
}

pub async fn spawn() -> TestApp {
    let db = TestDatabase::create().expect("test database");
    let mut app = spawn_on(&db.url).await;
    app._db = Some(db);
    app
}

/// A fresh app with no background worker on its pool, for tests that count the statements a
/// request runs.
pub async fn spawn_quiet() -> TestApp {
    spawn_with(|s| {
        s.reminder_interval = std::time::Duration::ZERO;
        s.maintenance_interval = std::time::Duration::ZERO;
        s.schema_refresh = std::time::Duration::ZERO;
        s.webhook_interval = std::time::Duration::ZERO;
        s.automation_interval = std::time::Duration::ZERO;
        s.job_interval = std::time::Duration::ZERO;
    })
    .await
}

/// A fresh app with adjusted settings.
pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDatabase::create().expect("test database");
    let mut app = spawn_configured(&db.url, adjust).await;
    app._db = Some(db);
    app
}

/// Another instance of the application on an existing database (several stateless gateways).
pub async fn spawn_on(database_url: &str) -> TestApp {
    spawn_configured(database_url, |_| {}).await
}

/// `spawn_on` with adjusted settings.
pub async fn spawn_on_with(database_url: &str, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_configured(database_url, adjust).await
}

async fn spawn_configured(database_url: &str, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let (app, test) = build_configured(database_url, adjust).await;
    actix_web::rt::spawn(app.run_until_stopped());
    test
}

/// `spawn_on_with`, with what stops the instance gracefully and its serving task (it ends once
/// the instance stopped and its job runner handed its job back).
pub async fn spawn_stoppable(
    database_url: &str,
    adjust: impl FnOnce(&mut Settings),
) -> (TestApp, crm_gateway::app::Stopper, actix_web::rt::task::JoinHandle<std::io::Result<()>>) {
    let (app, test) = build_configured(database_url, adjust).await;
    let stopper = app.stopper();
    (test, stopper, actix_web::rt::spawn(app.run_until_stopped()))
}

async fn build_configured(
    database_url: &str,
    adjust: impl FnOnce(&mut Settings),
) -> (crm_gateway::app::Application, TestApp) {
    let mut settings = Settings {
        bind: "127.0.0.1:0".into(),
        database_url: database_url.to_string(),
        jwt: jwt_settings(),
        pool_size: Some(4),
        workers: Some(1),
        // Limits high enough for any test's calls (tests/api/limits.rs sets small ones): the
        // buckets and their headers stay on every answer.
        rate_limit: 1_000_000,
        public_rate_limit: 1_000_000,
        ..Settings::default()
    };
    adjust(&mut settings);
    let app = Application::build(settings).await.expect("application starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    let keys = app.state.keys.clone();
    let pool = app.state.db.clone();
    let admin = token(&keys, "admin-user", &["admin"], &[]);
    let client = awc::Client::builder().timeout(Duration::from_secs(30)).finish();
    (app, TestApp { base, client, keys, admin, db: pool, database_url: database_url.to_string(), _db: None })
}

pub fn token(keys: &JwtKeys, sub: &str, roles: &[&str], scopes: &[&str]) -> String {
    let roles: Vec<String> = roles.iter().map(|s| s.to_string()).collect();
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    keys.issue(sub, &roles, &scopes, Duration::from_secs(600)).unwrap()
}

impl TestApp {
    /// The same database and keys, served by another instance at `base`.
    pub fn at(&self, base: &str) -> TestApp {
        TestApp {
            base: base.to_string(),
            client: awc::Client::builder().timeout(Duration::from_secs(30)).finish(),
            keys: self.keys.clone(),
            admin: self.admin.clone(),
            db: self.db.clone(),
            database_url: self.database_url.clone(),
            _db: None,
        }
    }

    pub fn token(&self, roles: &[&str]) -> String {
        token(&self.keys, "user-1", roles, &[])
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let mut res = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        }
        .expect("request sent");
        let bytes = res.body().limit(64 * 1024 * 1024).await.expect("body read");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp { status: res.status(), headers: res.headers().clone(), body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, Some(&self.admin), None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(&self.admin), Some(body), &[]).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(&self.admin), Some(body), &[]).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, Some(&self.admin), None, &[]).await
    }

    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Value {
        self.call(Method::POST, "/graphql", Some(token), Some(json!({"query": query, "variables": variables})), &[])
            .await
            .expect(200)
    }

    pub async fn account(&self, name: &str, extra: Value) -> Value {
        let mut body = json!({"name": name});
        merge(&mut body, extra);
        self.post("/api/v1/accounts", body).await.expect(201)
    }

    pub async fn contact(&self, first: &str, last: &str, extra: Value) -> Value {
        let mut body = json!({"first_name": first, "last_name": last});
        merge(&mut body, extra);
        self.post("/api/v1/contacts", body).await.expect(201)
    }

    /// Every id of a list, following `next_cursor` to the end.
    pub async fn all_ids(&self, path_with_query: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let sep = if path_with_query.contains('?') { '&' } else { '?' };
            let url = match &cursor {
                Some(c) => format!("{path_with_query}{sep}cursor={c}"),
                None => path_with_query.to_string(),
            };
            let page = self.get(&url).await.expect(200);
            ids.extend(page["data"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return ids,
            }
        }
    }
}

/// A JSON string's text (fails on anything else).
/// A snake_case name in camelCase, as GraphQL writes it (`target_list` → `targetList`).
pub fn camel(s: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

pub fn merge(target: &mut Value, extra: Value) {
    if let (Some(t), Value::Object(e)) = (target.as_object_mut(), extra) {
        for (k, v) in e {
            t.insert(k, v);
        }
    }
}

/// URL-encodes a query value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| e["field"].as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default()
}

/// Builders: one valid record of each resource, with what it needs, through REST.
impl TestApp {
    pub async fn created(&self, path: &str, body: Value) -> Value {
        let r = self.post(path, body).await;
        assert_eq!(r.status, 201, "POST {path}: {}", r.body);
        r.body
    }

    pub async fn user(&self, name: &str, extra: Value) -> Value {
        let mut body = json!({"name": name});
        merge(&mut body, extra);
        self.created("/api/v1/users", body).await
    }

    pub async fn interaction(&self, contact: &Value, extra: Value) -> Value {
        let mut body = json!({"type": "call", "contact_ids": [contact["id"]], "subject": "Call"});
        merge(&mut body, extra);
        self.created("/api/v1/interactions", body).await
    }

    pub async fn case(&self, subject: &str, extra: Value) -> Value {
        let mut body = json!({"subject": subject});
        merge(&mut body, extra);
        self.created("/api/v1/cases", body).await
    }

    pub async fn product(&self, sku: &str, extra: Value) -> Value {
        let mut body = json!({"sku": sku, "name": format!("Product {sku}"),
            "list_price": {"amount_minor": 1999, "currency": "EUR"}});
        merge(&mut body, extra);
        self.created("/api/v1/products", body).await
    }

    pub async fn purchase(&self, account: &Value, product: &Value, extra: Value) -> Value {
        let mut body = json!({"account_id": account["id"], "lines": [{"product_id": product["id"], "quantity": 2}]});
        merge(&mut body, extra);
        self.created("/api/v1/purchases", body).await
    }

    pub async fn lead(&self, last: &str, extra: Value) -> Value {
        let mut body = json!({"last_name": last, "company": format!("{last} Ltd")});
        merge(&mut body, extra);
        self.created("/api/v1/leads", body).await
    }

    /// A pipeline with an open, a won and a lost stage.
    pub async fn pipeline(&self, name: &str, extra: Value) -> Value {
        let mut body = json!({"name": name, "stages": [
            {"name": "Qualify", "probability": 20, "forecast_category": "pipeline"},
            {"name": "Won", "probability": 100, "forecast_category": "closed_won"},
            {"name": "Lost", "probability": 0, "forecast_category": "closed_lost"},
        ]});
        merge(&mut body, extra);
        self.created("/api/v1/pipelines", body).await
    }

    pub async fn opportunity(&self, name: &str, account: &Value, pipeline: &Value, extra: Value) -> Value {
        let mut body = json!({"name": name, "account_id": account["id"], "pipeline_id": pipeline["id"],
            "amount": {"amount_minor": 500_000, "currency": "EUR"}, "expected_close_date": "2026-12-15"});
        merge(&mut body, extra);
        self.created("/api/v1/opportunities", body).await
    }

    pub async fn activity(&self, subject: &str, extra: Value) -> Value {
        let mut body = json!({"type": "task", "subject": subject});
        merge(&mut body, extra);
        self.created("/api/v1/activities", body).await
    }

    pub async fn target_list(&self, name: &str, extra: Value) -> Value {
        let mut body = json!({"name": name, "period_start": "2026-01-01", "period_end": "2026-12-31"});
        merge(&mut body, extra);
        self.created("/api/v1/target-lists", body).await
    }

    pub async fn quota(&self, owner: &Value, period: &str, extra: Value) -> Value {
        let mut body = json!({"owner_id": owner["id"], "period": period, "amount": {"amount_minor": 1_000_000, "currency": "EUR"}});
        merge(&mut body, extra);
        self.created("/api/v1/quotas", body).await
    }

    pub async fn segment(&self, name: &str, extra: Value) -> Value {
        let mut body = json!({"name": name});
        merge(&mut body, extra);
        self.created("/api/v1/segments", body).await
    }

    pub async fn campaign(&self, name: &str, extra: Value) -> Value {
        let mut body = json!({"name": name, "type": "retention", "channel": "email"});
        merge(&mut body, extra);
        self.created("/api/v1/campaigns", body).await
    }

    /// One record of the registry entity `entity` (`crm_gateway::registry::RESOURCES`), with
    /// the records it refers to. A resource without a builder fails here, by name.
    pub async fn build(&self, entity: &str, n: usize) -> Value {
        match entity {
            "account" => self.account(&format!("Built {n}"), json!({"tier": "gold", "tags": ["built"]})).await,
            "contact" => {
                let a = self.account(&format!("Home {n}"), json!({})).await;
                self.contact(
                    &format!("B{n}"),
                    "Built",
                    json!({"account_id": a["id"], "email": format!("b{n}@built.example")}),
                )
                .await
            }
            "user" => self.user(&format!("User {n}"), json!({"email": format!("u{n}@built.example")})).await,
            "interaction" => {
                let c = self.contact(&format!("I{n}"), "Talked", json!({})).await;
                self.interaction(&c, json!({"direction": "inbound"})).await
            }
            "case" => self.case(&format!("Case {n}"), json!({"priority": "high"})).await,
            "product" => self.product(&format!("SKU-{n}"), json!({})).await,
            "purchase" => {
                let a = self.account(&format!("Buyer {n}"), json!({})).await;
                let p = self.product(&format!("BUY-{n}"), json!({})).await;
                self.purchase(&a, &p, json!({})).await
            }
            "lead" => self.lead(&format!("Lead{n}"), json!({"email": format!("l{n}@built.example")})).await,
            "pipeline" => self.pipeline(&format!("Pipeline {n}"), json!({})).await,
            "opportunity" => {
                let a = self.account(&format!("Deal {n}"), json!({})).await;
                let p = self.pipeline(&format!("Deals {n}"), json!({})).await;
                self.opportunity(&format!("Deal {n}"), &a, &p, json!({})).await
            }
            "activity" => self.activity(&format!("Task {n}"), json!({"due_at": "2026-12-10T09:00:00Z"})).await,
            "target_list" => self.target_list(&format!("Targets {n}"), json!({})).await,
            "quota" => {
                let u = self.user(&format!("Rep {n}"), json!({})).await;
                self.quota(&u, "2026-Q4", json!({})).await
            }
            "segment" => {
                self.segment(&format!("Segment {n}"), json!({"criteria": "lifecycle_stage[eq]:customer"})).await
            }
            "campaign" => {
                let seg = self.segment(&format!("Audience {n}"), json!({})).await;
                self.campaign(&format!("Campaign {n}"), json!({"segment_ids": [seg["id"]]})).await
            }
            "email_template" => {
                let html = "<p>Hello {{ contact.first_name }}</p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>";
                self.created(
                    "/api/v1/email-templates",
                    json!({"name": format!("Template {n}"), "subject": "Hello", "html": html}),
                )
                .await
            }
            "webhook" => {
                let url = format!("https://hooks.example.com/built/{n}");
                self.created("/api/v1/webhooks", json!({"url": url, "event_types": ["contact.*"]})).await
            }
            "custom_field" => {
                self.created(
                    "/api/v1/custom-fields",
                    json!({"resource": "contacts", "name": format!("built_{n}"), "type": "text"}),
                )
                .await
            }
            "api_key" => {
                self.created("/api/v1/api-keys", json!({"name": format!("Key {n}"), "scopes": ["contacts:read"]})).await
            }
            "sharing_rule" => {
                let entity = ["account", "contact", "case", "lead", "opportunity", "activity"][n % 6];
                self.created("/api/v1/sharing-rules", json!({"entity": entity, "level": "public"})).await
            }
            "share" => {
                let c = self.contact(&format!("S{n}"), "Shared", json!({})).await;
                let u = self.user(&format!("Sharer {n}"), json!({"team": "built"})).await;
                self.created("/api/v1/shares", json!({"entity": "contact", "record_id": c["id"], "user_id": u["id"]}))
                    .await
            }
            "consent" => {
                let c = self.contact(&format!("C{n}"), "Consenting", json!({})).await;
                let channel = ["email", "phone", "post", "sms"][n % 4];
                self.created(
                    "/api/v1/consents",
                    json!({"contact_id": c["id"], "purpose": "marketing", "channel": channel, "status": "granted",
                           "source": "web_form:built", "text_version": "notice-1"}),
                )
                .await
            }
            "legal_hold" => {
                let c = self.contact(&format!("H{n}"), "Held", json!({})).await;
                self.created("/api/v1/legal-holds", json!({"contact_id": c["id"], "reason": format!("matter {n}")}))
                    .await
            }
            "retention_policy" => {
                let body = json!({"name": format!("Policy {n}"), "resource": "leads", "untouched_days": 730,
                                  "action": "archive"});
                self.created("/api/v1/retention-policies", body).await
            }
            "automation_rule" => {
                let body = json!({"name": format!("Rule {n}"), "entity": "case", "events": ["created"],
                                  "enabled": false, "filter": "priority[eq]:urgent",
                                  "actions": [{"type": "set_fields", "fields": {"tags": ["built"]}}]});
                self.created("/api/v1/automation-rules", body).await
            }
            other => panic!("no builder for `{other}`: add one to tests/api/support.rs"),
        }
    }
}

/// Polls a job (`/api/v1/jobs/{id}`) until it ends, for at most a minute.
pub async fn wait_for_job(app: &TestApp, path: &str) -> Value {
    let started = std::time::Instant::now();
    loop {
        let job = app.get(path).await.expect(200);
        if job["status"] == "succeeded" || job["status"] == "failed" {
            return job;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "the job never ended: {job}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Posts `multipart/form-data` with these parts (name, bytes), in this order.
pub async fn post_form(app: &TestApp, token: &str, path: &str, parts: &[(&str, &[u8])]) -> Resp {
    let boundary = "----crm-test-boundary-7d0f";
    let mut body = Vec::new();
    for (name, data) in parts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut res = app
        .client
        .post(format!("{}{path}", app.base))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", format!("multipart/form-data; boundary={boundary}")))
        .send_body(body)
        .await
        .expect("form sent");
    let bytes = res.body().limit(1 << 20).await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    Resp { status: res.status(), headers: res.headers().clone(), body }
}
