//! Reference checks: a record may point at a record of any other resource, named by its typed
//! id, whose type knows the table that holds it (`crm_core::ids::EntityId`), so no domain
//! reads another's tables to check a reference.

use crm_core::ids::EntityId;
use crm_db::AnyConnection;

use crate::RecordError;

/// Fails unless `id`, when given, names an existing record (archived ones count: history may
/// point at them), naming the input `field` of `entity`.
pub fn check_ref<I: EntityId>(
    conn: &mut AnyConnection,
    entity: &'static str,
    field: &str,
    id: Option<I>,
) -> Result<(), RecordError> {
    if let Some(id) = id
        && !crm_db::sql::id_exists(conn, I::TABLE, id.uuid())?
    {
        return Err(RecordError::missing_reference(entity, field, I::ENTITY, id));
    }
    Ok(())
}
