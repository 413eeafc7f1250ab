//! Tokens from an OpenID Connect identity provider, verified against the key set it publishes:
//! a real HTTP server of the test serves the JWKS, RSA keys made by `openssl`, rotation.

use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::http::Method;
use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use crm_core::Role;
use crm_gateway::oidc::OidcSettings;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::support::*;

const ISSUER: &str = "https://idp.test/realms/acme";

/// An RSA key pair: the private key (PEM) and the public key as a JWK named `kid`.
struct Key {
    pem: String,
    jwk: Value,
    kid: String,
}

fn rsa_key(kid: &str) -> Key {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    let made = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&path)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(made.success());
    let out = Command::new("openssl").args(["rsa", "-noout", "-modulus", "-in"]).arg(&path).output().unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    let hex = hex.trim().strip_prefix("Modulus=").expect("openssl prints the modulus");
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwk = json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": n, "e": "AQAB"});
    Key { pem: std::fs::read_to_string(&path).unwrap(), jwk, kid: kid.to_string() }
}

/// A token signed by `key`, naming `kid`, with `claims` over the defaults.
fn signed(key: &Key, kid: &str, claims: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut all = json!({"sub": "oidc-ada", "iss": ISSUER, "aud": "crm", "iat": now, "exp": now + 300,
        "realm_access": {"roles": ["crm-sellers", "offline_access"]}, "name": "Ada Lovelace"});
    merge(&mut all, claims);
    let header = Header { kid: Some(kid.to_string()), ..Header::new(Algorithm::RS256) };
    jsonwebtoken::encode(&header, &all, &EncodingKey::from_rsa_pem(key.pem.as_bytes()).unwrap()).unwrap()
}

/// The provider: serves the key set it holds at `/certs`, and counts the fetches.
struct Provider {
    keys: web::Data<Mutex<Vec<Value>>>,
    fetches: web::Data<AtomicUsize>,
    url: String,
}

async fn provider() -> Provider {
    let keys = web::Data::new(Mutex::new(Vec::<Value>::new()));
    let fetches = web::Data::new(AtomicUsize::new(0));
    let (k, f) = (keys.clone(), fetches.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(k.clone()).app_data(f.clone()).route(
            "/certs",
            web::get().to(|k: web::Data<Mutex<Vec<Value>>>, f: web::Data<AtomicUsize>| async move {
                f.fetch_add(1, Ordering::SeqCst);
                HttpResponse::Ok().json(json!({"keys": *k.lock().unwrap()}))
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://127.0.0.1:{}/certs", server.addrs()[0].port());
    actix_web::rt::spawn(server.run());
    Provider { keys, fetches, url }
}

#[actix_web::test]
async fn provider_tokens_are_verified_against_its_published_keys_through_a_rotation() {
    let (k1, k2) = (rsa_key("k1"), rsa_key("k2"));
    let idp = provider().await;
    idp.keys.lock().unwrap().push(k1.jwk.clone());
    let url = idp.url.clone();
    let app = spawn_with(move |s| {
        s.oidc = Some(OidcSettings {
            jwks_url: url,
            issuer: ISSUER.into(),
            audience: Some("crm".into()),
            roles_claim: "realm_access.roles".into(),
            role_map: vec![("crm-sellers".into(), Role::Sales)],
            team_claim: String::new(),
            team_map: Vec::new(),
            refresh: Duration::from_secs(600),
            min_refetch: Duration::from_secs(2),
        })
    })
    .await;
    let call = |t: String| {
        let app = &app;
        async move { app.call(Method::GET, "/api/v1/contacts", Some(&t), None, &[]).await }
    };
    // A seller's token: sales scopes, nothing of an admin's.
    let ada = signed(&k1, "k1", json!({}));
    call(ada.clone()).await.expect(200);
    let r = app.call(Method::GET, "/api/v1/webhooks", Some(&ada), None, &[]).await;
    assert_eq!(r.status, 403);
    // Writes are the subject's: the history names it.
    let made = app
        .call(Method::POST, "/api/v1/contacts", Some(&ada), Some(json!({"last_name": "From the IdP"})), &[])
        .await
        .expect(201);
    let history = app.get(&format!("/api/v1/contacts/{}/history", s(&made["id"]))).await.expect(200);
    assert_eq!(history["data"][0]["actor"], "oidc-ada", "{history}");
    // The key set was fetched once and kept.
    call(ada.clone()).await.expect(200);
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1);

    // What a provider's token must be.
    for (claims, why) in [
        (json!({"iss": "https://evil.example"}), "iss"),
        (json!({"aud": "another-service"}), "aud"),
        (json!({"exp": chrono::Utc::now().timestamp() - 120}), "expired"),
    ] {
        let r = call(signed(&k1, "k1", claims)).await;
        assert_eq!((r.status.as_u16(), r.body["code"].as_str()), (401, Some("UNAUTHENTICATED")), "{why}: {}", r.body);
    }
    let forged = signed(&k2, "k1", json!({}));
    assert!(s(&call(forged).await.body["detail"]).contains("signature"));

    // Rotation: the provider publishes k2 only; a token naming k2 makes the server fetch again.
    actix_web::rt::time::sleep(Duration::from_millis(2100)).await;
    *idp.keys.lock().unwrap() = vec![k2.jwk.clone()];
    call(signed(&k2, &k2.kid, json!({}))).await.expect(200);
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 2);
    let r = call(signed(&k1, &k1.kid, json!({}))).await;
    assert_eq!(r.status, 401, "k1 is no longer published");
    // Made-up key ids do not make the server hammer the provider.
    for i in 0..5 {
        assert_eq!(call(signed(&k2, &format!("nope-{i}"), json!({}))).await.status, 401);
    }
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 2);
    // The server's own tokens keep working beside the provider's.
    app.get("/api/v1/contacts").await.expect(200);
}

#[actix_web::test]
async fn teams_come_from_the_providers_claims_and_decide_what_a_seller_sees() {
    let k = rsa_key("kt");
    let idp = provider().await;
    idp.keys.lock().unwrap().push(k.jwk.clone());
    let url = idp.url.clone();
    let app = spawn_with(move |s| {
        s.provision_users = true;
        s.oidc = Some(OidcSettings {
            jwks_url: url,
            issuer: ISSUER.into(),
            audience: Some("crm".into()),
            roles_claim: "realm_access.roles".into(),
            role_map: vec![("crm-sellers".into(), Role::Sales)],
            team_claim: "groups".into(),
            team_map: OidcSettings::parse_team_map("sellers-north=north, sellers-south=south").unwrap(),
            refresh: Duration::from_secs(600),
            min_refetch: Duration::from_secs(2),
        })
    })
    .await;
    assert!(OidcSettings::parse_team_map("sellers").is_err());
    let token = |sub: &str, groups: Value| signed(&k, "kt", json!({"sub": sub, "groups": groups}));
    let ada = token("oidc-ada", json!(["/everyone", "/sellers-north"]));
    let bob = token("oidc-bob", json!(["/sellers-south"]));
    // Contacts are seen within their owner's team.
    app.post("/api/v1/sharing-rules", json!({"entity": "contact", "level": "team"})).await.expect(201);
    let create = |t: &str, name: &str, owner: &str| {
        let (app, t) = (&app, t.to_string());
        let body = json!({"last_name": name, "owner_id": owner});
        async move { app.call(Method::POST, "/api/v1/contacts", Some(&t), Some(body), &[]).await.expect(201) }
    };
    // Provisioned in the teams their tokens name.
    let me = |t: &str| {
        let (app, t) = (&app, t.to_string());
        async move {
            let u = app.call(Method::GET, "/api/v1/users/me", Some(&t), None, &[]).await.expect(200);
            (u["team"].clone(), s(&u["id"]).to_string())
        }
    };
    let (ada_team, ada_id) = me(&ada).await;
    assert_eq!(ada_team, "north");
    let (bob_team, bob_id) = me(&bob).await;
    assert_eq!(bob_team, "south");
    create(&ada, "Ada's", &ada_id).await;
    create(&bob, "Bob's", &bob_id).await;
    let seen = |t: &str| {
        let (app, t) = (&app, t.to_string());
        async move {
            let page = app.call(Method::GET, "/api/v1/contacts?sort=last_name", Some(&t), None, &[]).await.expect(200);
            page["data"].as_array().unwrap().iter().map(|c| s(&c["last_name"]).to_string()).collect::<Vec<_>>()
        }
    };
    assert_eq!(seen(&ada).await, ["Ada's"]);
    assert_eq!(seen(&bob).await, ["Bob's"]);

    // Bob moves to the north team in the provider: his next request follows it, and he sees
    // the north's contacts; the move is in his history and the audit log.
    let bob = token("oidc-bob", json!(["/sellers-north"]));
    assert_eq!(seen(&bob).await, ["Ada's", "Bob's"]);
    assert_eq!(me(&bob).await.0, "north");
    let audit = app.get(&format!("/api/v1/audit?action=user.updated&record_id={bob_id}")).await.expect(200);
    assert_eq!(audit["data"][0]["details"]["after"]["team"], "north", "{audit}");
    assert_eq!(audit["data"][0]["actor"], "oidc-bob");
    // In no mapped group: no team.
    let lost = token("oidc-bob", json!(["/everyone"]));
    assert_eq!(seen(&lost).await, ["Bob's"]);
    assert_eq!(me(&lost).await.0, Value::Null);
}
