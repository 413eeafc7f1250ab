// Hand-maintained: `diesel print-schema` cannot describe one schema for two backends
// (PostgreSQL reports uuid/jsonb, SQLite TEXT). Keep in step with migrations/{postgres,sqlite}.

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    accounts (id) {
        id -> Uid,
        name -> Text,
        domain -> Nullable<Text>,
        industry -> Nullable<Text>,
        tier -> Nullable<Text>,
        owner_id -> Nullable<Uid>,
        phone -> Nullable<Text>,
        website -> Nullable<Text>,
        street -> Nullable<Text>,
        city -> Nullable<Text>,
        region -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        country -> Nullable<Text>,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        annual_revenue_minor -> Nullable<BigInt>,
        annual_revenue_currency -> Nullable<Text>,
        employee_count -> Nullable<BigInt>,
        tags -> Json,
        custom_fields -> Json,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    contacts (id) {
        id -> Uid,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        email -> Nullable<Text>,
        emails -> Json,
        phone -> Nullable<Text>,
        phones -> Json,
        title -> Nullable<Text>,
        department -> Nullable<Text>,
        account_id -> Nullable<Uid>,
        owner_id -> Nullable<Uid>,
        lifecycle_stage -> Text,
        email_consent -> Text,
        email_consent_at -> Nullable<Timestamp>,
        do_not_call -> Bool,
        street -> Nullable<Text>,
        city -> Nullable<Text>,
        region -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        country -> Nullable<Text>,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        tags -> Json,
        custom_fields -> Json,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(contacts -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(accounts, contacts);

diesel::table! {
    event_seq (id) {
        id -> Integer,
        last -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    events (seq) {
        seq -> BigInt,
        id -> Uid,
        #[sql_name = "type"]
        kind -> Text,
        entity -> Text,
        entity_id -> Uid,
        occurred_at -> Timestamp,
        actor -> Text,
        request_id -> Nullable<Text>,
        changed_fields -> Json,
        before_state -> Nullable<Json>,
        after_state -> Nullable<Json>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    external_ids (entity, source, external_id) {
        entity -> Text,
        source -> Text,
        external_id -> Text,
        entity_id -> Uid,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Json;

    idempotency_keys (subject, idem_key) {
        subject -> Text,
        idem_key -> Text,
        request_hash -> Text,
        status -> Nullable<Integer>,
        response_headers -> Nullable<Json>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}
