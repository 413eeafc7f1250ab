//! End-to-end API tests: the real application (`Application::build`, as `crm serve` starts it)
//! on port 0, a fresh database per test, real HTTP. SQLite by default; PostgreSQL when
//! `CRM_TEST_DATABASE_URL` is set (a fresh database is created per test and dropped after).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod accounts;
mod analytics;
mod api_keys;
mod audit;
mod auth;
mod automation;
mod campaign_channels;
mod campaign_cycle;
mod campaign_email;
mod campaign_review;
mod campaigns;
mod consents;
mod contacts;
mod contracts;
mod custom_fields;
mod duplicates;
mod emails;
mod exports;
mod geo;
mod geocoding;
mod graphql;
mod graphql_http;
mod imports;
mod js;
mod limits;
mod lists;
mod merges;
pub(crate) mod observability;
mod oidc;
mod operational;
mod owasp;
mod parity;
mod privacy;
mod region_snapshot;
mod routes;
mod sales;
mod scaling;
mod security;
mod smtp;
mod sync;
mod visibility;
mod webhooks;
