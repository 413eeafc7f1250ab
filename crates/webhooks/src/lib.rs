//! Webhooks: subscriptions (a record with the whole write contract), deliveries matched from the
//! event log (the outbox written in every change's transaction), signed in the Standard Webhooks
//! way, attempted at least once by one instance at a time and retried for more than three days,
//! in order per record; a delivery log with every attempt, redelivery, secret rotation and a
//! ping; and the guard that keeps the server from calling into its own network. The HTTP calls
//! themselves are the application's (the gateway's sender); this crate decides what to send,
//! when, and what an outcome means.

pub mod dispatch;
pub mod guard;
pub mod model;
pub mod service;
pub mod signing;

pub use dispatch::{Attempt, DeliveryStatus, Outgoing};
pub use guard::Guard;
pub use model::{Catalogs, Webhook, WebhookInput, WebhookPatch};
