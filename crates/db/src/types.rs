//! SQL types that are not in the MultiConnection's common set: UUID and JSON.
//! PostgreSQL stores native `uuid` and `jsonb`; SQLite stores TEXT.

use diesel::deserialize::FromSqlRow;
use diesel::deserialize::{self, FromSql};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{HasSqlType, SqlType};
use diesel::sqlite::Sqlite;

use crate::conn::MultiBackend;

/// UUID: `uuid` on PostgreSQL, TEXT on SQLite.
#[derive(Clone, Copy, Debug, Default, SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Text"))]
pub struct Uid;

/// JSON: `jsonb` on PostgreSQL, TEXT on SQLite.
#[derive(Clone, Copy, Debug, Default, SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 3802, array_oid = 3807))]
#[diesel(sqlite_type(name = "Text"))]
pub struct Json;

/// A UUID as stored (native on PostgreSQL, text on SQLite).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = Uid)]
pub struct DbUuid(pub uuid::Uuid);

/// A JSON document as stored (jsonb on PostgreSQL, text on SQLite).
#[derive(Clone, Debug, PartialEq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Json)]
pub struct DbJson(pub serde_json::Value);

impl From<uuid::Uuid> for DbUuid {
    fn from(u: uuid::Uuid) -> Self {
        DbUuid(u)
    }
}

impl HasSqlType<Uid> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<Uid>(lookup)
    }
}

impl HasSqlType<Json> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<Json>(lookup)
    }
}

impl ToSql<Uid, MultiBackend> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Uid, self));
        Ok(IsNull::No)
    }
}

impl FromSql<Uid, MultiBackend> for DbUuid {
    fn from_sql(bytes: <MultiBackend as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<DbUuid, Uid>()
    }
}

impl ToSql<Uid, Pg> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <uuid::Uuid as ToSql<diesel::sql_types::Uuid, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<Uid, Pg> for DbUuid {
    fn from_sql(bytes: <Pg as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <uuid::Uuid as FromSql<diesel::sql_types::Uuid, Pg>>::from_sql(bytes).map(DbUuid)
    }
}

impl ToSql<Uid, Sqlite> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<Uid, Sqlite> for DbUuid {
    fn from_sql(bytes: <Sqlite as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let s = <String as FromSql<diesel::sql_types::Text, Sqlite>>::from_sql(bytes)?;
        Ok(DbUuid(uuid::Uuid::parse_str(&s)?))
    }
}

impl ToSql<Json, MultiBackend> for DbJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Json, self));
        Ok(IsNull::No)
    }
}

impl FromSql<Json, MultiBackend> for DbJson {
    fn from_sql(bytes: <MultiBackend as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<DbJson, Json>()
    }
}

impl ToSql<Json, Pg> for DbJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <serde_json::Value as ToSql<diesel::sql_types::Jsonb, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<Json, Pg> for DbJson {
    fn from_sql(bytes: <Pg as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <serde_json::Value as FromSql<diesel::sql_types::Jsonb, Pg>>::from_sql(bytes).map(DbJson)
    }
}

impl ToSql<Json, Sqlite> for DbJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<Json, Sqlite> for DbJson {
    fn from_sql(bytes: <Sqlite as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let s = <String as FromSql<diesel::sql_types::Text, Sqlite>>::from_sql(bytes)?;
        Ok(DbJson(serde_json::from_str(&s)?))
    }
}

/// A JSON document as its text, unparsed: for documents only passed on (the change feed's
/// reads, events waiting for their transaction to commit), at a fraction of a parsed
/// `Value`'s memory.
#[derive(Clone, Debug, AsExpression, FromSqlRow)]
#[diesel(sql_type = Json)]
pub struct DbRawJson(pub Box<serde_json::value::RawValue>);

impl ToSql<Json, MultiBackend> for DbRawJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Json, self));
        Ok(IsNull::No)
    }
}

impl ToSql<Json, Pg> for DbRawJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        use std::io::Write;
        // jsonb's binary form: a version byte (1), then the document as text.
        out.write_all(&[1])?;
        out.write_all(self.0.get().as_bytes())?;
        Ok(IsNull::No)
    }
}

impl ToSql<Json, Sqlite> for DbRawJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.get());
        Ok(IsNull::No)
    }
}

impl FromSql<Json, MultiBackend> for DbRawJson {
    fn from_sql(bytes: <MultiBackend as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<DbRawJson, Json>()
    }
}

impl FromSql<Json, Pg> for DbRawJson {
    fn from_sql(bytes: <Pg as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        // jsonb's binary form: a version byte (1), then the document as text.
        let raw = bytes.as_bytes();
        match raw.split_first() {
            Some((1, text)) => {
                Ok(DbRawJson(serde_json::value::RawValue::from_string(String::from_utf8(text.to_vec())?)?))
            }
            _ => Err("unsupported jsonb encoding version".into()),
        }
    }
}

impl FromSql<Json, Sqlite> for DbRawJson {
    fn from_sql(bytes: <Sqlite as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let s = <String as FromSql<diesel::sql_types::Text, Sqlite>>::from_sql(bytes)?;
        Ok(DbRawJson(serde_json::value::RawValue::from_string(s)?))
    }
}
