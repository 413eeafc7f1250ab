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
) -> ListParams {
    ListParams {
        limit: Some(u32::try_from(first).unwrap_or(0)),
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
    }
}
