//! Workflow automation: rules that act on the records of one resource.
//!
//! - A **rule** ([`AutomationRule`]) names its resource, its trigger (an event of the change
//!   feed, or a manual run on a selection), its conditions (the list filter language on the
//!   record as it is, and on the record before an update) and its actions (set fields, assign
//!   an owner, create an activity, add a note, call a webhook, add to or remove from a
//!   campaign, request an approval, wait, branch). It is a record with the whole
//!   write contract, so every version of it is in its history.
//! - The **matcher** ([`engine::match_events`]) reads the event log (the outbox, written in the
//!   transaction of every change) after each rule's cursor and writes one run per matching
//!   event in the transaction that moves the cursor: a crash neither loses nor doubles a run.
//! - The **executor** ([`engine::execute`]) claims due runs (one instance at a time each) and
//!   runs their actions as the rule's automation actor; the actions' writes, the run's log and
//!   its status commit together, so a run's effects happen once. A wait ends the transaction and
//!   leaves the run due later, in the database: it survives restarts.
//! - **No runaway**: a rule's own writes do not trigger it again unless it allows it; a chain
//!   of rules triggering each other stops at a depth; each rule has an hourly rate; a rule whose
//!   runs keep failing is turned off.
//! - A **sequence** is a rule on leads or contacts whose runs stop by themselves when the
//!   person replies, converts or opts out (`stop_when`, [`sequences`]).
//! - An **approval** ([`approvals`]) pauses a run until a user approves (it goes on) or
//!   rejects (it stops).
//! - A **dry run** executes the same code in a transaction that is rolled back.
//!
//! The writes go through each resource's own use cases (`crm_records`), which the application
//! lists once as [`Targets`].

pub mod actions;
pub mod approvals;
pub mod clock;
pub mod conditions;
pub mod engine;
pub mod model;
pub mod runs;
pub mod sequences;
pub mod target;

pub use actions::Action;
pub use approvals::{ApprovalStatus, AutomationApproval};
pub use model::{AutomationRule, AutomationRuleInput, AutomationRulePatch, RuleTrigger};
pub use runs::{AutomationRun, RunStatus};
pub use sequences::SequenceExit;
pub use target::{Target, Targets};
