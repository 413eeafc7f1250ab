//! List arguments and page shapes shared by every GraphQL list: `first`/`after` keyset pages,
//! the filter language as input objects, archive selection.

use async_graphql::{Enum, InputObject, SimpleObject};
use crm_core::filter::{Filter, Op, RawValue};
use crm_core::list::{Archived, ListParams, Page};

use super::gql_error;
use crate::problem::ApiError;

#[derive(SimpleObject, Default)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// Pass as `after` to get the next page.
    pub end_cursor: Option<String>,
}

pub fn page_info<T>(p: &Page<T>) -> PageInfo {
    PageInfo { has_next_page: p.next_cursor.is_some(), end_cursor: p.next_cursor.clone() }
}

/// Which records a list shows with respect to archiving.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArchivedFilter {
    /// Live records only.
    #[default]
    Exclude,
    /// Live and archived.
    Include,
    /// Archived only.
    Only,
}

/// Comparison operators of the filter language.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    Nin,
    Contains,
    StartsWith,
    IsNull,
}

/// The filter language as input objects. Set exactly one of `and`, `or`, `not` or `field`.
/// `field` takes dotted paths (`account.tier`); `in`/`nin` take `values`, others `value`.
#[derive(InputObject, Default)]
pub struct FilterInput {
    pub and: Option<Vec<FilterInput>>,
    pub or: Option<Vec<FilterInput>>,
    pub not: Option<Box<FilterInput>>,
    pub field: Option<String>,
    pub op: Option<FilterOp>,
    pub value: Option<String>,
    pub values: Option<Vec<String>>,
}

impl FilterInput {
    /// Converts to the shared AST (so REST and GraphQL check filters the same way).
    pub fn to_filter(&self, depth: usize) -> Result<Filter, ApiError> {
        let bad = |m: &str| {
            ApiError::bad_request("INVALID_FILTER", m.to_string()).with_field("where", "syntax", m.to_string())
        };
        if depth > crm_core::filter::MAX_DEPTH {
            return Err(bad("the filter nests too deeply"));
        }
        let set = [self.and.is_some(), self.or.is_some(), self.not.is_some(), self.field.is_some()];
        if set.iter().filter(|x| **x).count() != 1 {
            return Err(bad("set exactly one of and, or, not, field"));
        }
        if let Some(v) = &self.and {
            return Ok(Filter::And(v.iter().map(|f| f.to_filter(depth + 1)).collect::<Result<_, _>>()?));
        }
        if let Some(v) = &self.or {
            return Ok(Filter::Or(v.iter().map(|f| f.to_filter(depth + 1)).collect::<Result<_, _>>()?));
        }
        if let Some(n) = &self.not {
            return Ok(Filter::Not(Box::new(n.to_filter(depth + 1)?)));
        }
        let field = self.field.clone().unwrap_or_default();
        let op = self.op.ok_or_else(|| bad("a condition needs `op`"))?;
        let op = match op {
            FilterOp::Eq => Op::Eq,
            FilterOp::Neq => Op::Neq,
            FilterOp::Lt => Op::Lt,
            FilterOp::Lte => Op::Lte,
            FilterOp::Gt => Op::Gt,
            FilterOp::Gte => Op::Gte,
            FilterOp::In => Op::In,
            FilterOp::Nin => Op::Nin,
            FilterOp::Contains => Op::Contains,
            FilterOp::StartsWith => Op::StartsWith,
            FilterOp::IsNull => Op::IsNull,
        };
        let value = match (&self.value, &self.values) {
            (Some(v), None) => RawValue::One(v.clone()),
            (None, Some(v)) => RawValue::List(v.clone()),
            _ => return Err(bad("a condition needs exactly one of `value` or `values`")),
        };
        let path: Vec<String> = field.split('.').map(str::to_string).collect();
        if path.iter().any(String::is_empty) {
            return Err(bad("`field` is a dotted path such as `account.tier`"));
        }
        Ok(Filter::Cond { path, op, value })
    }
}

#[allow(clippy::too_many_arguments)]
pub fn list_params(
    first: i32,
    after: Option<String>,
    filter: Option<String>,
    where_: Option<FilterInput>,
    order_by: Option<Vec<String>>,
    search: Option<String>,
    archived: ArchivedFilter,
    count: bool,
) -> async_graphql::Result<ListParams> {
    let filter_ast = match where_ {
        Some(w) => Some(w.to_filter(0).map_err(gql_error)?),
        None => None,
    };
    Ok(ListParams {
        limit: Some(u32::try_from(first).unwrap_or(0)),
        cursor: after,
        sort: order_by.map(|v| v.join(",")),
        filter,
        filter_ast,
        q: search,
        archived: match archived {
            ArchivedFilter::Exclude => Archived::Exclude,
            ArchivedFilter::Include => Archived::Include,
            ArchivedFilter::Only => Archived::Only,
        },
        count,
        skip_external_ids: false,
    })
}
