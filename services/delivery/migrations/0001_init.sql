-- Delivery: one row per route x connector, redacted attempt evidence, delivery records, connector health.
CREATE TABLE deliveries (
    delivery_id     text        PRIMARY KEY,         -- <plan_id>:<route_key>:<connector>; the idempotency key
    plan_id         text        NOT NULL,
    route_key       text        NOT NULL,
    schedule_id     text        NOT NULL,
    provider        text        NOT NULL,
    owner           text        NOT NULL,
    connector       text,                            -- NULL when no connector serves the provider
    connector_type  text,
    target_host     text,                            -- host only: never a path, query or credential
    status          text        NOT NULL,            -- pending | delivered | failed | permanent_failure | unconfigured | quarantined
    attempt_count   integer     NOT NULL DEFAULT 0,
    status_code     integer,
    external_ref    text,                            -- Jira issue key / ServiceNow number
    deduplicated    boolean     NOT NULL DEFAULT false,
    attempts        jsonb       NOT NULL DEFAULT '[]',
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz
);
CREATE INDEX deliveries_plan ON deliveries (plan_id);
CREATE INDEX deliveries_pending ON deliveries (plan_id) WHERE status = 'pending';

-- release-connector-delivery records (source go_backend_rollback_drill_notification), one per plan.
CREATE TABLE delivery_records (
    record_id   text        PRIMARY KEY,             -- rcd-<slug>-<12 hex>
    plan_id     text        NOT NULL UNIQUE,
    source      text        NOT NULL,
    success     boolean     NOT NULL,
    document    jsonb       NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX delivery_records_created ON delivery_records (created_at DESC);

CREATE TABLE connector_health (
    connector            text        PRIMARY KEY,
    consecutive_failures integer     NOT NULL DEFAULT 0,
    quarantined_until    timestamptz,
    last_success_at      timestamptz,
    last_failure_at      timestamptz
);
