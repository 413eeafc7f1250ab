// Hand-maintained: `diesel print-schema` cannot describe one schema for two backends
// (PostgreSQL reports uuid/jsonb, SQLite TEXT). Keep in step with migrations/{postgres,sqlite}.

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    email_templates (id) {
        id -> Uid,
        name -> Text,
        description -> Nullable<Text>,
        subject -> Text,
        html -> Text,
        text_body -> Nullable<Text>,
        from_name -> Nullable<Text>,
        from_email -> Nullable<Text>,
        reply_to -> Nullable<Text>,
        tags -> Json,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    campaign_sends (id) {
        id -> Uid,
        campaign_id -> Uid,
        contact_id -> Uid,
        to_address -> Text,
        status -> Text,
        attempts -> BigInt,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        links -> Json,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    server_secrets (name) {
        name -> Text,
        secret -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    webhooks (id) {
        id -> Uid,
        url -> Text,
        description -> Nullable<Text>,
        event_types -> Json,
        filter -> Nullable<Text>,
        fields -> Json,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        secret_rotated_at -> Nullable<Timestamp>,
        tags -> Json,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
        secret -> Nullable<Text>,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        cursor_seq -> BigInt,
        failing_since -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    webhook_deliveries (id) {
        id -> Uid,
        webhook_id -> Uid,
        event_seq -> BigInt,
        event_id -> Uid,
        event_type -> Text,
        entity_id -> Uid,
        payload -> Text,
        status -> Text,
        attempts -> BigInt,
        round_start -> BigInt,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_attempt_at -> Nullable<Timestamp>,
        last_status -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    webhook_attempts (delivery_id, attempt) {
        delivery_id -> Uid,
        attempt -> BigInt,
        attempted_at -> Timestamp,
        status_code -> Nullable<BigInt>,
        latency_ms -> BigInt,
        error -> Nullable<Text>,
        response_excerpt -> Nullable<Text>,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::allow_tables_to_appear_in_same_query!(webhooks, webhook_deliveries, webhook_attempts);

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    custom_fields (id) {
        id -> Uid,
        resource -> Text,
        name -> Text,
        key -> Text,
        label -> Text,
        field_type -> Text,
        description -> Nullable<Text>,
        required -> Bool,
        default_value -> Nullable<Json>,
        options -> Json,
        reference_to -> Nullable<Text>,
        min_value -> Nullable<Double>,
        max_value -> Nullable<Double>,
        max_length -> Nullable<BigInt>,
        position -> BigInt,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

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
        location_source -> Nullable<Text>,
        location_accuracy -> Nullable<Text>,
        annual_revenue_minor -> Nullable<BigInt>,
        annual_revenue_currency -> Nullable<Text>,
        employee_count -> Nullable<BigInt>,
        tags -> Json,
        custom_fields -> Json,
        lifetime_value_minor -> Nullable<BigInt>,
        lifetime_value_currency -> Nullable<Text>,
        purchase_count -> BigInt,
        last_purchase_at -> Nullable<Timestamp>,
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
        do_not_mail -> Bool,
        marketing_opt_out -> Bool,
        street -> Nullable<Text>,
        city -> Nullable<Text>,
        region -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        country -> Nullable<Text>,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        location_source -> Nullable<Text>,
        location_accuracy -> Nullable<Text>,
        tags -> Json,
        custom_fields -> Json,
        lifetime_value_minor -> Nullable<BigInt>,
        lifetime_value_currency -> Nullable<Text>,
        purchase_count -> BigInt,
        last_purchase_at -> Nullable<Timestamp>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(contacts -> accounts (account_id));

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
        trace_id -> Nullable<Text>,
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
diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    users (id) {
        id -> Uid,
        name -> Text,
        email -> Nullable<Text>,
        subject -> Nullable<Text>,
        role -> Text,
        team -> Nullable<Text>,
        department -> Nullable<Text>,
        territory -> Nullable<Text>,
        phone -> Nullable<Text>,
        skills -> Json,
        active -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
        manager_id -> Nullable<Uid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    products (id) {
        id -> Uid,
        sku -> Text,
        name -> Text,
        family -> Nullable<Text>,
        description -> Nullable<Text>,
        list_price_minor -> Nullable<BigInt>,
        list_price_currency -> Nullable<Text>,
        unit_cost_minor -> Nullable<BigInt>,
        unit_cost_currency -> Nullable<Text>,
        successor_id -> Nullable<Uid>,
        active -> Bool,
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

    cases (id) {
        id -> Uid,
        number -> Text,
        subject -> Text,
        description -> Nullable<Text>,
        case_type -> Text,
        priority -> Text,
        status -> Text,
        origin -> Nullable<Text>,
        contact_id -> Nullable<Uid>,
        account_id -> Nullable<Uid>,
        assignee_id -> Nullable<Uid>,
        team -> Nullable<Text>,
        sla_started_at -> Nullable<Timestamp>,
        sla_due_at -> Nullable<Timestamp>,
        first_response_at -> Nullable<Timestamp>,
        resolved_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        satisfaction -> Nullable<BigInt>,
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

    interactions (id) {
        id -> Uid,
        interaction_type -> Text,
        direction -> Nullable<Text>,
        channel -> Nullable<Text>,
        subject -> Nullable<Text>,
        body -> Nullable<Text>,
        occurred_at -> Timestamp,
        duration_seconds -> Nullable<BigInt>,
        outcome -> Nullable<Text>,
        nps -> Nullable<BigInt>,
        contact_ids -> Json,
        account_id -> Nullable<Uid>,
        opportunity_id -> Nullable<Uid>,
        case_id -> Nullable<Uid>,
        author_id -> Nullable<Uid>,
        department -> Nullable<Text>,
        tags -> Json,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
        lead_id -> Nullable<Uid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    interaction_contacts (interaction_id, contact_id) {
        interaction_id -> Uid,
        contact_id -> Uid,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    case_comments (id) {
        id -> Uid,
        case_id -> Uid,
        author_id -> Nullable<Uid>,
        author_sub -> Text,
        body -> Text,
        visibility -> Text,
        department -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    purchases (id) {
        id -> Uid,
        reference -> Nullable<Text>,
        account_id -> Nullable<Uid>,
        contact_id -> Nullable<Uid>,
        ordered_at -> Timestamp,
        status -> Text,
        currency -> Text,
        total_minor -> BigInt,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    purchase_lines (purchase_id, line_no) {
        purchase_id -> Uid,
        line_no -> BigInt,
        product_id -> Uid,
        quantity -> BigInt,
        unit_price_minor -> BigInt,
        discount_minor -> BigInt,
        total_minor -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    counters (name) {
        name -> Text,
        last -> BigInt,
    }
}
diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    contacts,
    users,
    products,
    cases,
    interactions,
    interaction_contacts,
    case_comments,
    purchases,
    purchase_lines,
    leads,
    pipelines,
    pipeline_stages,
    opportunities,
    opportunity_lines,
    opportunity_stage_history,
    activities,
    target_lists,
    quotas,
    lead_assignment_rules,
    lead_scoring_rules,
    segments,
    segment_members,
    campaigns,
    campaign_costs,
    campaign_members,
    campaign_member_history,
    campaign_attributions,
);

diesel::table! {
    sla_policies (priority) {
        priority -> Text,
        resolve_minutes -> BigInt,
    }
}
diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    leads (id) {
        id -> Uid,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        company -> Nullable<Text>,
        title -> Nullable<Text>,
        website -> Nullable<Text>,
        industry -> Nullable<Text>,
        source -> Text,
        status -> Text,
        score -> BigInt,
        owner_id -> Nullable<Uid>,
        street -> Nullable<Text>,
        city -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        country -> Nullable<Text>,
        region -> Nullable<Text>,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        location_source -> Nullable<Text>,
        location_accuracy -> Nullable<Text>,
        description -> Nullable<Text>,
        disqualify_reason -> Nullable<Text>,
        converted_at -> Nullable<Timestamp>,
        converted_account_id -> Nullable<Uid>,
        converted_contact_id -> Nullable<Uid>,
        converted_opportunity_id -> Nullable<Uid>,
        campaign_id -> Nullable<Uid>,
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

    lead_assignment_rules (id) {
        id -> Uid,
        position -> BigInt,
        name -> Text,
        strategy -> Text,
        team -> Nullable<Text>,
        country -> Nullable<Text>,
        region -> Nullable<Text>,
        source -> Nullable<Text>,
        active -> Bool,
        last_user_id -> Nullable<Uid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    lead_scoring_rules (id) {
        id -> Uid,
        position -> BigInt,
        field -> Text,
        op -> Text,
        value -> Nullable<Text>,
        points -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    pipelines (id) {
        id -> Uid,
        name -> Text,
        description -> Nullable<Text>,
        is_default -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    pipeline_stages (id) {
        id -> Uid,
        pipeline_id -> Uid,
        position -> BigInt,
        name -> Text,
        probability -> BigInt,
        forecast_category -> Text,
        expected_days -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    opportunities (id) {
        id -> Uid,
        name -> Text,
        account_id -> Nullable<Uid>,
        contact_id -> Nullable<Uid>,
        pipeline_id -> Uid,
        stage_id -> Uid,
        amount_minor -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        expected_close_date -> Nullable<Date>,
        owner_id -> Nullable<Uid>,
        next_step -> Nullable<Text>,
        loss_reason -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        won -> Nullable<Bool>,
        stage_entered_at -> Timestamp,
        lead_id -> Nullable<Uid>,
        tags -> Json,
        custom_fields -> Json,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
        status -> Text,
        forecast_category -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    opportunity_lines (opportunity_id, line_no) {
        opportunity_id -> Uid,
        line_no -> BigInt,
        product_id -> Uid,
        quantity -> BigInt,
        unit_price_minor -> BigInt,
        discount_minor -> BigInt,
        total_minor -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    opportunity_stage_history (id) {
        id -> Uid,
        opportunity_id -> Uid,
        pipeline_id -> Uid,
        stage_id -> Uid,
        stage_name -> Text,
        probability -> BigInt,
        forecast_category -> Text,
        amount_minor -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        entered_at -> Timestamp,
        left_at -> Nullable<Timestamp>,
        actor -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    activities (id) {
        id -> Uid,
        activity_type -> Text,
        subject -> Text,
        description -> Nullable<Text>,
        due_at -> Nullable<Timestamp>,
        remind_at -> Nullable<Timestamp>,
        reminded_at -> Nullable<Timestamp>,
        assignee_id -> Nullable<Uid>,
        status -> Text,
        completed_at -> Nullable<Timestamp>,
        account_id -> Nullable<Uid>,
        contact_id -> Nullable<Uid>,
        opportunity_id -> Nullable<Uid>,
        lead_id -> Nullable<Uid>,
        case_id -> Nullable<Uid>,
        interaction_id -> Nullable<Uid>,
        campaign_id -> Nullable<Uid>,
        tags -> Json,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    target_lists (id) {
        id -> Uid,
        name -> Text,
        owner_id -> Nullable<Uid>,
        team -> Nullable<Text>,
        goal_minor -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        period_start -> Date,
        period_end -> Date,
        account_ids -> Json,
        tags -> Json,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    quotas (id) {
        id -> Uid,
        owner_id -> Nullable<Uid>,
        team -> Nullable<Text>,
        period -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    segments (id) {
        id -> Uid,
        name -> Text,
        description -> Nullable<Text>,
        kind -> Text,
        criteria -> Text,
        include_segment_ids -> Json,
        exclude_segment_ids -> Json,
        snapshot_at -> Nullable<Timestamp>,
        member_count -> Nullable<BigInt>,
        tags -> Json,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    segment_members (segment_id, contact_id) {
        segment_id -> Uid,
        contact_id -> Uid,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    campaigns (id) {
        id -> Uid,
        name -> Text,
        objective -> Nullable<Text>,
        campaign_type -> Text,
        channel -> Text,
        status -> Text,
        owner_id -> Nullable<Uid>,
        parent_id -> Nullable<Uid>,
        starts_on -> Nullable<Date>,
        ends_on -> Nullable<Date>,
        segment_ids -> Json,
        product_ids -> Json,
        planned_budget_minor -> Nullable<BigInt>,
        planned_budget_currency -> Nullable<Text>,
        expected_responses -> Nullable<BigInt>,
        expected_conversions -> Nullable<BigInt>,
        expected_revenue_minor -> Nullable<BigInt>,
        expected_revenue_currency -> Nullable<Text>,
        attribution_days -> BigInt,
        email_template_id -> Nullable<Uid>,
        call_script -> Nullable<Text>,
        caller_ids -> Json,
        launched_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
        tags -> Json,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    campaign_costs (campaign_id, line_no) {
        campaign_id -> Uid,
        line_no -> BigInt,
        channel -> Text,
        amount_minor -> BigInt,
        amount_currency -> Text,
        spent_on -> Date,
        description -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    campaign_members (campaign_id, contact_id) {
        id -> Uid,
        campaign_id -> Uid,
        contact_id -> Uid,
        channel -> Text,
        status -> Text,
        exclusion_reason -> Nullable<Text>,
        response_type -> Nullable<Text>,
        bounce_kind -> Nullable<Text>,
        version -> BigInt,
        added_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        delivered_at -> Nullable<Timestamp>,
        opened_at -> Nullable<Timestamp>,
        clicked_at -> Nullable<Timestamp>,
        responded_at -> Nullable<Timestamp>,
        converted_at -> Nullable<Timestamp>,
        unsubscribed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    campaign_attributions (source, source_id, model) {
        source -> Text,
        source_id -> Uid,
        model -> Text,
        campaign_id -> Uid,
        contact_id -> Uid,
        touched_at -> Timestamp,
        converted_at -> Timestamp,
        amount_minor -> Nullable<BigInt>,
        currency -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    campaign_member_history (campaign_id, contact_id, seq) {
        campaign_id -> Uid,
        contact_id -> Uid,
        seq -> BigInt,
        status -> Text,
        detail -> Nullable<Text>,
        at -> Timestamp,
        actor -> Text,
    }
}

diesel::table! {
    geo_places (id) {
        id -> BigInt,
        country -> Text,
        kind -> Text,
        name -> Text,
        admin1 -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        latitude -> Double,
        longitude -> Double,
        population -> BigInt,
    }
}

diesel::table! {
    geo_place_keys (country, kind, key, place_id) {
        country -> Text,
        kind -> Text,
        key -> Text,
        place_id -> BigInt,
    }
}

diesel::joinable!(geo_place_keys -> geo_places (place_id));
diesel::allow_tables_to_appear_in_same_query!(geo_places, geo_place_keys);

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    territories (id) {
        id -> Uid,
        position -> BigInt,
        name -> Text,
        definition -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    jobs (id) {
        id -> Uid,
        kind -> Text,
        status -> Text,
        params -> Text,
        total -> Nullable<BigInt>,
        done -> BigInt,
        failed -> BigInt,
        result -> Nullable<Text>,
        error -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        checkpoint -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    job_files (job_id, seq) {
        job_id -> Uid,
        seq -> Integer,
        data -> Binary,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    import_errors (job_id, row_number, n) {
        job_id -> Uid,
        row_number -> BigInt,
        n -> Integer,
        line -> BigInt,
        field -> Nullable<Text>,
        column_name -> Nullable<Text>,
        code -> Text,
        message -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(job_files, jobs);

diesel::table! {
    duplicate_settings (id) {
        id -> BigInt,
        definition -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    duplicate_candidates (resource, a_id, b_id) {
        resource -> Text,
        a_id -> Uid,
        b_id -> Uid,
        score -> Double,
        rules -> Text,
        a_name -> Text,
        b_name -> Text,
        found_at -> Timestamp,
    }
}

diesel::table! {
    import_mappings (resource, name) {
        resource -> Text,
        name -> Text,
        mapping -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    geocode_cache (query) {
        query -> Text,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        accuracy -> Nullable<Text>,
        fetched_at -> Timestamp,
    }
}

diesel::table! {
    analytics_settings (id) {
        id -> BigInt,
        definition -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    analytics_runs (id) {
        id -> Uid,
        as_of -> Timestamp,
        computed_at -> Timestamp,
        seconds -> Double,
        customers -> BigInt,
        settings -> Text,
        model -> Text,
        fits -> Text,
        trends -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    customer_analytics (run_id, customer_type, customer_id) {
        customer_type -> Text,
        customer_id -> Uid,
        run_id -> Uid,
        currency -> Text,
        segment -> Text,
        rfm_cell -> Text,
        recency_days -> BigInt,
        revenue_minor -> BigInt,
        margin_minor -> Nullable<BigInt>,
        predicted_clv_minor -> Nullable<BigInt>,
        probability_alive -> Nullable<Double>,
        drifting -> Bool,
        repeat_customer -> Bool,
        dormant -> Bool,
        tier -> Nullable<Text>,
        industry -> Nullable<Text>,
        country -> Nullable<Text>,
        region -> Nullable<Text>,
        lifecycle_stage -> Nullable<Text>,
        web_events_recent -> BigInt,
        analysis -> Text,
    }
}
diesel::allow_tables_to_appear_in_same_query!(analytics_runs, customer_analytics);

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    product_associations (run_id, antecedent_id, consequent_id) {
        run_id -> Uid,
        antecedent_id -> Uid,
        consequent_id -> Uid,
        baskets -> BigInt,
        support -> Double,
        confidence -> Double,
        lift -> Double,
    }
}
diesel::allow_tables_to_appear_in_same_query!(analytics_runs, product_associations);
diesel::allow_tables_to_appear_in_same_query!(products, product_associations);

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    alerts (id) {
        id -> Uid,
        key -> Text,
        kind -> Text,
        status -> Text,
        customer_type -> Nullable<Text>,
        customer_id -> Nullable<Uid>,
        owner_id -> Nullable<Uid>,
        title -> Text,
        reasons -> Text,
        figures -> Text,
        raised_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    web_events (id) {
        id -> Uid,
        visitor_id -> Text,
        kind -> Text,
        url -> Text,
        title -> Nullable<Text>,
        referrer -> Nullable<Text>,
        occurred_at -> Timestamp,
        received_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    web_visitors (visitor_id) {
        visitor_id -> Text,
        contact_id -> Nullable<Uid>,
        identified_at -> Nullable<Timestamp>,
        first_seen -> Timestamp,
        last_seen -> Timestamp,
    }
}
diesel::joinable!(web_events -> web_visitors (visitor_id));
diesel::allow_tables_to_appear_in_same_query!(web_events, web_visitors, contacts);
diesel::allow_columns_to_appear_in_same_group_by_clause!(contacts::id, contacts::account_id, web_events::kind);

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    /// Losers of merges and the records they were merged into.
    merges (entity, loser_id) {
        entity -> Text,
        loser_id -> Uid,
        survivor_id -> Uid,
        merged_at -> Timestamp,
        actor -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    /// API keys (the key's hash is read and written by `crm_users::api_keys` only).
    api_keys (id) {
        id -> Uid,
        name -> Text,
        description -> Nullable<Text>,
        scopes -> Json,
        expires_at -> Nullable<Timestamp>,
        allowed_ips -> Json,
        rate_limit_per_minute -> Nullable<BigInt>,
        key_prefix -> Text,
        last_used_at -> Nullable<Timestamp>,
        last_used_ip -> Nullable<Text>,
        tags -> Json,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
        key_hash -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    /// How widely one resource's records are seen (overrides the resource's default level).
    sharing_rules (id) {
        id -> Uid,
        entity -> Text,
        level -> Text,
        note -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    /// One record made visible to a user or a team (archived: revoked).
    record_shares (id) {
        id -> Uid,
        entity -> Text,
        record_id -> Uid,
        user_id -> Nullable<Uid>,
        team -> Nullable<Text>,
        granted_by -> Nullable<Uid>,
        note -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(record_shares, users);

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    audit_log (seq) {
        seq -> BigInt,
        occurred_at -> Timestamp,
        actor -> Text,
        action -> Text,
        entity -> Nullable<Text>,
        record_id -> Nullable<Uid>,
        ip -> Nullable<Text>,
        request_id -> Nullable<Text>,
        trace_id -> Nullable<Text>,
        details -> Json,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    consents (id) {
        id -> Uid,
        contact_id -> Nullable<Uid>,
        lead_id -> Nullable<Uid>,
        purpose -> Text,
        channel -> Nullable<Text>,
        status -> Text,
        source -> Text,
        text_version -> Nullable<Text>,
        captured_at -> Timestamp,
        evidence -> Nullable<Text>,
        key -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    legal_holds (id) {
        id -> Uid,
        contact_id -> Nullable<Uid>,
        lead_id -> Nullable<Uid>,
        reason -> Text,
        matter -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    processing_restrictions (person, person_id) {
        person -> Text,
        person_id -> Uid,
        request_id -> Uid,
        reason -> Nullable<Text>,
        since -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    retention_policies (id) {
        id -> Uid,
        name -> Text,
        resource -> Text,
        filter -> Nullable<Text>,
        untouched_days -> BigInt,
        action -> Text,
        enabled -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    automation_rules (id) {
        id -> Uid,
        name -> Text,
        description -> Nullable<Text>,
        entity -> Text,
        trigger_kind -> Text,
        events -> Json,
        changed_fields -> Json,
        schedule -> Nullable<Text>,
        time_zone -> Nullable<Text>,
        date_field -> Nullable<Text>,
        time_offset -> Nullable<Text>,
        filter -> Nullable<Text>,
        before_filter -> Nullable<Text>,
        actions -> Json,
        scopes -> Json,
        enabled -> Bool,
        enabled_by -> Nullable<Text>,
        disabled_reason -> Nullable<Text>,
        allow_retrigger -> Bool,
        max_runs_per_hour -> BigInt,
        tags -> Json,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
        cursor_seq -> BigInt,
        failures -> BigInt,
        last_assignee -> Nullable<Uid>,
        clock_at -> Nullable<Timestamp>,
        stop_when -> Json,
        change_conditions -> Json,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Uid, Json};

    automation_runs (id) {
        id -> Uid,
        rule_id -> Uid,
        rule_version -> BigInt,
        trigger_kind -> Text,
        event_seq -> Nullable<BigInt>,
        event_id -> Nullable<Uid>,
        event_type -> Nullable<Text>,
        entity -> Text,
        record_id -> Uid,
        caused_by -> Text,
        depth -> BigInt,
        status -> Text,
        conditions -> Json,
        steps -> Json,
        next_step -> BigInt,
        error -> Nullable<Text>,
        due_at -> Timestamp,
        attempts -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Uid;

    automation_approvals (id) {
        id -> Uid,
        run_id -> Uid,
        rule_id -> Uid,
        step -> Text,
        entity -> Text,
        record_id -> Uid,
        approver_id -> Uid,
        reason -> Text,
        status -> Text,
        decided_by -> Nullable<Text>,
        comment -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(automation_runs -> automation_rules (rule_id));
diesel::joinable!(automation_approvals -> automation_runs (run_id));
diesel::allow_tables_to_appear_in_same_query!(automation_rules, automation_runs, automation_approvals);
