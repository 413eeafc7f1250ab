//! The gateway: the `crm` binary's library. It translates HTTP and GraphQL into calls of the
//! domain services, and owns settings, authentication, error mapping and telemetry.

// The GraphQL roots merge every resource's queries and mutations (async-graphql nests them).
#![recursion_limit = "256"]

pub mod app;
pub mod auth;
pub mod automation;
pub mod benchdata;
pub mod benchdb;
pub mod cli;
pub mod exports;
pub mod graphql;
pub mod headers;
pub mod idempotency;
pub mod imports;
pub mod jobs;
pub mod labels;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod problem;
pub mod progress;
pub mod registry;
pub mod rest;
pub mod seed;
pub mod seed_operational;
pub mod settings;
pub mod smtp;
pub mod telemetry;
pub mod tracking;
pub mod webhooks;

pub use app::{AppState, Application};
pub use settings::Settings;
