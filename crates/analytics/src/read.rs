//! Reading the analyses: one customer's (stored by the latest refresh, or computed alone
//! against its model), the ranked list of customers, the segmentation of the base, and the
//! model itself.

use chrono::NaiveDateTime;
use crm_core::ids::{AccountId, ContactId, Customer, EntityId};
use crm_core::list::{Cursor, ListError, page_size};
use crm_core::{Actor, Money, Scope};
use crm_db::AnyConnection;
use crm_db::schema::{analytics_runs, customer_analytics, product_associations};
use crm_db::types::DbUuid;
use crm_records::RecordError;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde::{Deserialize, Serialize};

use crate::analysis::{self, BaseModel, BgNbdFit, CustomerAnalysis, CustomerType, Fits, GammaGammaFit};
use crate::associations::Rule;
use crate::rfm::RfmSegment;
use crate::settings::{AnalyticsSettings, ENTITY};
use crate::trends::{CustomerTrendGroup, Dimension};

/// The latest complete refresh.
struct Run {
    id: uuid::Uuid,
    as_of: NaiveDateTime,
    computed_at: NaiveDateTime,
    seconds: f64,
    customers: i64,
    settings: String,
    model: String,
    fits: String,
}

fn latest_run(conn: &mut AnyConnection) -> QueryResult<Option<Run>> {
    type Row = (DbUuid, NaiveDateTime, NaiveDateTime, f64, i64, String, String, String);
    let row: Option<Row> = analytics_runs::table
        .order((analytics_runs::computed_at.desc(), analytics_runs::id.desc()))
        .select((
            analytics_runs::id,
            analytics_runs::as_of,
            analytics_runs::computed_at,
            analytics_runs::seconds,
            analytics_runs::customers,
            analytics_runs::settings,
            analytics_runs::model,
            analytics_runs::fits,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|r| Run {
        id: r.0.0,
        as_of: r.1,
        computed_at: r.2,
        seconds: r.3,
        customers: r.4,
        settings: r.5,
        model: r.6,
        fits: r.7,
    }))
}

fn not_analysed() -> RecordError {
    RecordError::Conflict {
        entity: ENTITY,
        code: "NOT_ANALYSED",
        reason: "the customer base has not been analysed yet: start a refresh (POST /analytics/refresh)".into(),
    }
}

/// Checks the caller reads this kind of customer and that it exists (404 otherwise).
pub fn readable_customer(conn: &mut AnyConnection, actor: &Actor, customer: Customer) -> Result<(), RecordError> {
    let (table, entity) = match customer {
        Customer::Account(_) => {
            actor.require(Scope::AccountsRead)?;
            (AccountId::TABLE, AccountId::ENTITY)
        }
        Customer::Contact(_) => {
            actor.require(Scope::ContactsRead)?;
            (ContactId::TABLE, ContactId::ENTITY)
        }
    };
    // A customer the caller may not see does not exist for it.
    let seen = match crm_records::visibility::owned_entity(entity) {
        Some(owned) => crm_records::visibility::sees_raw(conn, actor, owned, customer.uuid())?,
        None => crm_db::sql::id_exists(conn, table, customer.uuid())?.then_some(true),
    };
    if seen != Some(true) {
        return Err(RecordError::NotFound { entity });
    }
    Ok(())
}

/// The SQL condition that a row's customer (`customer_type`, `customer_id`) is one the caller
/// sees (`crm_records::visibility`): what the analyses, segments and alerts a caller reads are
/// narrowed to. `1 = 1` when it sees every account and contact.
pub(crate) fn seen_customers(conn: &mut AnyConnection, actor: &Actor) -> Result<crm_db::sql::Sql, RecordError> {
    use crm_records::visibility::{self, Visibility};
    let backend = conn.backend();
    let mut out = crm_db::sql::Sql::new(backend);
    let accounts = visibility::of_entity(conn, actor, AccountId::ENTITY)?;
    let contacts = visibility::of_entity(conn, actor, ContactId::ENTITY)?;
    let (Some(a), Some(c)) = (visibility::owned_entity(AccountId::ENTITY), visibility::owned_entity(ContactId::ENTITY))
    else {
        out.push("1 = 1");
        return Ok(out);
    };
    if accounts == Visibility::All && contacts == Visibility::All {
        out.push("1 = 1");
        return Ok(out);
    }
    out.push("((customer_type = 'account' AND ").append(accounts.sql_ref(a, "customer_id", backend));
    out.push(") OR (customer_type = 'contact' AND ").append(contacts.sql_ref(c, "customer_id", backend)).push("))");
    Ok(out)
}

/// Whether the caller sees every account and contact: figures stored for the whole base (the
/// trends) are answered only then.
fn sees_whole_base(conn: &mut AnyConnection, actor: &Actor) -> Result<bool, RecordError> {
    use crm_records::visibility::{Visibility, of_entity};
    Ok(of_entity(conn, actor, AccountId::ENTITY)? == Visibility::All
        && of_entity(conn, actor, ContactId::ENTITY)? == Visibility::All)
}

/// Whether the caller sees margins: they come from unit costs (`products:cost`).
fn sees_margins(actor: &Actor) -> bool {
    actor.has(Scope::ProductsCost)
}

/// An analysis as `actor` may see it: without margins unless it sees unit costs.
fn concealed(mut a: CustomerAnalysis, actor: &Actor) -> CustomerAnalysis {
    if !sees_margins(actor) {
        for v in &mut a.value {
            v.margin = None;
            v.margin_rate = None;
        }
    }
    a
}

/// One customer's analysis: the latest refresh's, or with `fresh` (or for a customer that
/// refresh did not see) computed now from its purchases against that refresh's model.
pub fn customer(
    conn: &mut AnyConnection,
    actor: &Actor,
    customer: Customer,
    fresh: bool,
) -> Result<CustomerAnalysis, RecordError> {
    Ok(concealed(analysis_of(conn, actor, customer, fresh)?, actor))
}

fn analysis_of(
    conn: &mut AnyConnection,
    actor: &Actor,
    customer: Customer,
    fresh: bool,
) -> Result<CustomerAnalysis, RecordError> {
    actor.require(Scope::AnalyticsRead)?;
    readable_customer(conn, actor, customer)?;
    if let Customer::Contact(c) = customer
        && crm_contacts::consents::is_withdrawn(conn, c, crm_contacts::ConsentPurpose::Profiling)?
    {
        return Err(RecordError::Conflict {
            entity: ENTITY,
            code: "PROFILING_WITHDRAWN",
            reason: "the contact withdrew its consent to profiling: it is not analysed".into(),
        });
    }
    if let Customer::Contact(c) = customer
        && crm_contacts::restrictions::is_restricted(conn, ("contact", c.0))?
    {
        return Err(RecordError::Conflict {
            entity: ENTITY,
            code: "PROCESSING_RESTRICTED",
            reason: "the processing of the contact's data is restricted: it is not analysed".into(),
        });
    }
    let entity = match customer {
        Customer::Account(_) => AccountId::ENTITY,
        Customer::Contact(_) => ContactId::ENTITY,
    };
    let run = latest_run(conn)?.ok_or_else(not_analysed)?;
    if !fresh {
        let stored: Option<String> = customer_analytics::table
            .filter(customer_analytics::run_id.eq(DbUuid(run.id)))
            .filter(customer_analytics::customer_type.eq(CustomerType::of(customer).as_str()))
            .filter(customer_analytics::customer_id.eq(DbUuid(customer.uuid())))
            .select(customer_analytics::analysis)
            .first(conn)
            .optional()?;
        if let Some(a) = stored.and_then(|s| serde_json::from_str(&s).ok()) {
            return Ok(a);
        }
    }
    let settings: AnalyticsSettings = serde_json::from_str(&run.settings).unwrap_or_default();
    let base: BaseModel = serde_json::from_str(&run.model).unwrap_or_default();
    let now = crm_db::now();
    let history = crate::refresh::histories(conn, now, &settings, Some(customer))?.histories.into_iter().next();
    let Some((h, raw)) = history.and_then(|h| analysis::raw(&h, now, &settings).map(|r| (h, r))) else {
        return Err(RecordError::Conflict {
            entity: ENTITY,
            code: "NO_PURCHASES",
            reason: format!(
                "the {entity} has no purchases of its own to analyse (a purchase with an account is the account's)"
            ),
        });
    };
    let catalog = crate::associations::catalog(conn)?;
    let rules = crate::associations::by_antecedent(rules_of(conn, run.id, Some(&h.products))?);
    let ctx = analysis::Context {
        base: &base,
        settings: &settings,
        as_of: now,
        live: true,
        rules: &rules,
        catalog: &catalog,
    };
    Ok(analysis::analyse(&h, &raw, &ctx))
}

/// A refresh's association rules (those from `from` when given).
fn rules_of(conn: &mut AnyConnection, run: uuid::Uuid, from: Option<&[uuid::Uuid]>) -> QueryResult<Vec<Rule>> {
    let mut q = product_associations::table
        .filter(product_associations::run_id.eq(DbUuid(run)))
        .select((
            product_associations::antecedent_id,
            product_associations::consequent_id,
            product_associations::baskets,
            product_associations::support,
            product_associations::confidence,
            product_associations::lift,
        ))
        .into_boxed::<crm_db::MultiBackend>();
    if let Some(ids) = from {
        q = q.filter(product_associations::antecedent_id.eq_any(ids.iter().map(|u| DbUuid(*u)).collect::<Vec<_>>()));
    }
    Ok(q.load::<(DbUuid, DbUuid, i64, f64, f64, f64)>(conn)?
        .into_iter()
        .map(|(a, c, baskets, support, confidence, lift)| Rule {
            antecedent: a.0,
            consequent: c.0,
            baskets,
            support,
            confidence,
            lift,
        })
        .collect())
}

/// A product in an association.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "AssociatedProduct"))]
pub struct AssociatedProduct {
    pub id: uuid::Uuid,
    pub sku: String,
    pub name: String,
}

/// An association rule: the purchases holding `antecedent` often hold `consequent` too.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct ProductAssociation {
    pub antecedent: AssociatedProduct,
    pub consequent: AssociatedProduct,
    /// Purchases holding both.
    pub baskets: i64,
    /// Those purchases over all purchases.
    pub support: f64,
    /// Those purchases over the purchases holding `antecedent`.
    pub confidence: f64,
    /// Confidence over the share of all purchases holding `consequent`.
    pub lift: f64,
}

/// `GET /analytics/associations`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AssociationsQuery {
    /// Only the rules from this product.
    pub product_id: Option<uuid::Uuid>,
    /// `-lift` (default), `-confidence` or `-support`.
    pub sort: Option<String>,
    /// 1 to 500 (default 100).
    pub limit: Option<u32>,
}

/// The association rules of the latest refresh, strongest first.
pub fn associations(
    conn: &mut AnyConnection,
    actor: &Actor,
    q: &AssociationsQuery,
) -> Result<Vec<ProductAssociation>, RecordError> {
    actor.require(Scope::AnalyticsRead)?;
    actor.require(Scope::ProductsRead)?;
    let sort = q.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("-lift");
    let key: fn(&Rule) -> f64 = match sort {
        "-lift" => |r| r.lift,
        "-confidence" => |r| r.confidence,
        "-support" => |r| r.support,
        other => return Err(ListError::Sort(other.to_string()).into()),
    };
    let limit = page_size(q.limit.unwrap_or(100), 500)? as usize;
    let run = latest_run(conn)?.ok_or_else(not_analysed)?;
    let from = q.product_id.map(|p| vec![p]);
    let mut rules = rules_of(conn, run.id, from.as_deref())?;
    rules.sort_by(|a, b| {
        key(b).total_cmp(&key(a)).then(a.antecedent.cmp(&b.antecedent)).then(a.consequent.cmp(&b.consequent))
    });
    rules.truncate(limit);
    let catalog = crate::associations::catalog(conn)?;
    let product = |id: uuid::Uuid| {
        let p = catalog.get(&id);
        AssociatedProduct {
            id,
            sku: p.map(|p| p.sku.clone()).unwrap_or_default(),
            name: p.map(|p| p.name.clone()).unwrap_or_default(),
        }
    };
    Ok(rules
        .into_iter()
        .map(|r| ProductAssociation {
            antecedent: product(r.antecedent),
            consequent: product(r.consequent),
            baskets: r.baskets,
            support: r.support,
            confidence: r.confidence,
            lift: r.lift,
        })
        .collect())
}

/// `GET /analytics/customers`: which customers, in which order.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct CustomersQuery {
    /// Only this RFM segment.
    pub segment: Option<RfmSegment>,
    /// Only drifting customers (`true`) or the others (`false`).
    pub drifting: Option<bool>,
    /// Only dormant customers (`true`: no purchase and no interaction for `dormant_days`) or
    /// the others.
    pub dormant: Option<bool>,
    /// Only customers whose main currency is this.
    pub currency: Option<String>,
    /// Only accounts or only contacts.
    pub customer_type: Option<CustomerType>,
    /// `predicted_clv`, `revenue`, `margin`, `recency_days` or `probability_alive`, `-` for
    /// descending (default `-predicted_clv`); customers without the figure come last.
    pub sort: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A page of customer analyses.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CustomerAnalysisPage {
    pub data: Vec<CustomerAnalysis>,
    pub next_cursor: Option<String>,
    /// The refresh the figures come from.
    pub as_of: chrono::DateTime<chrono::Utc>,
}

const SORTS: [(&str, &str, bool); 5] = [
    ("predicted_clv", "predicted_clv_minor", false),
    ("revenue", "revenue_minor", false),
    ("margin", "margin_minor", false),
    ("recency_days", "recency_days", false),
    ("probability_alive", "probability_alive", true),
];

/// The customers of the latest refresh, ranked (the profitability ranking with
/// `sort=-margin`).
pub fn customers(
    conn: &mut AnyConnection,
    actor: &Actor,
    q: &CustomersQuery,
) -> Result<CustomerAnalysisPage, RecordError> {
    actor.require(Scope::AnalyticsRead)?;
    let raw_sort = q.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("-predicted_clv");
    let (desc, name) = raw_sort.strip_prefix('-').map(|n| (true, n)).unwrap_or((false, raw_sort));
    let Some(&(_, column, float)) = SORTS.iter().find(|s| s.0 == name && (s.0 != "margin" || sees_margins(actor)))
    else {
        return Err(ListError::Sort(raw_sort.to_string()).into());
    };
    let limit = page_size(q.limit.unwrap_or(50), 200)?;
    let run = latest_run(conn)?.ok_or_else(not_analysed)?;

    let seen = seen_customers(conn, actor)?;
    let mut query = customer_analytics::table
        .filter(customer_analytics::run_id.eq(DbUuid(run.id)))
        .filter(seen)
        .select((
            customer_analytics::customer_id,
            customer_analytics::analysis,
            sql::<diesel::sql_types::Nullable<diesel::sql_types::Double>>(&format!(
                "CAST({column} AS DOUBLE PRECISION)"
            )),
        ))
        .into_boxed::<crm_db::MultiBackend>();
    if let Some(s) = q.segment {
        query = query.filter(customer_analytics::segment.eq(s.as_str()));
    }
    if let Some(d) = q.drifting {
        query = query.filter(customer_analytics::drifting.eq(d));
    }
    if let Some(d) = q.dormant {
        query = query.filter(customer_analytics::dormant.eq(d));
    }
    if let Some(c) = q.currency.as_deref() {
        query = query.filter(customer_analytics::currency.eq(c.trim().to_ascii_uppercase()));
    }
    if let Some(t) = q.customer_type {
        query = query.filter(customer_analytics::customer_type.eq(t.as_str()));
    }
    let signature = raw_sort.to_string();
    if let Some(c) = q.cursor.as_deref() {
        let cursor = Cursor::decode(c).filter(|c| c.s == signature && c.v.len() == 1).ok_or(ListError::Cursor)?;
        let id = DbUuid(cursor.id);
        // Rows after the cursor: the figure further in the order, or equal with a greater id;
        // the rows without the figure last, by id.
        let cmp = if desc { " < " } else { " > " };
        let mut after = crm_db::sql::Sql::new(conn.backend());
        match cursor.v[0].as_f64() {
            Some(v) => {
                let bind = |a: &mut crm_db::sql::Sql| {
                    if float {
                        a.bind(v);
                    } else {
                        a.bind(v as i64);
                    }
                };
                after.push(&format!("({column} IS NULL OR {column}")).push(cmp);
                bind(&mut after);
                after.push(&format!(" OR ({column} = "));
                bind(&mut after);
                after.push(" AND customer_id > ").bind(crm_db::sql::Bind::Uuid(id)).push("))");
            }
            None => {
                after
                    .push(&format!("({column} IS NULL AND customer_id > "))
                    .bind(crm_db::sql::Bind::Uuid(id))
                    .push(")");
            }
        }
        query = query.filter(after);
    }
    let direction = if desc { "DESC" } else { "ASC" };
    query = query.order(sql::<BigInt>(&format!(
        "CASE WHEN {column} IS NULL THEN 1 ELSE 0 END, {column} {direction}, customer_id"
    )));
    let mut rows: Vec<(DbUuid, String, Option<f64>)> = query.limit(i64::from(limit) + 1).load(conn)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| rows.last()).flatten().map(|(id, _, v)| {
        Cursor { s: signature.clone(), v: vec![v.map(serde_json::Value::from).unwrap_or_default()], id: id.0 }.encode()
    });
    let data =
        rows.into_iter().filter_map(|(_, a, _)| serde_json::from_str(&a).ok()).map(|a| concealed(a, actor)).collect();
    Ok(CustomerAnalysisPage { data, next_cursor, as_of: run.as_of.and_utc() })
}

/// One currency's part of a segment.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct SegmentValue {
    pub currency: String,
    pub customers: i64,
    /// Their lifetime revenue.
    pub revenue: Money,
    /// Their margin, over the customers who have one (absent without `products:cost`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<Money>,
    /// Their predicted lifetime value, over the customers who have one.
    pub predicted_clv: Option<Money>,
}

/// One group of the base.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct GroupSummary {
    /// The segment, tier, industry, … (null: the customers without one).
    pub group: Option<String>,
    pub customers: i64,
    /// Its share of the base's customers, 0 to 1.
    pub share: f64,
    pub drifting: i64,
    /// Per main currency, by code.
    pub value: Vec<SegmentValue>,
}

/// The base by a dimension.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Segmentation {
    pub as_of: chrono::DateTime<chrono::Utc>,
    pub by: Dimension,
    pub customers: i64,
    /// Customers with more than one purchase day, over all customers (0 to 1).
    pub repeat_rate: f64,
    /// By segment: in the order of the segments' table (champions first); otherwise the
    /// largest groups first. Empty groups are left out.
    pub groups: Vec<GroupSummary>,
}

type GroupRow = (Option<String>, String, i64, i64, i64, Option<i64>, Option<i64>, i64, i64, i64);

/// Counts and value per group of a dimension (and currency), in one grouped statement.
macro_rules! grouped {
    ($conn:expr, $run:expr, $seen:expr, $column:expr) => {
        customer_analytics::table
            .filter(customer_analytics::run_id.eq(DbUuid($run)))
            .filter($seen)
            .group_by(($column, customer_analytics::currency))
            .select((
                $column.nullable(),
                customer_analytics::currency,
                sql::<BigInt>("CAST(COUNT(*) AS BIGINT)"),
                sql::<BigInt>("CAST(SUM(CASE WHEN drifting THEN 1 ELSE 0 END) AS BIGINT)"),
                sql::<BigInt>("CAST(SUM(revenue_minor) AS BIGINT)"),
                sql::<diesel::sql_types::Nullable<BigInt>>("CAST(SUM(margin_minor) AS BIGINT)"),
                sql::<diesel::sql_types::Nullable<BigInt>>("CAST(SUM(predicted_clv_minor) AS BIGINT)"),
                sql::<BigInt>("CAST(COUNT(margin_minor) AS BIGINT)"),
                sql::<BigInt>("CAST(COUNT(predicted_clv_minor) AS BIGINT)"),
                sql::<BigInt>("CAST(SUM(CASE WHEN repeat_customer THEN 1 ELSE 0 END) AS BIGINT)"),
            ))
            .load::<GroupRow>($conn)
    };
}

/// Counts and value of each group of a dimension in the latest refresh.
pub fn segments(conn: &mut AnyConnection, actor: &Actor, by: Option<Dimension>) -> Result<Segmentation, RecordError> {
    actor.require(Scope::AnalyticsRead)?;
    let by = by.unwrap_or(Dimension::Segment);
    let run = latest_run(conn)?.ok_or_else(not_analysed)?;
    let seen = seen_customers(conn, actor)?;
    let rows: Vec<GroupRow> = match by {
        Dimension::Segment => grouped!(conn, run.id, seen, customer_analytics::segment)?,
        Dimension::Tier => grouped!(conn, run.id, seen, customer_analytics::tier)?,
        Dimension::Industry => grouped!(conn, run.id, seen, customer_analytics::industry)?,
        Dimension::Country => grouped!(conn, run.id, seen, customer_analytics::country)?,
        Dimension::Region => grouped!(conn, run.id, seen, customer_analytics::region)?,
        Dimension::LifecycleStage => grouped!(conn, run.id, seen, customer_analytics::lifecycle_stage)?,
    };
    let total: i64 = rows.iter().map(|r| r.2).sum();
    let repeat: i64 = rows.iter().map(|r| r.9).sum();
    let mut keys: Vec<Option<String>> = rows.iter().map(|r| r.0.clone()).collect();
    keys.sort();
    keys.dedup();
    let mut groups: Vec<GroupSummary> = keys
        .into_iter()
        .map(|key| {
            let mine: Vec<&GroupRow> = rows.iter().filter(|r| r.0 == key).collect();
            let customers: i64 = mine.iter().map(|r| r.2).sum();
            let mut value: Vec<SegmentValue> = mine
                .iter()
                .map(|r| SegmentValue {
                    currency: r.1.clone(),
                    customers: r.2,
                    revenue: Money::new(r.4, &r.1),
                    margin: r.5.filter(|_| r.7 > 0 && sees_margins(actor)).map(|m| Money::new(m, &r.1)),
                    predicted_clv: r.6.filter(|_| r.8 > 0).map(|m| Money::new(m, &r.1)),
                })
                .collect();
            value.sort_by(|a, b| a.currency.cmp(&b.currency));
            GroupSummary {
                group: key,
                customers,
                share: if total > 0 { customers as f64 / total as f64 } else { 0.0 },
                drifting: mine.iter().map(|r| r.3).sum(),
                value,
            }
        })
        .collect();
    match by {
        Dimension::Segment => groups.sort_by_key(|g| {
            g.group.as_deref().and_then(|s| RfmSegment::ALL.iter().position(|x| x.as_str() == s)).unwrap_or(usize::MAX)
        }),
        _ => groups.sort_by(|a, b| b.customers.cmp(&a.customers).then(a.group.cmp(&b.group))),
    }
    Ok(Segmentation {
        as_of: run.as_of.and_utc(),
        by,
        customers: total,
        repeat_rate: if total > 0 { repeat as f64 / total as f64 } else { 0.0 },
        groups,
    })
}

/// Monthly revenue, margin, orders and buying customers per group of a dimension.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CustomerTrends {
    pub as_of: chrono::DateTime<chrono::Utc>,
    pub by: Dimension,
    /// The 12 months, oldest first.
    pub months: Vec<String>,
    pub groups: Vec<CustomerTrendGroup>,
}

/// The trends the latest refresh summed, over the whole base: `403 WHOLE_BASE_ONLY` for a
/// caller who does not see every account and contact (segments, which are summed on
/// demand, count only the customers the caller sees).
pub fn trends(conn: &mut AnyConnection, actor: &Actor, by: Option<Dimension>) -> Result<CustomerTrends, RecordError> {
    actor.require(Scope::AnalyticsRead)?;
    let by = by.unwrap_or(Dimension::Segment);
    if !sees_whole_base(conn, actor)? {
        return Err(RecordError::Foreign {
            class: crm_core::ErrorClass::Forbidden,
            code: "WHOLE_BASE_ONLY",
            message: "the trends are stored for the whole customer base: they are for callers who see every account and contact".into(),
            fields: Vec::new(),
            extra: None,
        });
    }
    let run = latest_run(conn)?.ok_or_else(not_analysed)?;
    let stored: Option<String> = analytics_runs::table
        .filter(analytics_runs::id.eq(DbUuid(run.id)))
        .select(analytics_runs::trends)
        .first(conn)
        .optional()?;
    let mut stored: crate::trends::Stored = stored.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
    let mut groups = stored.dimensions.remove(by.as_str()).unwrap_or_default();
    if !sees_margins(actor) {
        for p in groups.iter_mut().flat_map(|g| g.points.iter_mut()) {
            p.margin = None;
        }
    }
    Ok(CustomerTrends { as_of: run.as_of.and_utc(), by, months: stored.months, groups })
}

/// The edges of the RFM scores in one refresh.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct RfmEdges {
    /// The most days since the last purchase that still score 2, 3, 4 and 5 (null: no
    /// customer scores it).
    pub recency_days: Vec<Option<i64>>,
    /// The fewest purchases in the window that score 2, 3, 4 and 5.
    pub frequency: Vec<Option<i64>>,
    /// Per main currency, the least revenue in the window that scores 2, 3, 4 and 5.
    pub monetary: Vec<MonetaryEdges>,
}

/// The edges of the monetary score among the customers of one main currency.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct MonetaryEdges {
    pub currency: String,
    pub minimum_minor: Vec<Option<i64>>,
}

/// The latest refresh's model: when, with which settings, the fits and the RFM edges.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct AnalyticsModel {
    pub run_id: uuid::Uuid,
    pub as_of: chrono::DateTime<chrono::Utc>,
    pub computed_at: chrono::DateTime<chrono::Utc>,
    /// How long the refresh took.
    pub seconds: f64,
    pub customers: i64,
    pub settings: AnalyticsSettings,
    /// BG/NBD over every customer (absent when it could not be fitted: `bgnbd_error`).
    pub bgnbd: Option<BgNbdFit>,
    pub bgnbd_error: Option<String>,
    /// Gamma-Gamma per main currency.
    pub gamma_gamma: Vec<GammaGammaFit>,
    pub rfm: RfmEdges,
}

/// The model of the latest refresh.
pub fn model(conn: &mut AnyConnection, actor: &Actor) -> Result<AnalyticsModel, RecordError> {
    actor.require(Scope::AnalyticsRead)?;
    let run = latest_run(conn)?.ok_or_else(not_analysed)?;
    let base: BaseModel = serde_json::from_str(&run.model).unwrap_or_default();
    let fits: Fits = serde_json::from_str(&run.fits).unwrap_or_default();
    let whole = |t: &Option<f64>| t.map(|v| v.round() as i64);
    Ok(AnalyticsModel {
        run_id: run.id,
        as_of: run.as_of.and_utc(),
        computed_at: run.computed_at.and_utc(),
        seconds: run.seconds,
        customers: run.customers,
        settings: serde_json::from_str(&run.settings).unwrap_or_default(),
        bgnbd: fits.bgnbd,
        bgnbd_error: fits.bgnbd_error,
        gamma_gamma: fits.gamma_gamma,
        rfm: RfmEdges {
            recency_days: base.recency.thresholds.iter().map(|t| whole(t).map(|v| -v)).collect(),
            frequency: base.frequency.thresholds.iter().map(whole).collect(),
            monetary: base
                .monetary
                .iter()
                .map(|(c, b)| MonetaryEdges {
                    currency: c.clone(),
                    minimum_minor: b.thresholds.iter().map(whole).collect(),
                })
                .collect(),
        },
    })
}
