//! Sales-force automation: leads (capture, assignment and scoring rules, conversion),
//! pipelines with stages, opportunities (line items, stage history, health), activities
//! (agenda, completion with logging, reminders), target account lists and quotas, the
//! forecast and sales reports.

pub mod activities;
pub mod customer;
pub mod leads;
pub mod opportunities;
pub mod period;
pub mod pipelines;
pub mod reports;
pub mod targets;

/// The sales domain's reactions to other domains' writes (an interaction with a lead rescores
/// it), for the application's database handle.
pub fn hooks() -> crm_records::hooks::Hooks {
    crm_records::hooks::Hooks::new().on("lead", leads::rescore)
}

pub use activities::{
    Activity, ActivityInput, ActivityPatch, ActivityStatus, ActivityType, CompleteInput, CompletionLog,
};
pub use leads::{
    AssignmentRule, AssignmentRules, AssignmentStrategy, CaptureInput, CaptureOutcome, CaptureReceipt, ConvertInput,
    ConvertOpportunity, ConvertResult, Lead, LeadInput, LeadPatch, LeadSource, LeadStatus, ScoreOp, ScoringRule,
    ScoringRules,
};
pub use opportunities::{
    Assessment, Health, Opportunity, OpportunityInput, OpportunityPatch, OpportunityStatus, StageVisit,
};
pub use period::Period;
pub use pipelines::{ForecastCategory, Pipeline, PipelineInput, PipelinePatch, Stage, StageInput};
pub use reports::{CurrencyFigures, Forecast, ForecastGroup, FunnelStage, GroupBy, RepActivities, SalesReport};
pub use targets::{Coverage, Quota, QuotaInput, QuotaPatch, TargetList, TargetListInput, TargetListPatch};
