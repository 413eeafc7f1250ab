//! Campaigns: what marketing plans (type, channel, target segments, the products promoted,
//! planned budget and results), runs (the status workflow; members are materialized when it is
//! scheduled or launched) and reviews (actual costs against the plan, in `members::stats`).

use std::collections::HashMap;

use chrono::NaiveDate;
use crm_core::ids::{CampaignId, EmailTemplateId, ProductId, SegmentId, UserId};
use crm_core::values::clean;
use crm_core::{Actor, FieldErrors, Money, Patch, Scope, Timestamp, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::campaign_costs;
use crm_db::types::DbUuid;
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dedup;
use crate::segments::Segment;

wire_enum!(
    /// What a campaign is for.
    CampaignType {
        Acquisition = "acquisition",
        CrossSell = "cross_sell",
        UpSell = "up_sell",
        Retention = "retention",
        /// Reactivation of dormant customers.
        Reactivation = "reactivation",
        Event = "event",
        Newsletter = "newsletter",
    }
);

wire_enum!(
    /// How a campaign reaches its members.
    Channel {
        Email = "email",
        Phone = "phone",
        Post = "post",
    }
);

wire_enum!(
    /// Where a campaign stands: planned → scheduled → running → completed, or cancelled
    /// before it completes.
    CampaignStatus {
        Planned = "planned",
        Scheduled = "scheduled",
        Running = "running",
        Completed = "completed",
        Cancelled = "cancelled",
    }
);

impl CampaignStatus {
    /// The statuses a campaign may move to from this one.
    pub fn allowed_next(self) -> &'static [CampaignStatus] {
        use CampaignStatus::*;
        match self {
            Planned => &[Scheduled, Running, Cancelled],
            Scheduled => &[Planned, Running, Cancelled],
            Running => &[Completed, Cancelled],
            Completed | Cancelled => &[],
        }
    }

    /// Whether members exist from this status on (they are materialized on the way in).
    pub fn has_members(self) -> bool {
        matches!(self, CampaignStatus::Scheduled | CampaignStatus::Running | CampaignStatus::Completed)
    }

    /// Whether the campaign has not run yet: members may still be added and removed by hand.
    pub fn before_launch(self) -> bool {
        matches!(self, CampaignStatus::Planned | CampaignStatus::Scheduled)
    }
}

/// An actual cost of a campaign.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CostLine {
    /// The channel it was spent on.
    pub channel: Channel,
    /// What it cost, exact.
    pub amount: Money,
    /// When it was spent.
    pub spent_on: NaiveDate,
    /// Free text (printing, postage, list rental, agency fee).
    pub description: Option<String>,
}

/// A cost line to record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct CostLineInput {
    /// Defaults to the campaign's channel.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// What it cost (not negative).
    pub amount: Money,
    /// When it was spent.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub spent_on: NaiveDate,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// A marketing campaign.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = campaigns)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "CampaignFields", visible = false))]
pub struct Campaign {
    /// The record's id (UUIDv7: time-ordered).
    pub id: CampaignId,
    /// The name people see.
    #[filter(sort)]
    pub name: String,
    /// What it should achieve, in words.
    pub objective: Option<String>,
    /// What it is for.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    #[filter(sort)]
    pub campaign_type: CampaignType,
    /// How it reaches its members.
    #[filter(sort)]
    pub channel: Channel,
    /// Where it stands (see the workflow in docs/CAMPAIGNS.md).
    #[filter(sort)]
    pub status: CampaignStatus,
    /// The user who owns it.
    #[filter(relation = "owner", to = crm_users::USER_CATALOG)]
    pub owner_id: Option<UserId>,
    /// The programme it is a wave of.
    #[filter(relation = "parent", to = CAMPAIGN_CATALOG)]
    pub parent_id: Option<CampaignId>,
    /// First day it runs.
    #[filter(sort)]
    pub starts_on: Option<NaiveDate>,
    /// Last day it runs.
    #[filter(sort)]
    pub ends_on: Option<NaiveDate>,
    /// The target groups whose members it reaches.
    pub segment_ids: Vec<SegmentId>,
    /// The products it promotes.
    pub product_ids: Vec<ProductId>,
    /// Planned spend.
    pub planned_budget: Option<Money>,
    /// Planned responses.
    pub expected_responses: Option<i64>,
    /// Planned conversions.
    pub expected_conversions: Option<i64>,
    /// Planned revenue.
    pub expected_revenue: Option<Money>,
    /// Days after launch in which a member's deal or purchase counts as the campaign's.
    pub attribution_days: i64,
    /// The template of an email campaign's messages: with one, launching sends them (through
    /// `CRM_SMTP_URL`); without, the campaign is sent elsewhere and its outcomes recorded.
    #[filter]
    pub email_template_id: Option<EmailTemplateId>,
    /// A phone campaign's call script: the description of each call activity its launch creates.
    pub call_script: Option<String>,
    /// The reps who take a phone campaign's calls in turn (round-robin) when neither the
    /// contact's account nor the contact has an active owner.
    pub caller_ids: Vec<UserId>,
    /// When it started running (read-only).
    #[filter(sort)]
    pub launched_at: Option<Timestamp>,
    /// When it completed (read-only).
    pub completed_at: Option<Timestamp>,
    /// What it actually cost, line by line.
    #[stored(skip)]
    pub costs: Vec<CostLine>,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<crm_core::ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the record was archived; null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// A new campaign, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = CampaignPatch, record = Campaign, doc = "`costs` replaces all cost lines.")]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct CampaignInput {
    /// The name people see.
    #[cfg_attr(feature = "openapi", schema(example = "Spring renewal, wave 1"))]
    pub name: Option<String>,
    /// What it should achieve, in words.
    #[serde(default)]
    pub objective: Option<String>,
    /// What it is for.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub campaign_type: Option<CampaignType>,
    /// How it reaches its members (cannot change once it has members).
    pub channel: Option<Channel>,
    /// Defaults to `planned`.
    #[serde(default)]
    #[patch(keep_on_null)]
    pub status: Option<CampaignStatus>,
    /// Defaults to the caller's user.
    #[serde(default)]
    pub owner_id: Option<UserId>,
    /// The programme it is a wave of.
    #[serde(default)]
    pub parent_id: Option<CampaignId>,
    /// First day it runs.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub starts_on: Option<NaiveDate>,
    /// Last day it runs.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub ends_on: Option<NaiveDate>,
    /// The target groups (at least one before it is scheduled).
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub segment_ids: Vec<SegmentId>,
    /// The products it promotes.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub product_ids: Vec<ProductId>,
    /// Planned spend.
    #[serde(default)]
    pub planned_budget: Option<Money>,
    /// Planned responses.
    #[serde(default)]
    pub expected_responses: Option<i64>,
    /// Planned conversions.
    #[serde(default)]
    pub expected_conversions: Option<i64>,
    /// Planned revenue.
    #[serde(default)]
    pub expected_revenue: Option<Money>,
    /// Defaults to 30 (1 to 365).
    #[serde(default)]
    pub attribution_days: Option<i64>,
    /// The template of an email campaign's messages (fixed once it runs).
    #[serde(default)]
    pub email_template_id: Option<EmailTemplateId>,
    /// A phone campaign's call script, at most 20,000 characters (fixed once it runs).
    #[serde(default)]
    pub call_script: Option<String>,
    /// A phone campaign's callers, taking the calls of members whose account and contact have no
    /// active owner in turn (at most 100; fixed once it runs). Without any, the campaign's owner.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub caller_ids: Vec<UserId>,
    /// What it actually cost, line by line.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    #[patch(with = costs_after)]
    pub costs: Vec<CostLineInput>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    /// Ids in other systems, each unique among campaigns.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<crm_core::ExternalId>,
}

/// `costs` after a patch: the patch's lines replace the campaign's.
fn costs_after(p: &CampaignPatch, c: &Campaign) -> Vec<CostLineInput> {
    match &p.costs {
        Patch::Value(lines) => lines.clone(),
        Patch::Null => Vec::new(),
        Patch::Absent => c
            .costs
            .iter()
            .map(|l| CostLineInput {
                channel: Some(l.channel),
                amount: l.amount.clone(),
                spent_on: l.spent_on,
                description: l.description.clone(),
            })
            .collect(),
    }
}

/// Most cost lines, segments and products on one campaign.
pub const MAX_COSTS: usize = 500;
pub const MAX_SEGMENTS: usize = 20;
pub const MAX_PRODUCTS: usize = 100;
pub const MAX_CALLERS: usize = 100;

fn money(errs: &mut FieldErrors, field: &str, m: Option<Money>) -> Option<Money> {
    errs.take(m?.parse_non_negative(field))
}

fn count(errs: &mut FieldErrors, field: &str, n: Option<i64>) -> Option<i64> {
    if n.is_some_and(|n| !(0..=1_000_000_000_000).contains(&n)) {
        errs.add(field, "out_of_range", "0 to 10^12");
    }
    n
}

impl Record for Campaign {
    type Input = CampaignInput;
    type Patch = CampaignPatch;

    const READ: Scope = Scope::CampaignsRead;
    const WRITE: Scope = Scope::CampaignsWrite;

    fn owner(&self) -> Option<uuid::Uuid> {
        self.owner_id.map(|u| u.0)
    }

    fn build(
        conn: &mut AnyConnection,
        actor: &Actor,
        id: CampaignId,
        mut input: CampaignInput,
        prev: Option<&Self>,
        now: Timestamp,
    ) -> Result<Self, RecordError> {
        let entity = Self::ENTITY;
        let mut errs = FieldErrors::new();
        let name = input.name.as_deref().and_then(clean);
        match &name {
            None => errs.add("name", "required", "a campaign needs a name"),
            Some(n) if n.chars().count() > 200 => errs.add("name", "too_long", "at most 200 characters"),
            _ => {}
        }
        if input.objective.as_ref().is_some_and(|o| o.chars().count() > 2000) {
            errs.add("objective", "too_long", "at most 2000 characters");
        }
        if input.campaign_type.is_none() {
            errs.add("type", "required", "a campaign has a type");
        }
        if input.channel.is_none() {
            errs.add("channel", "required", "a campaign has a channel: email, phone or post");
        }
        if let (Some(s), Some(e)) = (input.starts_on, input.ends_on)
            && e < s
        {
            errs.add("ends_on", "before_start", "the campaign ends on or after the day it starts");
        }
        let attribution_days = input.attribution_days.unwrap_or(30);
        if !(1..=365).contains(&attribution_days) {
            errs.add("attribution_days", "out_of_range", "1 to 365 days");
        }
        let segment_ids = dedup(input.segment_ids);
        let product_ids = dedup(input.product_ids);
        let caller_ids = dedup(input.caller_ids);
        let call_script = input.call_script.filter(|s| !s.trim().is_empty());
        if caller_ids.len() > MAX_CALLERS {
            errs.add("caller_ids", "too_many", format!("at most {MAX_CALLERS} callers"));
        }
        if call_script.as_ref().is_some_and(|s| s.chars().count() > 20_000) {
            errs.add("call_script", "too_long", "at most 20,000 characters");
        }
        if segment_ids.len() > MAX_SEGMENTS {
            errs.add("segment_ids", "too_many", format!("at most {MAX_SEGMENTS} segments"));
        }
        if product_ids.len() > MAX_PRODUCTS {
            errs.add("product_ids", "too_many", format!("at most {MAX_PRODUCTS} products"));
        }
        let planned_budget = money(&mut errs, "planned_budget", input.planned_budget);
        let expected_revenue = money(&mut errs, "expected_revenue", input.expected_revenue);
        let expected_responses = count(&mut errs, "expected_responses", input.expected_responses);
        let expected_conversions = count(&mut errs, "expected_conversions", input.expected_conversions);
        let channel = input.channel.unwrap_or(Channel::Email);
        if input.costs.len() > MAX_COSTS {
            errs.add("costs", "too_many", format!("at most {MAX_COSTS} cost lines"));
            input.costs.clear();
        }
        let mut costs = Vec::with_capacity(input.costs.len());
        for (n, l) in input.costs.into_iter().enumerate() {
            let amount = money(&mut errs, &format!("costs[{n}].amount"), Some(l.amount));
            let description = l.description.as_deref().and_then(clean);
            if description.as_ref().is_some_and(|d| d.chars().count() > 500) {
                errs.add(&format!("costs[{n}].description"), "too_long", "at most 500 characters");
            }
            if let Some(amount) = amount {
                costs.push(CostLine {
                    channel: l.channel.unwrap_or(channel),
                    amount,
                    spent_on: l.spent_on,
                    description,
                });
            }
        }
        let tags = errs.take(crm_core::values::parse_tags("tags", &input.tags)).unwrap_or_default();
        let external_ids = crm_core::external::parse_external_ids("external_ids", input.external_ids, &mut errs);
        if !errs.0.is_empty() {
            return Err(RecordError::Invalid { entity, errors: errs });
        }

        // References.
        if prev.is_none_or(|p| p.segment_ids != segment_ids) {
            for (n, s) in segment_ids.iter().enumerate() {
                crm_records::check_ref(conn, entity, &format!("segment_ids[{n}]"), Some(*s))?;
            }
        }
        if prev.is_none_or(|p| p.product_ids != product_ids) {
            for (n, p) in product_ids.iter().enumerate() {
                crm_records::check_ref(conn, entity, &format!("product_ids[{n}]"), Some(*p))?;
            }
        }
        if prev.is_none_or(|p| p.parent_id != input.parent_id)
            && let Some(parent) = input.parent_id
        {
            check_parent(conn, id, parent)?;
        }
        if input.email_template_id.is_some() && channel != Channel::Email {
            return Err(RecordError::invalid(
                entity,
                "email_template_id",
                "not_applicable",
                "only email campaigns have an email template",
            ));
        }
        if prev.is_none_or(|p| p.email_template_id != input.email_template_id) {
            if prev.is_some_and(|p| !p.status.before_launch()) {
                return Err(RecordError::Conflict {
                    entity,
                    code: "CAMPAIGN_ALREADY_LAUNCHED",
                    reason: "the template cannot change once the campaign runs".into(),
                });
            }
            crm_records::check_ref(conn, entity, "email_template_id", input.email_template_id)?;
        }
        if channel != Channel::Phone {
            for (field, set) in [("call_script", call_script.is_some()), ("caller_ids", !caller_ids.is_empty())] {
                if set {
                    return Err(RecordError::invalid(
                        entity,
                        field,
                        "not_applicable",
                        "only phone campaigns have calls",
                    ));
                }
            }
        }
        if prev.is_none_or(|p| p.call_script != call_script || p.caller_ids != caller_ids) {
            if prev.is_some_and(|p| !p.status.before_launch()) {
                return Err(RecordError::Conflict {
                    entity,
                    code: "CAMPAIGN_ALREADY_LAUNCHED",
                    reason: "the call script and callers cannot change once the calls are made".into(),
                });
            }
            for (n, u) in caller_ids.iter().enumerate() {
                crm_users::check_user(conn, entity, &format!("caller_ids[{n}]"), Some(*u), true)?;
            }
        }
        let owner_id =
            crm_users::assigned_user(conn, actor, entity, "owner_id", input.owner_id, prev.map(|p| p.owner_id), true)?;

        // Workflow.
        let status = input.status.unwrap_or(CampaignStatus::Planned);
        let from = prev.map(|p| p.status);
        match from {
            None if !matches!(status, CampaignStatus::Planned) => {
                return Err(RecordError::InvalidTransition {
                    field: "status",
                    from: "(none)".into(),
                    to: status.as_str().into(),
                    allowed: vec!["planned".into()],
                });
            }
            Some(f) if f != status && !f.allowed_next().contains(&status) => {
                return Err(RecordError::InvalidTransition {
                    field: "status",
                    from: f.as_str().into(),
                    to: status.as_str().into(),
                    allowed: f.allowed_next().iter().map(|s| s.as_str().to_string()).collect(),
                });
            }
            _ => {}
        }
        if let Some(p) = prev {
            // Members were checked for consent on their channel: it stays theirs.
            if p.channel != channel && crate::members::any(conn, id)? {
                return Err(RecordError::Conflict {
                    entity,
                    code: "CAMPAIGN_CHANNEL_FIXED",
                    reason: "the channel cannot change once the campaign has members".into(),
                });
            }
            if p.attribution_days != attribution_days && !p.status.before_launch() {
                return Err(RecordError::Conflict {
                    entity,
                    code: "CAMPAIGN_ALREADY_LAUNCHED",
                    reason:
                        "the attribution window cannot change once the campaign runs: conversions were credited by it"
                            .into(),
                });
            }
            if p.segment_ids != segment_ids && !p.status.before_launch() {
                return Err(RecordError::Conflict {
                    entity,
                    code: "CAMPAIGN_ALREADY_LAUNCHED",
                    reason: format!("the target segments cannot change once the campaign is {}", p.status.as_str()),
                });
            }
        }
        if status == CampaignStatus::Running
            && from.is_some_and(|f| f != CampaignStatus::Running)
            && input.email_template_id.is_some()
            && crm_db::pool::context::<crate::sending::MailerReady>().is_none()
        {
            return Err(RecordError::Conflict {
                entity,
                code: "MAILER_NOT_CONFIGURED",
                reason: "this server sends no email (CRM_SMTP_URL is not set): configure SMTP, or launch without a template and send elsewhere"
                    .into(),
            });
        }
        if status.has_members() && segment_ids.is_empty() && from.is_some_and(|f| !f.has_members()) {
            return Err(RecordError::invalid(
                entity,
                "segment_ids",
                "required",
                "a campaign needs a target segment before it is scheduled or launched",
            ));
        }

        let mut c = prev.cloned().unwrap_or_else(Campaign::blank);
        if status == CampaignStatus::Running && c.launched_at.is_none() {
            c.launched_at = Some(now);
        }
        if status == CampaignStatus::Completed && c.completed_at.is_none() {
            c.completed_at = Some(now);
        }
        c.id = id;
        c.name = name.unwrap_or_default();
        c.objective = input.objective.as_deref().and_then(clean);
        c.campaign_type = input.campaign_type.unwrap_or(CampaignType::Acquisition);
        c.channel = channel;
        c.status = status;
        c.owner_id = owner_id;
        c.parent_id = input.parent_id;
        c.starts_on = input.starts_on;
        c.ends_on = input.ends_on;
        c.segment_ids = segment_ids;
        c.product_ids = product_ids;
        c.planned_budget = planned_budget;
        c.expected_responses = expected_responses;
        c.expected_conversions = expected_conversions;
        c.expected_revenue = expected_revenue;
        c.attribution_days = attribution_days;
        c.email_template_id = input.email_template_id;
        c.call_script = call_script;
        c.caller_ids = caller_ids;
        c.costs = costs;
        c.tags = tags;
        c.external_ids = external_ids;
        Ok(c)
    }

    fn after_write(
        conn: &mut AnyConnection,
        actor: &Actor,
        before: Option<&Self>,
        after: &Self,
    ) -> Result<(), RecordError> {
        if before.is_none_or(|b| b.costs != after.costs) {
            write_costs(conn, after)?;
        }
        // Members are materialized on each way into scheduled and into running (adding whom
        // the segments hold then, and checking the consent of those already targeted again).
        let entering = |s: CampaignStatus| after.status == s && before.is_some_and(|b| b.status != s);
        if entering(CampaignStatus::Scheduled) || entering(CampaignStatus::Running) {
            crate::members::materialize(conn, actor, after)?;
        }
        // An email wave with a template: one message per member still targeted, to send.
        if entering(CampaignStatus::Running) && after.channel == Channel::Email && after.email_template_id.is_some() {
            crate::sending::queue(conn, after)?;
        }
        // A phone wave: one call activity per member still targeted, for its rep.
        if entering(CampaignStatus::Running) && after.channel == Channel::Phone {
            crate::calls::launch(conn, actor, after)?;
        }
        // Cancelled: the calls not made yet are cancelled with it.
        if entering(CampaignStatus::Cancelled) && after.channel == Channel::Phone {
            crate::calls::cancel_open(conn, actor, after)?;
        }
        Ok(())
    }

    fn load_children(conn: &mut AnyConnection, items: &mut [Self]) -> QueryResult<()> {
        type CostRow = (DbUuid, i64, String, i64, String, NaiveDate, Option<String>);
        let mut by_campaign: HashMap<uuid::Uuid, Vec<CostRow>> = HashMap::new();
        for chunk in items.chunks(500) {
            let keys: Vec<DbUuid> = chunk.iter().map(|c| DbUuid(c.id.0)).collect();
            let rows: Vec<CostRow> = campaign_costs::table
                .filter(campaign_costs::campaign_id.eq_any(keys))
                .order((campaign_costs::campaign_id, campaign_costs::line_no))
                .load(conn)?;
            for r in rows {
                by_campaign.entry(r.0.0).or_default().push(r);
            }
        }
        for c in items.iter_mut() {
            c.costs = by_campaign
                .remove(&c.id.0)
                .unwrap_or_default()
                .into_iter()
                .map(|(_, _, channel, amount, currency, spent_on, description)| CostLine {
                    channel: Channel::parse(&channel).unwrap_or(Channel::Email),
                    amount: Money::new(amount, &currency),
                    spent_on,
                    description,
                })
                .collect();
        }
        Ok(())
    }
}

/// A parent must exist and must not be this campaign or one of its waves.
fn check_parent(conn: &mut AnyConnection, id: CampaignId, parent: CampaignId) -> Result<(), RecordError> {
    let entity = Campaign::ENTITY;
    let mut at = Some(parent);
    for _ in 0..16 {
        let Some(p) = at else { return Ok(()) };
        if p == id {
            return Err(RecordError::invalid(entity, "parent_id", "cycle", "a campaign cannot be a wave of itself"));
        }
        let found = Campaign::find(conn, p)?;
        if p == parent && found.is_none() {
            return Err(RecordError::missing_reference(entity, "parent_id", "campaign", p));
        }
        at = found.and_then(|c| c.parent_id);
    }
    Err(RecordError::invalid(entity, "parent_id", "too_deep", "programmes nest at most 16 deep"))
}

fn write_costs(conn: &mut AnyConnection, c: &Campaign) -> Result<(), RecordError> {
    let key = DbUuid(c.id.0);
    diesel::delete(campaign_costs::table.filter(campaign_costs::campaign_id.eq(key))).execute(conn)?;
    let rows: Vec<_> = c
        .costs
        .iter()
        .enumerate()
        .map(|(n, l)| {
            (
                campaign_costs::campaign_id.eq(key),
                campaign_costs::line_no.eq(i64::try_from(n).unwrap_or(i64::MAX)),
                campaign_costs::channel.eq(l.channel.as_str()),
                campaign_costs::amount_minor.eq(l.amount.amount_minor.0),
                campaign_costs::amount_currency.eq(l.amount.currency.clone()),
                campaign_costs::spent_on.eq(l.spent_on),
                campaign_costs::description.eq(l.description.clone()),
            )
        })
        .collect();
    if !rows.is_empty() {
        match conn {
            AnyConnection::Postgresql(pg) => diesel::insert_into(campaign_costs::table).values(&rows).execute(pg)?,
            AnyConnection::Sqlite(lite) => diesel::insert_into(campaign_costs::table).values(&rows).execute(lite)?,
        };
    }
    Ok(())
}

/// The campaign's segments, live, for materialization.
pub(crate) fn segments_of(conn: &mut AnyConnection, c: &Campaign) -> Result<Vec<Segment>, RecordError> {
    let found = Segment::find_many(conn, &c.segment_ids, false)?;
    let mut out = Vec::with_capacity(found.len());
    for id in &c.segment_ids {
        match found.iter().find(|s| s.id == *id && s.archived_at.is_none()) {
            Some(s) => out.push(s.clone()),
            None => return Err(RecordError::missing_reference(Campaign::ENTITY, "segment_ids", "live segment", id)),
        }
    }
    Ok(out)
}
