//! The duplicate scan: every live contact and account compared within its blocks, the pairs
//! that score enough kept (replacing the previous scan's), readable best first.

use std::collections::HashMap;
use std::time::Instant;

use crm_core::{Actor, Scope};
use crm_db::AnyConnection;
use crm_db::schema::duplicate_candidates as dc;
use crm_db::types::DbUuid;
use crm_records::RecordError;
use crm_records::jobs::Job;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::matching::{self, DuplicateResource, RuleMatch, Seen, match_orgs, match_people};
use crate::settings::DuplicateSettings;

/// The job kind in `jobs`.
pub const KIND: &str = "duplicate_scan";
/// Records read per page.
const PAGE: i64 = 5000;
/// A block larger than this is not compared pair by pair (a shared placeholder such as
/// `info@` or a reception number): it is counted in `blocks_skipped`.
pub const BLOCK_MAX: usize = 200;
/// The most pairs a scan keeps (the best), whatever the base holds.
pub const MAX_PAIRS: usize = 100_000;

/// What to scan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "DuplicateScanInput"))]
pub struct ScanInput {
    /// Default both.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub resources: Vec<DuplicateResource>,
}

impl ScanInput {
    fn resources(&self) -> Vec<DuplicateResource> {
        DuplicateResource::ALL
            .iter()
            .copied()
            .filter(|r| self.resources.is_empty() || self.resources.contains(r))
            .collect()
    }
}

/// What a scan of one resource found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScanCounts {
    pub records: i64,
    /// Pairs scoring at least `min_score`.
    pub pairs: i64,
    /// Of those, the pairs kept (the best 100,000).
    pub kept: i64,
    pub blocks_skipped: i64,
    pub seconds: f64,
}

/// What a scan found, by resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScanOutcome {
    pub contacts: Option<ScanCounts>,
    pub accounts: Option<ScanCounts>,
}

/// Queues a scan (it writes the candidate list: the write scopes of what it scans).
pub fn start(conn: &mut AnyConnection, actor: &Actor, input: &ScanInput) -> Result<Job, RecordError> {
    for r in input.resources() {
        actor.require(match r {
            DuplicateResource::Contacts => Scope::ContactsWrite,
            DuplicateResource::Accounts => Scope::AccountsWrite,
        })?;
    }
    crm_records::jobs::enqueue(conn, actor, KIND, &serde_json::to_value(input).unwrap_or_default())
}

/// A pair found, to store.
struct Found {
    a: Uuid,
    b: Uuid,
    score: f64,
    rules: Vec<RuleMatch>,
    a_name: String,
    b_name: String,
}

/// A pair found by its positions in the scanned list: (i, j, score, rules).
type Hit = (usize, usize, f64, Vec<RuleMatch>);

/// Compares the pairs within each block (a pair in two blocks is compared twice and kept
/// once: memory holds the pairs found, not those compared): the pairs found, best first, at
/// most `MAX_PAIRS` of them, how many there were in all, and the blocks skipped.
fn compare<T>(
    items: &[T],
    blocks: HashMap<String, Vec<usize>>,
    score: impl Fn(&T, &T) -> Option<(f64, Vec<RuleMatch>)>,
) -> (Vec<Hit>, i64, i64) {
    let mut found = Vec::new();
    let mut seen = Seen::new();
    let mut skipped = 0;
    for members in blocks.into_values() {
        if members.len() < 2 {
            continue;
        }
        if members.len() > BLOCK_MAX {
            skipped += 1;
            continue;
        }
        for (k, &i) in members.iter().enumerate() {
            for &j in &members[k + 1..] {
                let key = if i < j { (i, j) } else { (j, i) };
                if let Some((s, rules)) = score(&items[key.0], &items[key.1])
                    && seen.insert(key)
                {
                    found.push((key.0, key.1, s, rules));
                }
            }
        }
    }
    let total = found.len() as i64;
    if found.len() > MAX_PAIRS {
        found.sort_unstable_by(|a, b| b.2.total_cmp(&a.2));
        found.truncate(MAX_PAIRS);
    }
    (found, total, skipped)
}

/// What the scan needs of a kind of record.
trait Scanned: Sized {
    fn id(&self) -> Uuid;
    fn display(&self) -> &str;
    /// A page of live records after `after`, in id order.
    fn page(conn: &mut AnyConnection, after: Option<Uuid>, limit: i64) -> QueryResult<Vec<Self>>;
    /// The blocks the record is compared within.
    fn blocks(&self) -> Vec<String>;
    fn score(s: &DuplicateSettings, a: &Self, b: &Self) -> Option<(f64, Vec<RuleMatch>)>;
}

impl Scanned for matching::Person {
    fn id(&self) -> Uuid {
        self.id
    }
    fn display(&self) -> &str {
        &self.display
    }
    fn page(conn: &mut AnyConnection, after: Option<Uuid>, limit: i64) -> QueryResult<Vec<Self>> {
        matching::people(conn, after, None, limit)
    }
    fn blocks(&self) -> Vec<String> {
        let mut out: Vec<String> = self.emails.iter().map(|e| format!("e:{e}")).collect();
        out.extend(self.phones.iter().map(|p| format!("p:{p}")));
        out.extend(self.account_id.map(|a| format!("a:{a}")));
        // The city rule compares names at least 0.9 alike, which in practice begin alike: the
        // block is the place, the family name and the first letter of the full name (a common
        // family name in a large city is otherwise one block of thousands).
        if let (Some(place), false, Some(first)) = (self.place(), self.last.is_empty(), self.name.chars().next()) {
            out.push(format!("c:{place}|{}|{first}", self.last));
        }
        out
    }
    fn score(s: &DuplicateSettings, a: &Self, b: &Self) -> Option<(f64, Vec<RuleMatch>)> {
        match_people(s, a, b)
    }
}

impl Scanned for matching::Org {
    fn id(&self) -> Uuid {
        self.id
    }
    fn display(&self) -> &str {
        &self.display
    }
    fn page(conn: &mut AnyConnection, after: Option<Uuid>, limit: i64) -> QueryResult<Vec<Self>> {
        matching::orgs(conn, after, None, limit)
    }
    fn blocks(&self) -> Vec<String> {
        let mut out: Vec<String> = self.domain.iter().map(|d| format!("d:{d}")).collect();
        // Names are compared within a country and a first letter (Jaro–Winkler weighs the
        // start of a name most, so names that differ there do not reach the threshold).
        if let Some(first) = self.name.chars().next() {
            out.push(format!("n:{}|{first}", self.country.as_deref().unwrap_or_default()));
        }
        out
    }
    fn score(s: &DuplicateSettings, a: &Self, b: &Self) -> Option<(f64, Vec<RuleMatch>)> {
        match_orgs(s, a, b)
    }
}

/// Reads every live record of `T` (reporting how many so far) and compares them within their
/// blocks: the pairs to store and the counts; None when the job stopped being this run's.
fn scan_all<T: Scanned>(
    db: &crm_db::Db,
    s: &DuplicateSettings,
    report: &mut dyn FnMut(i64) -> bool,
) -> Result<Option<(Vec<Found>, ScanCounts)>, RecordError> {
    let started = Instant::now();
    let mut items: Vec<T> = Vec::new();
    let mut after = None;
    loop {
        let page = db.run_sync(|c| T::page(c, after, PAGE).map_err(crm_db::DbError::from))?;
        let full = page.len() as i64 == PAGE;
        after = page.last().map(T::id);
        items.extend(page);
        if !report(items.len() as i64) {
            return Ok(None);
        }
        if !full {
            break;
        }
    }
    let mut blocks: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        for key in item.blocks() {
            blocks.entry(key).or_default().push(i);
        }
    }
    let (hits, pairs, skipped) = compare(&items, blocks, |a, b| T::score(s, a, b));
    let counts = ScanCounts {
        records: items.len() as i64,
        pairs,
        kept: hits.len() as i64,
        blocks_skipped: skipped,
        seconds: (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
    };
    let found = hits
        .into_iter()
        .map(|(i, j, score, rules)| {
            let (x, y) = (&items[i], &items[j]);
            let (a, b) = if x.id() < y.id() { (x, y) } else { (y, x) };
            Found {
                a: a.id(),
                b: b.id(),
                score,
                rules,
                a_name: a.display().to_string(),
                b_name: b.display().to_string(),
            }
        })
        .collect();
    Ok(Some((found, counts)))
}

/// Replaces a resource's candidate pairs.
fn store(conn: &mut AnyConnection, resource: DuplicateResource, found: &[Found]) -> QueryResult<()> {
    diesel::delete(dc::table.filter(dc::resource.eq(resource.as_str()))).execute(conn)?;
    let now = crm_db::now();
    for part in found.chunks(500) {
        let rows: Vec<_> = part
            .iter()
            .map(|f| {
                (
                    dc::resource.eq(resource.as_str()),
                    dc::a_id.eq(DbUuid(f.a)),
                    dc::b_id.eq(DbUuid(f.b)),
                    dc::score.eq(f.score),
                    dc::rules.eq(serde_json::to_string(&f.rules).unwrap_or_default()),
                    dc::a_name.eq(f.a_name.clone()),
                    dc::b_name.eq(f.b_name.clone()),
                    dc::found_at.eq(now),
                )
            })
            .collect();
        crm_db::insert_rows!(conn, dc::table, rows)?;
    }
    Ok(())
}

/// Runs a scan; None when the job stopped being this run's.
pub fn run(
    db: &crm_db::Db,
    input: &ScanInput,
    report: &mut dyn FnMut(i64, i64, i64) -> bool,
) -> Result<Option<ScanOutcome>, RecordError> {
    let s = db.run_sync(|c| crate::settings::load(c).map_err(crm_db::DbError::from))?;
    let mut out = ScanOutcome::default();
    let total = db.run_sync(|c| -> Result<i64, crm_db::DbError> {
        let mut n = 0;
        for r in input.resources() {
            n += match r {
                DuplicateResource::Contacts => crm_db::schema::contacts::table
                    .filter(crm_db::schema::contacts::archived_at.is_null())
                    .count()
                    .get_result::<i64>(c)?,
                DuplicateResource::Accounts => crm_db::schema::accounts::table
                    .filter(crm_db::schema::accounts::archived_at.is_null())
                    .count()
                    .get_result::<i64>(c)?,
            };
        }
        Ok(n)
    })?;
    let mut done = 0;
    for r in input.resources() {
        let mut progress = |n| report(total, done + n, 0);
        let scanned = match r {
            DuplicateResource::Contacts => scan_all::<matching::Person>(db, &s, &mut progress)?,
            DuplicateResource::Accounts => scan_all::<matching::Org>(db, &s, &mut progress)?,
        };
        let Some((found, counts)) = scanned else { return Ok(None) };
        db.transaction_sync(|c| store(c, r, &found).map_err(crm_db::DbError::from))?;
        done += counts.records;
        match r {
            DuplicateResource::Contacts => out.contacts = Some(counts),
            DuplicateResource::Accounts => out.accounts = Some(counts),
        }
    }
    Ok(Some(out))
}

/// A pair the last scan found.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct DuplicatePair {
    pub resource: DuplicateResource,
    /// The two records (the smaller id first).
    pub a_id: Uuid,
    pub b_id: Uuid,
    /// Their names when the scan ran.
    pub a_name: String,
    pub b_name: String,
    pub score: f64,
    pub rules: Vec<RuleMatch>,
    pub found_at: chrono::DateTime<chrono::Utc>,
}

/// A page of pairs, best first.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct DuplicatePairPage {
    pub data: Vec<DuplicatePair>,
    /// How many pairs the last scan found with at least `min_score`.
    pub total: i64,
    /// Pass as `after` for the next page; null on the last.
    pub next_after: Option<String>,
}

/// The last scan's pairs of a resource with at least `min_score`, best first (`limit` 1 to
/// 1000, default 100; `after` from the previous page): those of two records the caller sees.
pub fn pairs(
    conn: &mut AnyConnection,
    actor: &Actor,
    resource: DuplicateResource,
    min_score: Option<f64>,
    limit: Option<u32>,
    after: Option<&str>,
) -> Result<DuplicatePairPage, RecordError> {
    actor.require(resource.read_scope())?;
    let limit = crm_core::list::page_size(limit.unwrap_or(100), 1000)?;
    let min = min_score.unwrap_or(0.0);
    let cursor = match after {
        None | Some("") => None,
        Some(a) => Some(parse_after(a).ok_or_else(|| {
            RecordError::invalid("duplicates", "after", "invalid_cursor", "`after` is a `next_after` value")
        })?),
    };
    // Only pairs of two records the caller sees.
    let backend = conn.backend();
    let seen = crm_records::visibility::of_entity(conn, actor, resource.entity())?;
    let owned = crm_records::visibility::owned_entity(resource.entity())
        .ok_or(RecordError::NotFound { entity: resource.entity() })?;
    let mut both = seen.sql_ref(owned, "a_id", backend);
    crm_db::sql::Sql::and(&mut both, seen.sql_ref(owned, "b_id", backend));
    let base = dc::table.filter(dc::resource.eq(resource.as_str())).filter(dc::score.ge(min)).filter(both);
    let total: i64 = base.clone().count().get_result(conn)?;
    let mut q = base
        .select((dc::a_id, dc::b_id, dc::a_name, dc::b_name, dc::score, dc::rules, dc::found_at))
        .order((dc::score.desc(), dc::a_id, dc::b_id))
        .limit(i64::from(limit) + 1)
        .into_boxed();
    if let Some((score, a, b)) = cursor {
        q = q.filter(dc::score.lt(score).or(
            dc::score.eq(score).and(dc::a_id.gt(DbUuid(a)).or(dc::a_id.eq(DbUuid(a)).and(dc::b_id.gt(DbUuid(b))))),
        ));
    }
    type Row = (DbUuid, DbUuid, String, String, f64, String, chrono::NaiveDateTime);
    let mut rows: Vec<Row> = q.load(conn)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_after = more.then(|| rows.last().map(|r| format!("{}_{}_{}", r.4, r.0.0, r.1.0))).flatten();
    let data = rows
        .into_iter()
        .map(|(a, b, an, bn, score, rules, at)| DuplicatePair {
            resource,
            a_id: a.0,
            b_id: b.0,
            a_name: an,
            b_name: bn,
            score,
            rules: serde_json::from_str(&rules).unwrap_or_default(),
            found_at: at.and_utc(),
        })
        .collect();
    Ok(DuplicatePairPage { data, total, next_after })
}

fn parse_after(s: &str) -> Option<(f64, Uuid, Uuid)> {
    let mut it = s.split('_');
    let score = it.next()?.parse().ok()?;
    let a = it.next()?.parse().ok()?;
    let b = it.next()?.parse().ok()?;
    Some((score, a, b))
}
