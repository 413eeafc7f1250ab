//! What the analyses need to know of each customer record: its owner and name (for alerts),
//! and the dimensions the base is segmented by (industry, country, region, lifecycle stage).

use std::collections::HashMap;

use crm_db::AnyConnection;
use crm_db::schema::{accounts, contacts};
use crm_db::types::DbUuid;
use diesel::dsl::count_star;
use diesel::prelude::*;

/// One customer record's owner, name and dimensions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    pub owner: Option<uuid::Uuid>,
    pub name: String,
    /// The account's (a contact's: its account's).
    pub industry: Option<String>,
    pub country: Option<String>,
    pub region: Option<String>,
    /// A contact's; an account's: the stage most of its live contacts are in (the later
    /// stage on a tie).
    pub lifecycle_stage: Option<String>,
}

/// The profiles of every account and contact, by id.
#[derive(Default)]
pub struct Profiles {
    by_id: HashMap<uuid::Uuid, Profile>,
}

impl Profiles {
    pub fn load(conn: &mut AnyConnection) -> QueryResult<Profiles> {
        let mut by_id: HashMap<uuid::Uuid, Profile> = HashMap::new();
        type AccountRow = (DbUuid, Option<DbUuid>, String, Option<String>, Option<String>, Option<String>);
        let rows: Vec<AccountRow> = accounts::table
            .select((
                accounts::id,
                accounts::owner_id,
                accounts::name,
                accounts::industry,
                accounts::country,
                accounts::region,
            ))
            .load(conn)?;
        for (id, owner, name, industry, country, region) in rows {
            let p = Profile { owner: owner.map(|o| o.0), name, industry, country, region, lifecycle_stage: None };
            by_id.insert(id.0, p);
        }
        // Each account's most common contact stage.
        let stages: Vec<(Option<DbUuid>, String, i64)> = contacts::table
            .filter(contacts::archived_at.is_null())
            .filter(contacts::account_id.is_not_null())
            .group_by((contacts::account_id, contacts::lifecycle_stage))
            .select((contacts::account_id, contacts::lifecycle_stage, count_star()))
            .load(conn)?;
        let order = |s: &str| crm_contacts::LifecycleStage::NAMES.iter().position(|n| *n == s).unwrap_or(0);
        let mut best: HashMap<uuid::Uuid, (i64, usize, String)> = HashMap::new();
        for (account, stage, n) in stages {
            let Some(account) = account else { continue };
            let key = (n, order(&stage), stage);
            let e = best.entry(account.0).or_insert_with(|| key.clone());
            if (key.0, key.1) > (e.0, e.1) {
                *e = key;
            }
        }
        for (account, (_, _, stage)) in best {
            if let Some(p) = by_id.get_mut(&account) {
                p.lifecycle_stage = Some(stage);
            }
        }
        type ContactRow = (
            DbUuid,
            Option<DbUuid>,
            Option<String>,
            Option<String>,
            Option<DbUuid>,
            Option<String>,
            Option<String>,
            String,
        );
        let rows: Vec<ContactRow> = contacts::table
            .select((
                contacts::id,
                contacts::owner_id,
                contacts::first_name,
                contacts::last_name,
                contacts::account_id,
                contacts::country,
                contacts::region,
                contacts::lifecycle_stage,
            ))
            .load(conn)?;
        for (id, owner, first, last, account, country, region, stage) in rows {
            let name = [first, last].into_iter().flatten().collect::<Vec<_>>().join(" ");
            let industry = account.and_then(|a| by_id.get(&a.0)).and_then(|p| p.industry.clone());
            let p =
                Profile { owner: owner.map(|o| o.0), name, industry, country, region, lifecycle_stage: Some(stage) };
            by_id.insert(id.0, p);
        }
        Ok(Profiles { by_id })
    }

    /// The profile of an account or contact (an empty one for an unknown id).
    pub fn of(&self, id: &uuid::Uuid) -> Profile {
        self.by_id.get(id).cloned().unwrap_or_default()
    }
}
