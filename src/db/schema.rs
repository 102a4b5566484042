//! Diesel table definitions shared by both backends (kept by hand: TEXT ids, TIMESTAMP times).

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        display_name -> Text,
        platform_role -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        session_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    orgs (id) {
        id -> Text,
        name -> Text,
        industry -> Text,
        description -> Nullable<Text>,
        website -> Nullable<Text>,
        region -> Nullable<Text>,
        status -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    memberships (org_id, user_id) {
        org_id -> Text,
        user_id -> Text,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        org_id -> Text,
        email -> Text,
        role -> Text,
        token_hash -> Text,
        invited_by -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        scopes -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_records (principal, idempotency_key) {
        principal -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        status_code -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        location -> Nullable<Text>,
        etag -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    rate_limit_buckets (bucket, subject) {
        bucket -> Text,
        subject -> Text,
        window_start -> BigInt,
        hits -> Integer,
    }
}

diesel::table! {
    listings (id) {
        id -> Text,
        org_id -> Text,
        kind -> Text,
        category -> Text,
        title -> Text,
        description -> Text,
        tags -> Text,
        industry -> Text,
        region -> Nullable<Text>,
        trial_available -> Bool,
        expires_at -> Nullable<Timestamp>,
        status -> Text,
        removed_from -> Nullable<Text>,
        version -> Integer,
        moderation_reason -> Nullable<Text>,
        pending_title -> Nullable<Text>,
        pending_description -> Nullable<Text>,
        pending_tags -> Nullable<Text>,
        submitted_at -> Nullable<Timestamp>,
        published_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        search_title -> Text,
        search_tags -> Text,
        search_body -> Text,
    }
}

diesel::table! {
    listing_tags (listing_id, tag) {
        listing_id -> Text,
        tag -> Text,
        org_id -> Text,
        kind -> Text,
        status -> Text,
        industry -> Text,
        category -> Text,
        region -> Nullable<Text>,
        trial_available -> Bool,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Search documents (`crate::search`); PostgreSQL's `doc` is read by raw SQL only.
    search_docs (seq) {
        seq -> BigInt,
        listing_id -> Text,
        org_id -> Text,
        status -> Text,
        kind -> Text,
        category -> Text,
        industry -> Text,
        region -> Nullable<Text>,
        trial_available -> Bool,
        tags -> Text,
        expires_at -> Nullable<Timestamp>,
        visible -> Bool,
        public_view -> Text,
    }
}

diesel::table! {
    facet_counts (facet, value) {
        facet -> Text,
        value -> Text,
        count -> BigInt,
    }
}

diesel::table! {
    catalogue_state (id) {
        id -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    tag_stats (tag) {
        tag -> Text,
        published -> BigInt,
    }
}

diesel::table! {
    reports (id) {
        id -> Text,
        reporter_id -> Text,
        target_type -> Text,
        target_id -> Text,
        reason -> Text,
        details -> Text,
        status -> Text,
        resolution -> Nullable<Text>,
        resolution_note -> Nullable<Text>,
        resolved_by -> Nullable<Text>,
        created_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        org_id -> Nullable<Text>,
    }
}

diesel::table! {
    modlog (id) {
        id -> Text,
        action -> Text,
        target_type -> Text,
        target_id -> Text,
        reason -> Nullable<Text>,
        actor_id -> Text,
        public -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    proposals (id) {
        id -> Text,
        from_org_id -> Text,
        to_org_id -> Text,
        kind -> Text,
        confidential -> Bool,
        status -> Text,
        latest_revision -> Integer,
        expires_at -> Nullable<Timestamp>,
        agreement_id -> Nullable<Text>,
        closed_reason -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    proposal_revisions (proposal_id, number) {
        proposal_id -> Text,
        number -> Integer,
        author_org_id -> Text,
        author_user_id -> Nullable<Text>,
        terms -> Text,
        message -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    agreements (id) {
        id -> Text,
        proposal_id -> Text,
        revision -> Integer,
        from_org_id -> Text,
        to_org_id -> Text,
        kind -> Text,
        confidential -> Bool,
        status -> Text,
        terms -> Text,
        terms_salt -> Text,
        terms_commitment -> Text,
        from_confirmed_at -> Nullable<Timestamp>,
        to_confirmed_at -> Nullable<Timestamp>,
        cancelled_by_org_id -> Nullable<Text>,
        cancel_reason -> Nullable<Text>,
        created_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
        cancelled_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    agreement_items (agreement_id, position) {
        agreement_id -> Text,
        position -> Integer,
        giver_org_id -> Text,
        receiver_org_id -> Text,
        category -> Text,
    }
}

diesel::table! {
    endorsements (id) {
        id -> Text,
        agreement_id -> Text,
        author_org_id -> Text,
        endorsed_org_id -> Text,
        author_user_id -> Nullable<Text>,
        text -> Text,
        removed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    org_blocks (org_id, blocked_org_id) {
        org_id -> Text,
        blocked_org_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    log_state (id) {
        id -> Integer,
        size -> BigInt,
    }
}

diesel::table! {
    log_leaves (leaf_index) {
        leaf_index -> BigInt,
        agreement_id -> Text,
        event -> Text,
        logged_at -> Timestamp,
        leaf_input -> Text,
        leaf_hash -> Text,
    }
}

diesel::table! {
    log_hashes (hash_index) {
        hash_index -> BigInt,
        hash -> Binary,
    }
}

diesel::table! {
    log_signing_keys (origin) {
        origin -> Text,
        signing_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(memberships -> orgs (org_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(invitations -> orgs (org_id));
diesel::joinable!(api_keys -> orgs (org_id));
diesel::joinable!(listings -> orgs (org_id));
diesel::joinable!(listing_tags -> listings (listing_id));
diesel::joinable!(proposal_revisions -> proposals (proposal_id));
diesel::joinable!(agreement_items -> agreements (agreement_id));
diesel::joinable!(endorsements -> agreements (agreement_id));

diesel::table! {
    event_state (id) {
        id -> Integer,
        last_seq -> BigInt,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        id -> Text,
        org_id -> Text,
        event_type -> Text,
        created_at -> Timestamp,
        data -> Text,
    }
}

diesel::table! {
    jobs (name) {
        name -> Text,
        due_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_run_at -> Nullable<Timestamp>,
        last_count -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        org_id -> Text,
        url -> Text,
        event_types -> Text,
        enabled -> Bool,
        failing_since -> Nullable<Timestamp>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        webhook_id -> Text,
        event_seq -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_attempts (delivery_id, number) {
        delivery_id -> Text,
        number -> Integer,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        latency_ms -> BigInt,
        response_snippet -> Nullable<Text>,
    }
}

diesel::joinable!(events -> orgs (org_id));
diesel::joinable!(webhooks -> orgs (org_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_deliveries -> events (event_seq));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    refresh_tokens,
    orgs,
    memberships,
    invitations,
    api_keys,
    idempotency_records,
    rate_limit_buckets,
    listings,
    listing_tags,
    search_docs,
    facet_counts,
    tag_stats,
    catalogue_state,
    reports,
    modlog,
    proposals,
    proposal_revisions,
    agreements,
    agreement_items,
    endorsements,
    org_blocks,
    log_state,
    log_leaves,
    log_hashes,
    log_signing_keys,
    event_state,
    events,
    jobs,
    webhooks,
    webhook_deliveries,
    webhook_attempts,
);
