//! The domain's rules for accounts (`impl Record`); the row and the catalog are derived on the
//! model (`#[derive(Stored)]`).

use crm_core::ids::AccountId;
use crm_core::{Actor, Scope, Timestamp};
use crm_db::AnyConnection;
use crm_records::custom::{CustomResource, validated};
use crm_records::{Record, RecordError};

use crate::model::{Account, AccountInput, AccountPatch};

crm_records::impl_located!(Account, AccountInput);

impl Record for Account {
    type Input = AccountInput;
    type Patch = AccountPatch;

    const READ: Scope = Scope::AccountsRead;
    const WRITE: Scope = Scope::AccountsWrite;

    fn owner(&self) -> Option<uuid::Uuid> {
        self.owner_id.map(|u| u.0)
    }

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: AccountId,
        input: AccountInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let mut input = input;
        let custom = input.custom_fields.take();
        let (mut i, custom) = validated(
            conn,
            CustomResource::Accounts,
            input.normalize_over(prev),
            custom,
            prev.map(|p| &p.custom_fields),
        )?;
        i.custom_fields = Some(custom);
        crm_records::location::relocate(conn, Self::ENTITY, &mut i, prev)?;
        if prev.is_none_or(|p| p.owner_id != i.owner_id) {
            crm_records::check_ref(conn, Self::ENTITY, "owner_id", i.owner_id)?;
        }
        Ok(Account::from_input(id, i, prev))
    }

    /// The domain: one live account per company.
    fn unique(&self) -> Vec<(&'static str, &str)> {
        self.domain.as_deref().map(|d| ("domain", d)).into_iter().collect()
    }

    const UNIQUE_FIELDS: &'static [&'static str] = &["domain"];

    fn unique_key(_field: &str, raw: &str) -> Option<String> {
        crm_core::values::parse_domain("domain", raw).ok()
    }
}
