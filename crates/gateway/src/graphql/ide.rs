//! GraphiQL, served by the binary: `GET /graphql` is the page, `GET /graphql/assets/{file}` its
//! scripts and styles, embedded at build time from `crates/gateway/assets/graphiql` (vendored
//! from the npm registry), so the IDE works without internet.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::problem::ApiError;

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

macro_rules! asset {
    ($file:literal, $type:expr) => {
        ($file, $type, include_bytes!(concat!("../../assets/graphiql/", $file)).as_slice())
    };
}

/// Every file the page loads: name, media type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    asset!("graphiql.min.js", JS),
    asset!("graphiql.min.css", CSS),
    asset!("react.production.min.js", JS),
    asset!("react-dom.production.min.js", JS),
    asset!("start.js", JS),
];

const PAGE: &str = include_str!("../../assets/graphiql/index.html");

/// `GET /graphql`: the GraphiQL IDE (put an `Authorization: Bearer …` header in its Headers tab).
pub async fn graphiql() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(PAGE)
}

/// `GET /graphql/assets/{file}`: one of the page's scripts or styles.
pub async fn graphiql_asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (_, media, bytes) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file.as_str())
        .ok_or_else(|| ApiError::not_found("no such GraphiQL asset"))?;
    Ok(HttpResponse::Ok()
        .content_type(*media)
        // Names do not change with versions; a day's caching keeps reloads cheap.
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(*bytes))
}
