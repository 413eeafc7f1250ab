//! Analysing the whole base: a background job (`POST /analytics/refresh`, `crm analytics
//! refresh`, and every `refresh_every_hours` by the job runner) that loads every customer's
//! purchases and cases in a few set-based statements, learns the base model (RFM breakpoints,
//! the BG/NBD and Gamma-Gamma fits), analyses each customer, and stores the results under a new
//! run. Readers keep reading the previous run until the new one is complete: its rows are
//! written in batches (with progress between them), then the run itself, then the old rows go.
//!
//! A customer is the account of a purchase, or its contact when it has no account (a B2C
//! base); a purchase counts when it is live and neither cancelled nor returned.

use std::collections::HashMap;
use std::time::Instant;

use chrono::NaiveDateTime;
use crm_core::ids::{AccountId, ContactId, Customer};
use crm_core::{Actor, FieldError, FieldErrors, Scope};
use crm_db::schema::{
    analytics_runs, cases, contacts, customer_analytics, interaction_contacts, interactions, product_associations,
    products, purchase_lines, purchases, web_events, web_visitors,
};
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, Db, DbError};
use crm_records::RecordError;
use crm_records::jobs::Job;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde::{Deserialize, Serialize};

use crate::analysis::{self, Bought, CaseCounts, CustomerAnalysis, CustomerType, History};
use crate::settings::{self, AnalyticsSettings, ENTITY};
use crm_events::Action;

/// The job kind in `jobs`.
pub const KIND: &str = "analytics_refresh";

/// What to analyse.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "AnalyticsRefreshInput"))]
pub struct RefreshInput {
    /// Analyse the base as it was at this moment, counting only what happened by then (to
    /// backtest the predictions); default: now.
    #[serde(default)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a refresh did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RefreshOutcome {
    pub run_id: uuid::Uuid,
    pub as_of: chrono::DateTime<chrono::Utc>,
    pub customers: i64,
    pub drifting: i64,
    /// Whether BG/NBD could be fitted (the predictions need it).
    pub predicted: bool,
    pub seconds: f64,
    /// Alerts raised, and open alerts resolved because their condition passed.
    pub alerts_raised: i64,
    pub alerts_resolved: i64,
    /// Where the time went.
    pub timings: Timings,
}

/// Seconds per phase of a refresh.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Reading the purchases, lines, cases and interactions.
    pub load: f64,
    /// RFM breakpoints and the BG/NBD and Gamma-Gamma fits.
    pub fit: f64,
    /// Mining the association rules and storing them.
    pub associations: f64,
    /// Analysing every customer and writing the results.
    pub analyse_and_write: f64,
    /// The run, the tier events and the alerts.
    pub alerts: f64,
}

/// Queues a refresh of the whole base.
pub fn start(conn: &mut AnyConnection, actor: &Actor, input: &RefreshInput) -> Result<Job, RecordError> {
    actor.require(Scope::AnalyticsWrite)?;
    if input.as_of.is_some_and(|t| t.naive_utc() > crm_db::now()) {
        return Err(RecordError::Invalid {
            entity: ENTITY,
            errors: FieldErrors(vec![FieldError::new(
                "as_of",
                "in_future",
                "the analysis date cannot be in the future",
            )]),
        });
    }
    let params = serde_json::to_value(input).unwrap_or_default();
    crm_records::jobs::enqueue(conn, actor, KIND, &params)
}

/// Queues a refresh when the settings ask for one every so many hours and the last run (or
/// queued refresh) is older; run by the job runner before it looks for due jobs.
pub fn schedule(conn: &mut AnyConnection, now: NaiveDateTime) -> Result<bool, RecordError> {
    let Some(hours) = settings::load(conn)?.refresh_every_hours else { return Ok(false) };
    let since = now - chrono::Duration::hours(i64::from(hours));
    let last_run: Option<NaiveDateTime> =
        analytics_runs::table.select(diesel::dsl::max(analytics_runs::computed_at)).first(conn)?;
    if last_run.is_some_and(|t| t > since) {
        return Ok(false);
    }
    if crm_records::jobs::any_of_kind_since(conn, KIND, since)? {
        return Ok(false);
    }
    let system = Actor::internal("system:analytics", [Scope::AnalyticsWrite.as_str()]);
    crm_records::jobs::enqueue(conn, &system, KIND, &serde_json::json!({}))?;
    Ok(true)
}

type PurchaseRow = (DbUuid, Option<DbUuid>, Option<DbUuid>, NaiveDateTime, String, i64);

/// What a refresh reads: every customer's history, and the baskets (each purchase's distinct
/// products).
pub struct Loaded {
    pub histories: Vec<History>,
    pub baskets: Vec<Vec<uuid::Uuid>>,
}

/// Every customer's history at `as_of` (only `only`'s when given), in customer order, and the
/// baskets.
pub fn histories(
    conn: &mut AnyConnection,
    as_of: NaiveDateTime,
    settings: &AnalyticsSettings,
    only: Option<Customer>,
) -> QueryResult<Loaded> {
    let not_bought = crm_products::read::NOT_BOUGHT.map(|s| s.as_str());
    let mut q = purchases::table
        .filter(purchases::archived_at.is_null())
        .filter(purchases::status.ne_all(not_bought))
        .filter(purchases::ordered_at.le(as_of))
        .select((
            purchases::id,
            purchases::account_id,
            purchases::contact_id,
            purchases::ordered_at,
            purchases::currency,
            purchases::total_minor,
        ))
        .order((purchases::ordered_at, purchases::id))
        .into_boxed::<crm_db::MultiBackend>();
    // The lines' cost: quantity × the product's unit cost where it is in the purchase's
    // currency; the other lines are counted as uncosted.
    let costed = "products.unit_cost_minor IS NOT NULL AND products.unit_cost_currency = purchases.currency";
    let cost_expr = format!(
        "CAST(SUM(CASE WHEN {costed} THEN purchase_lines.quantity * products.unit_cost_minor ELSE 0 END) AS BIGINT)"
    );
    let uncosted_expr = format!("CAST(SUM(CASE WHEN {costed} THEN 0 ELSE 1 END) AS BIGINT)");
    let mut lines = purchase_lines::table
        .inner_join(products::table.on(products::id.eq(purchase_lines::product_id)))
        .inner_join(purchases::table.on(purchases::id.eq(purchase_lines::purchase_id)))
        .filter(purchases::archived_at.is_null())
        .filter(purchases::status.ne_all(not_bought))
        .filter(purchases::ordered_at.le(as_of))
        .group_by(purchase_lines::purchase_id)
        .select((purchase_lines::purchase_id, sql::<BigInt>(&cost_expr), sql::<BigInt>(&uncosted_expr)))
        .into_boxed::<crm_db::MultiBackend>();
    let mut bought_products = purchase_lines::table
        .inner_join(purchases::table.on(purchases::id.eq(purchase_lines::purchase_id)))
        .filter(purchases::archived_at.is_null())
        .filter(purchases::status.ne_all(not_bought))
        .filter(purchases::ordered_at.le(as_of))
        .select((purchase_lines::purchase_id, purchase_lines::product_id))
        .order((purchase_lines::purchase_id, purchase_lines::product_id))
        .distinct()
        .into_boxed::<crm_db::MultiBackend>();
    let period = chrono::Duration::days(i64::from(settings.period_days));
    let mut case_q = cases::table
        .filter(cases::archived_at.is_null())
        .filter(cases::created_at.gt(as_of - period - period))
        .filter(cases::created_at.le(as_of))
        .select((cases::account_id, cases::contact_id, cases::created_at, cases::case_type))
        .into_boxed::<crm_db::MultiBackend>();
    match only {
        Some(Customer::Account(a)) => {
            q = q.filter(purchases::account_id.eq(DbUuid(a.0)));
            lines = lines.filter(purchases::account_id.eq(DbUuid(a.0)));
            bought_products = bought_products.filter(purchases::account_id.eq(DbUuid(a.0)));
            case_q = case_q.filter(cases::account_id.eq(DbUuid(a.0)));
        }
        Some(Customer::Contact(c)) => {
            q = q.filter(purchases::contact_id.eq(DbUuid(c.0))).filter(purchases::account_id.is_null());
            lines = lines.filter(purchases::contact_id.eq(DbUuid(c.0))).filter(purchases::account_id.is_null());
            bought_products =
                bought_products.filter(purchases::contact_id.eq(DbUuid(c.0))).filter(purchases::account_id.is_null());
            case_q = case_q.filter(cases::contact_id.eq(DbUuid(c.0))).filter(cases::account_id.is_null());
        }
        None => {}
    }
    let costs: HashMap<uuid::Uuid, (i64, i64)> =
        lines.load::<(DbUuid, i64, i64)>(conn)?.into_iter().map(|(id, c, u)| (id.0, (c, u))).collect();
    let rows: Vec<PurchaseRow> = q.load(conn)?;

    let customer_of = |account: Option<DbUuid>, contact: Option<DbUuid>| -> Option<Customer> {
        match (account, contact) {
            (Some(a), _) => Some(Customer::Account(AccountId(a.0))),
            (None, Some(c)) => Some(Customer::Contact(ContactId(c.0))),
            (None, None) => None,
        }
    };
    let mut by_customer: HashMap<Customer, History> = HashMap::new();
    let mut owner: HashMap<uuid::Uuid, Customer> = HashMap::new();
    for (id, account, contact, ordered_at, currency, total_minor) in rows {
        let Some(customer) = customer_of(account, contact) else { continue };
        owner.insert(id.0, customer);
        let (cost_minor, uncosted_lines) = costs.get(&id.0).copied().unwrap_or((0, 0));
        by_customer
            .entry(customer)
            .or_insert_with(|| History {
                customer,
                purchases: Vec::new(),
                cases: CaseCounts::default(),
                products: Vec::new(),
                last_interaction: None,
                web: Default::default(),
            })
            .purchases
            .push(Bought { ordered_at, currency, total_minor, cost_minor, uncosted_lines });
    }
    drop(costs);
    let mut baskets: Vec<Vec<uuid::Uuid>> = Vec::new();
    let mut last: Option<uuid::Uuid> = None;
    for (purchase, product) in bought_products.load::<(DbUuid, DbUuid)>(conn)? {
        let Some(h) = owner.get(&purchase.0).and_then(|c| by_customer.get_mut(c)) else { continue };
        h.products.push(product.0);
        if last != Some(purchase.0) {
            baskets.push(Vec::new());
            last = Some(purchase.0);
        }
        if let Some(b) = baskets.last_mut() {
            b.push(product.0);
        }
    }
    // The latest interaction: logged on an account, or with a contact.
    let mut on_accounts = interactions::table
        .filter(interactions::archived_at.is_null())
        .filter(interactions::occurred_at.le(as_of))
        .filter(interactions::account_id.is_not_null())
        .group_by(interactions::account_id)
        .select((interactions::account_id, diesel::dsl::max(interactions::occurred_at)))
        .into_boxed::<crm_db::MultiBackend>();
    let mut with_contacts = interaction_contacts::table
        .filter(interaction_contacts::occurred_at.le(as_of))
        .group_by(interaction_contacts::contact_id)
        .select((interaction_contacts::contact_id, diesel::dsl::max(interaction_contacts::occurred_at)))
        .into_boxed::<crm_db::MultiBackend>();
    match only {
        Some(Customer::Account(a)) => on_accounts = on_accounts.filter(interactions::account_id.eq(DbUuid(a.0))),
        Some(Customer::Contact(c)) => {
            with_contacts = with_contacts.filter(interaction_contacts::contact_id.eq(DbUuid(c.0)))
        }
        None => {}
    }
    let account_rows: Vec<(Option<DbUuid>, Option<NaiveDateTime>)> =
        if matches!(only, Some(Customer::Contact(_))) { Vec::new() } else { on_accounts.load(conn)? };
    let contact_rows: Vec<(DbUuid, Option<NaiveDateTime>)> =
        if matches!(only, Some(Customer::Account(_))) { Vec::new() } else { with_contacts.load(conn)? };
    for (customer, at) in account_rows
        .into_iter()
        .filter_map(|(a, t)| Some((Customer::Account(AccountId(a?.0)), t)))
        .chain(contact_rows.into_iter().map(|(c, t)| (Customer::Contact(ContactId(c.0)), t)))
    {
        if let Some(h) = by_customer.get_mut(&customer) {
            h.last_interaction = at;
        }
    }
    // Web events of the visitors identified as contacts, in the two periods, per contact (and
    // so per its account).
    for (recent, from, to) in [(true, as_of - period, as_of), (false, as_of - period - period, as_of - period)] {
        let mut q = web_events::table
            .inner_join(web_visitors::table)
            .inner_join(contacts::table.on(web_visitors::contact_id.eq(contacts::id.nullable())))
            .filter(web_events::occurred_at.gt(from))
            .filter(web_events::occurred_at.le(to))
            .group_by((contacts::id, contacts::account_id, web_events::kind))
            .select((contacts::id, contacts::account_id, web_events::kind, diesel::dsl::count_star()))
            .into_boxed::<crm_db::MultiBackend>();
        match only {
            Some(Customer::Account(a)) => q = q.filter(contacts::account_id.eq(DbUuid(a.0))),
            Some(Customer::Contact(c)) => q = q.filter(contacts::id.eq(DbUuid(c.0))),
            None => {}
        }
        for (contact, account, kind, n) in q.load::<(DbUuid, Option<DbUuid>, String, i64)>(conn)? {
            let mine =
                [Some(Customer::Contact(ContactId(contact.0))), account.map(|a| Customer::Account(AccountId(a.0)))];
            for customer in mine.into_iter().flatten() {
                if let Some(h) = by_customer.get_mut(&customer) {
                    let counts = if recent { &mut h.web.recent } else { &mut h.web.before };
                    counts.add(&kind, n);
                }
            }
        }
    }
    let complaint = crm_cases::CaseType::Complaint.as_str();
    for (account, contact, created_at, case_type) in
        case_q.load::<(Option<DbUuid>, Option<DbUuid>, NaiveDateTime, String)>(conn)?
    {
        let Some(h) = customer_of(account, contact).and_then(|c| by_customer.get_mut(&c)) else { continue };
        let recent = created_at > as_of - period;
        let is_complaint = case_type == complaint;
        let c = &mut h.cases;
        if recent {
            c.recent += 1;
            c.recent_complaints += i64::from(is_complaint);
        } else {
            c.before += 1;
            c.complaints_before += i64::from(is_complaint);
        }
    }
    let mut out: Vec<History> = by_customer.into_values().collect();
    for h in &mut out {
        h.products.sort_unstable();
        h.products.dedup();
    }
    out.sort_by_key(|h| (h.customer.entity(), h.customer.uuid()));
    Ok(Loaded { histories: out, baskets })
}

/// The customers written per transaction (progress is reported between them).
const BATCH: usize = 500;

/// Analyses the whole base and stores it as the latest run; None when `progress` said the job
/// lost its lease.
pub fn run(
    db: &Db,
    input: &RefreshInput,
    progress: &mut dyn FnMut(i64, i64, i64) -> bool,
) -> Result<Option<RefreshOutcome>, RecordError> {
    let started = Instant::now();
    let as_of = input.as_of.map(|t| t.naive_utc()).unwrap_or_else(crm_db::now);
    let settings = db.run_sync(|c| settings::load(c).map_err(DbError::from))?;
    // Web events past the retention go first (each refresh bounds their storage).
    db.transaction_sync(|c| crate::web::purge(c, settings.web_retention_days).map_err(DbError::from))?;
    let mut timings = Timings::default();
    let mut lap = Instant::now();
    let mut split = |slot: &mut f64| {
        *slot = lap.elapsed().as_secs_f64();
        lap = Instant::now();
    };
    let Loaded { mut histories, baskets } =
        db.run_sync(|c| histories(c, as_of, &settings, None).map_err(DbError::from))?;
    // Contacts who withdrew their consent to profiling, or whose processing is restricted, are
    // not analysed (nor fitted on).
    let unprofiled = db.run_sync(|c| {
        let mut out = crm_contacts::consents::withdrawn(c, crm_contacts::ConsentPurpose::Profiling)?;
        out.extend(crm_contacts::restrictions::restricted_contacts(c)?);
        Ok::<_, DbError>(out)
    })?;
    histories.retain(|h| !matches!(h.customer, Customer::Contact(c) if unprofiled.contains(&c.0)));
    split(&mut timings.load);
    let (analysed, raws): (Vec<&History>, Vec<analysis::Raw>) =
        histories.iter().filter_map(|h| analysis::raw(h, as_of, &settings).map(|r| (h, r))).unzip();
    let total = raws.len() as i64;
    if !progress(total, 0, 0) {
        return Ok(None);
    }
    let (base, fits) = analysis::learn(&raws);
    split(&mut timings.fit);
    let rules = crate::associations::mine(&baskets, settings.thresholds());
    drop(baskets);
    let catalog = db.run_sync(|c| crate::associations::catalog(c).map_err(DbError::from))?;
    let run_id = uuid::Uuid::now_v7();
    // Rows of a run that does not complete are not read (no run row points at them); they go.
    let discard = || {
        let gone = db.transaction_sync(|c| -> Result<(), DbError> {
            diesel::delete(customer_analytics::table.filter(customer_analytics::run_id.eq(DbUuid(run_id))))
                .execute(c)?;
            diesel::delete(product_associations::table.filter(product_associations::run_id.eq(DbUuid(run_id))))
                .execute(c)?;
            Ok(())
        });
        if let Err(e) = gone {
            tracing::warn!(error = %e, "removing an unfinished analytics run failed");
        }
    };
    if let Err(e) = db.transaction_sync(|c| store_rules(c, run_id, &rules).map_err(DbError::from)) {
        discard();
        return Err(e.into());
    }
    let rules = crate::associations::by_antecedent(rules);
    split(&mut timings.associations);
    let ctx =
        analysis::Context { base: &base, settings: &settings, as_of, live: false, rules: &rules, catalog: &catalog };
    let profiles = db.run_sync(|c| crate::profiles::Profiles::load(c).map_err(DbError::from))?;
    let previous_tiers = db.run_sync(|c| tiers_of_latest(c).map_err(DbError::from))?;
    let mut tier_changes: Vec<(CustomerType, uuid::Uuid, Option<String>, Option<String>)> = Vec::new();
    let mut trends = crate::trends::Trends::new(as_of);
    let mut candidates: Vec<crate::alerts::Candidate> = Vec::new();
    let mut drifting = 0;
    let mut done = 0;
    for (hs, rs) in analysed.chunks(BATCH).zip(raws.chunks(BATCH)) {
        let rows: Vec<CustomerAnalysis> = hs.iter().zip(rs).map(|(h, r)| analysis::analyse(h, r, &ctx)).collect();
        drifting += rows.iter().filter(|a| a.drifting).count() as i64;
        let profiled: Vec<crate::profiles::Profile> = rows.iter().map(|a| profiles.of(&a.customer_id)).collect();
        for ((a, p), h) in rows.iter().zip(&profiled).zip(hs) {
            candidates.extend(crate::alerts::candidates_of(a, p, &settings));
            trends.add(h, a, p);
            let before = previous_tiers.get(&(a.customer_type, a.customer_id)).cloned().flatten();
            if before != a.tier {
                tier_changes.push((a.customer_type, a.customer_id, before, a.tier.clone()));
            }
        }
        if let Err(e) = db.transaction_sync(|c| store(c, run_id, &rows, &profiled).map_err(DbError::from)) {
            discard();
            return Err(e.into());
        }
        done += rows.len() as i64;
        if !progress(total, done, 0) {
            discard();
            return Ok(None);
        }
    }
    let trends = trends.finish();
    split(&mut timings.analyse_and_write);
    let seconds = started.elapsed().as_secs_f64();
    let finished = db.transaction_sync(|c| -> Result<(), RecordError> {
        diesel::insert_into(analytics_runs::table)
            .values((
                analytics_runs::id.eq(DbUuid(run_id)),
                analytics_runs::as_of.eq(as_of),
                analytics_runs::computed_at.eq(crm_db::now()),
                analytics_runs::seconds.eq(seconds),
                analytics_runs::customers.eq(total),
                analytics_runs::settings.eq(serde_json::to_string(&settings).unwrap_or_default()),
                analytics_runs::model.eq(serde_json::to_string(&base).unwrap_or_default()),
                analytics_runs::fits.eq(serde_json::to_string(&fits).unwrap_or_default()),
                analytics_runs::trends.eq(serde_json::to_string(&trends).unwrap_or_default()),
            ))
            .execute(c)?;
        // The customers of the runs completed before go (the runs stay, as the fits' history);
        // a run still being written by another refresh is not touched.
        let older = analytics_runs::table.filter(analytics_runs::id.ne(DbUuid(run_id))).select(analytics_runs::id);
        diesel::delete(customer_analytics::table.filter(customer_analytics::run_id.eq_any(older))).execute(c)?;
        diesel::delete(product_associations::table.filter(product_associations::run_id.eq_any(older))).execute(c)?;
        Ok(())
    });
    if let Err(e) = finished {
        discard();
        return Err(e);
    }
    // The run is complete and read from now on. Then the events and alerts it calls for, in
    // transactions of a thousand (a first refresh of a large base raises tens of thousands);
    // alerts are raised by the refresh of now, not by a backtest of the past.
    let (mut alerts_raised, mut alerts_resolved) = (0, 0);
    if input.as_of.is_none() {
        let system = Actor::internal("system:analytics", [Scope::AnalyticsWrite.as_str()]);
        for chunk in tier_changes.chunks(1000) {
            db.transaction_sync(|c| -> Result<(), DbError> {
                for (customer_type, id, before, after) in chunk {
                    let state =
                        |tier: &Option<String>| serde_json::json!({"customer_type": customer_type, "tier": tier});
                    crm_events::record(
                        c,
                        &system,
                        "customer_tier",
                        *id,
                        Action::Updated,
                        Some(state(before)),
                        Some(state(after)),
                    )?;
                }
                Ok(())
            })?;
        }
        let quota = db.run_sync(|c| crate::alerts::quota_candidates(c, as_of, &settings))?;
        candidates.extend(quota);
        (alerts_raised, alerts_resolved) =
            crate::alerts::settle(db, candidates, crate::alerts::AlertKind::ALL, crm_db::now(), &settings)?;
    }
    split(&mut timings.alerts);
    Ok(Some(RefreshOutcome {
        run_id,
        as_of: as_of.and_utc(),
        customers: total,
        drifting,
        predicted: base.bgnbd.is_some(),
        seconds,
        alerts_raised,
        alerts_resolved,
        timings,
    }))
}

/// Each customer's tier in the latest complete refresh.
fn tiers_of_latest(conn: &mut AnyConnection) -> QueryResult<HashMap<(CustomerType, uuid::Uuid), Option<String>>> {
    let latest = analytics_runs::table
        .order((analytics_runs::computed_at.desc(), analytics_runs::id.desc()))
        .select(analytics_runs::id)
        .limit(1);
    let rows: Vec<(String, DbUuid, Option<String>)> = customer_analytics::table
        .filter(customer_analytics::run_id.eq_any(latest))
        .select((customer_analytics::customer_type, customer_analytics::customer_id, customer_analytics::tier))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(t, id, tier)| Some(((CustomerType::parse(&t)?, id.0), tier))).collect())
}

fn store(
    conn: &mut AnyConnection,
    run_id: uuid::Uuid,
    rows: &[CustomerAnalysis],
    profiles: &[crate::profiles::Profile],
) -> QueryResult<usize> {
    let values: Vec<_> = rows
        .iter()
        .zip(profiles)
        .map(|(a, p)| {
            let main = a.value.first();
            (
                customer_analytics::customer_type.eq(a.customer_type.as_str()),
                customer_analytics::customer_id.eq(DbUuid(a.customer_id)),
                customer_analytics::run_id.eq(DbUuid(run_id)),
                customer_analytics::currency.eq(a.currency.clone()),
                customer_analytics::segment.eq(a.rfm.segment.as_str()),
                customer_analytics::rfm_cell.eq(a.rfm.cell.clone()),
                customer_analytics::recency_days.eq(a.rfm.recency_days),
                customer_analytics::revenue_minor.eq(main.map(|v| v.revenue.amount_minor.0).unwrap_or(0)),
                customer_analytics::margin_minor.eq(main.and_then(|v| v.margin.as_ref()).map(|m| m.amount_minor.0)),
                customer_analytics::predicted_clv_minor.eq(a
                    .prediction
                    .as_ref()
                    .and_then(|p| p.predicted_clv.as_ref())
                    .map(|m| m.amount_minor.0)),
                customer_analytics::probability_alive.eq(a.prediction.as_ref().map(|p| p.probability_alive)),
                customer_analytics::drifting.eq(a.drifting),
                customer_analytics::repeat_customer.eq(a.repeat_customer),
                customer_analytics::dormant.eq(a.dormant),
                customer_analytics::tier.eq(a.tier.clone()),
                customer_analytics::industry.eq(p.industry.clone()),
                customer_analytics::country.eq(p.country.clone()),
                customer_analytics::region.eq(p.region.clone()),
                customer_analytics::lifecycle_stage.eq(p.lifecycle_stage.clone()),
                customer_analytics::web_events_recent.eq(a.web.recent.total()),
                customer_analytics::analysis.eq(serde_json::to_string(a).unwrap_or_default()),
            )
        })
        .collect();
    crm_db::insert_rows!(conn, customer_analytics::table, &values)
}

fn store_rules(conn: &mut AnyConnection, run_id: uuid::Uuid, rules: &[crate::associations::Rule]) -> QueryResult<()> {
    for chunk in rules.chunks(BATCH) {
        let values: Vec<_> = chunk
            .iter()
            .map(|r| {
                (
                    product_associations::run_id.eq(DbUuid(run_id)),
                    product_associations::antecedent_id.eq(DbUuid(r.antecedent)),
                    product_associations::consequent_id.eq(DbUuid(r.consequent)),
                    product_associations::baskets.eq(r.baskets),
                    product_associations::support.eq(r.support),
                    product_associations::confidence.eq(r.confidence),
                    product_associations::lift.eq(r.lift),
                )
            })
            .collect();
        crm_db::insert_rows!(conn, product_associations::table, &values)?;
    }
    Ok(())
}
