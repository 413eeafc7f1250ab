//! List arguments and page shapes shared by every GraphQL list: `first`/`after` keyset pages,
//! archive selection. Typed filters and sort orders are in `filters`.

use async_graphql::{Enum, SimpleObject};
use crm_core::filter::Filter;
use crm_core::list::{Archived, ListParams, Page};

/// Where a page ends and whether more follow.
#[derive(SimpleObject, Default)]
pub struct PageInfo {
    /// True when another page follows.
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

#[allow(clippy::too_many_arguments)]
pub fn list_params(
    first: i32,
    after: Option<String>,
    filter: Option<String>,
    where_: Option<Filter>,
    sort: Option<String>,
    search: Option<String>,
    archived: ArchivedFilter,
    count: bool,
) -> async_graphql::Result<ListParams> {
    let max = crm_core::list::MAX_LIMIT;
    let limit = u32::try_from(first).ok().filter(|l| (1..=max).contains(l)).ok_or_else(|| {
        let detail = format!("first must be between 1 and {max}");
        crate::graphql::gql_error(
            crate::problem::ApiError::bad_request("INVALID_PARAMETER", detail.clone()).with_field(
                "first",
                "out_of_range",
                detail,
            ),
        )
    })?;
    Ok(ListParams {
        limit: Some(limit),
        cursor: after,
        sort,
        filter,
        filter_ast: where_,
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

/// The GraphQL argument a list's REST parameter is (errors name what the client wrote).
fn graphql_argument(rest: &str) -> Option<&'static str> {
    Some(match rest {
        "limit" => "first",
        "cursor" => "after",
        "q" => "search",
        "sort" => "orderBy",
        _ => return None,
    })
}

/// A list's error as GraphQL reports it: like `gql`, with the fields the list's REST
/// parameters named (`limit`, `cursor`, `q`, `sort`) named as the GraphQL arguments.
pub fn gql_list<E: crm_core::DomainError>(e: E) -> async_graphql::Error {
    let mut api = crate::problem::ApiError::from(e);
    for f in &mut api.errors {
        if let Some(arg) = graphql_argument(&f.field) {
            f.field = arg.to_string();
        }
    }
    crate::graphql::gql_error(api)
}
