use actix_web::http::Method;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crm_gateway::auth::JwtKeys;
use crm_gateway::settings::JwtSettings;
use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn bad_credentials_are_401() {
    let app = spawn().await;
    let path = "/api/v1/contacts";
    let none = app.call(Method::GET, path, None, None, &[]).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate").unwrap(), "Bearer");
    assert_eq!(none.body["code"], "UNAUTHENTICATED");

    let basic = app.call(Method::GET, path, None, None, &[("Authorization", "Basic YTpi")]).await;
    assert_eq!(basic.status, 401);

    // Signed with another key.
    let other = JwtKeys::from_settings(&JwtSettings {
        secret: Some("another-secret-another-secret-another".into()),
        issuer: Some(ISSUER.into()),
        audience: Some(AUDIENCE.into()),
        ..Default::default()
    })
    .unwrap();
    let forged = token(&other, "mallory", &["admin"], &[]);
    assert_eq!(app.call(Method::GET, path, Some(&forged), None, &[]).await.status, 401);

    // alg: none.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let exp = chrono::Utc::now().timestamp() + 600;
    let claims = URL_SAFE_NO_PAD
        .encode(json!({"sub": "mallory", "exp": exp, "iss": ISSUER, "aud": AUDIENCE, "roles": ["admin"]}).to_string());
    let unsigned = format!("{header}.{claims}.");
    assert_eq!(app.call(Method::GET, path, Some(&unsigned), None, &[]).await.status, 401);

    // Wrong issuer, wrong audience, expired.
    for (iss, aud) in [("someone-else", AUDIENCE), (ISSUER, "another-api")] {
        let k = JwtKeys::from_settings(&JwtSettings {
            secret: Some(SECRET.into()),
            issuer: Some(iss.into()),
            audience: Some(aud.into()),
            ..Default::default()
        })
        .unwrap();
        let t = token(&k, "u", &["admin"], &[]);
        assert_eq!(app.call(Method::GET, path, Some(&t), None, &[]).await.status, 401, "{iss} {aud}");
    }
    // Expired beyond the 30 s leeway, signed with the right key.
    let old = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "u", "exp": chrono::Utc::now().timestamp() - 3600, "iss": ISSUER, "aud": AUDIENCE, "roles": ["admin"]}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let r = app.call(Method::GET, path, Some(&old), None, &[]).await;
    assert_eq!(r.status, 401);
    assert!(r.body["detail"].as_str().unwrap().contains("expired"));

    // A valid token works (the round trip).
    assert_eq!(app.call(Method::GET, path, Some(&app.admin), None, &[]).await.status, 200);
}

#[actix_web::test]
async fn roles_and_scopes_are_enforced_per_endpoint() {
    let app = spawn().await;
    let acc = app.account("Scoped", json!({})).await;
    let acc_path = format!("/api/v1/accounts/{}", acc["id"].as_str().unwrap());
    let readonly = app.token(&["readonly"]);
    let marketing = app.token(&["marketing"]);
    let support = app.token(&["support"]);
    let sales = app.token(&["sales"]);
    let contacts_reader = token(&app.keys, "integration", &[], &["contacts:read"]);
    let nobody = app.token(&[]);

    let cases: Vec<(&str, Method, &str, Option<serde_json::Value>, u16)> = vec![
        (&readonly, Method::GET, "/api/v1/accounts", None, 200),
        (&readonly, Method::GET, "/api/v1/contacts", None, 200),
        (&readonly, Method::POST, "/api/v1/contacts", Some(json!({"last_name": "X"})), 403),
        (&readonly, Method::PATCH, &acc_path, Some(json!({"industry": "x"})), 403),
        (&readonly, Method::DELETE, &acc_path, None, 403),
        (&marketing, Method::POST, "/api/v1/accounts", Some(json!({"name": "M"})), 403),
        (&marketing, Method::POST, "/api/v1/contacts", Some(json!({"last_name": "M"})), 201),
        (&support, Method::GET, &acc_path, None, 200),
        (&support, Method::POST, "/api/v1/contacts", Some(json!({"last_name": "S"})), 201),
        (&sales, Method::POST, "/api/v1/accounts", Some(json!({"name": "Sales Co"})), 201),
        (&contacts_reader, Method::GET, "/api/v1/contacts", None, 200),
        (&contacts_reader, Method::GET, "/api/v1/accounts", None, 403),
        (&contacts_reader, Method::POST, "/api/v1/contacts", Some(json!({"last_name": "I"})), 403),
        (&nobody, Method::GET, "/api/v1/contacts", None, 403),
    ];
    for (tok, method, path, body, want) in cases {
        let r = app.call(method.clone(), path, Some(tok), body, &[]).await;
        assert_eq!(r.status.as_u16(), want, "{method} {path}: {}", r.body);
        if want == 403 {
            assert_eq!(r.body["code"], "FORBIDDEN");
        }
    }
    // GraphQL enforces the same rules with the same code.
    let g = app.gql(&readonly, "mutation { createAccount(input: {name: \"G\"}) { id } }", json!({})).await;
    assert_eq!(g["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let none =
        app.call(Method::POST, "/graphql", None, Some(json!({"query": "{ accounts { nodes { id } } }"})), &[]).await;
    assert_eq!(none.status, 401);
}

/// Signs arbitrary claims with the test secret (HS256 unless told otherwise).
fn signed(claims: serde_json::Value, alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

#[actix_web::test]
async fn every_claim_the_server_relies_on_is_checked() {
    let app = spawn().await;
    let path = "/api/v1/contacts";
    let now = chrono::Utc::now().timestamp();
    let good = json!({"sub": "u", "exp": now + 600, "iss": ISSUER, "aud": AUDIENCE, "roles": ["admin"]});
    let with = |f: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut c = good.as_object().unwrap().clone();
        f(&mut c);
        serde_json::Value::Object(c)
    };
    let hs256 = jsonwebtoken::Algorithm::HS256;
    assert_eq!(app.call(Method::GET, path, Some(&signed(good.clone(), hs256)), None, &[]).await.status, 200);
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("no aud", with(&|c| drop(c.remove("aud"))), "audience"),
        ("no iss", with(&|c| drop(c.remove("iss"))), "issuer"),
        ("no exp", with(&|c| drop(c.remove("exp"))), "claim"),
        ("nbf in an hour", with(&|c| drop(c.insert("nbf".into(), json!(now + 3600)))), "not valid yet"),
        ("empty sub", with(&|c| drop(c.insert("sub".into(), json!("")))), "subject"),
        ("blank sub", with(&|c| drop(c.insert("sub".into(), json!("  \t")))), "subject"),
        ("aud list without ours", with(&|c| drop(c.insert("aud".into(), json!(["x", "y"])))), "audience"),
    ];
    for (name, claims, why) in cases {
        let r = app.call(Method::GET, path, Some(&signed(claims, hs256)), None, &[]).await;
        assert_eq!(r.status, 401, "{name}: {}", r.body);
        assert!(r.body["detail"].as_str().unwrap().contains(why), "{name}: {}", r.body);
    }
    // Inside the 30 s leeway, nbf passes; an audience list holding ours passes.
    let soon = with(&|c| drop(c.insert("nbf".into(), json!(now + 10))));
    assert_eq!(app.call(Method::GET, path, Some(&signed(soon, hs256)), None, &[]).await.status, 200);
    let listed = with(&|c| drop(c.insert("aud".into(), json!(["other", AUDIENCE]))));
    assert_eq!(app.call(Method::GET, path, Some(&signed(listed, hs256)), None, &[]).await.status, 200);

    // Another HMAC algorithm with the right secret, and an RS256 header over an HMAC signature.
    let hs512 = signed(good.clone(), jsonwebtoken::Algorithm::HS512);
    assert_eq!(app.call(Method::GET, path, Some(&hs512), None, &[]).await.status, 401);
    let t = signed(good.clone(), hs256);
    let (_, rest) = t.split_once('.').unwrap();
    let confused = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#));
    assert_eq!(app.call(Method::GET, path, Some(&confused), None, &[]).await.status, 401);
    // A payload changed after signing.
    let parts: Vec<&str> = t.split('.').collect();
    let tampered = URL_SAFE_NO_PAD.encode(with(&|c| drop(c.insert("roles".into(), json!(["admin", "x"])))).to_string());
    let forged = format!("{}.{tampered}.{}", parts[0], parts[2]);
    assert_eq!(app.call(Method::GET, path, Some(&forged), None, &[]).await.status, 401);
    // A 1 MB header is refused before anything reads it.
    let huge = format!("Bearer {}", "a".repeat(1 << 20));
    let r = app.client.get(format!("{}{path}", app.base)).insert_header(("Authorization", huge)).send().await;
    match r {
        Ok(r) => assert_eq!(r.status().as_u16(), 431),
        Err(e) => panic!("a huge header must get an answer, got {e}"),
    }
}
