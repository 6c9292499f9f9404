-- Connector recovery (spec §3.18-3.20): playbooks with one row per provider (the recovery rows of the
-- report), closures, recovery escalation plans, their delivery requests and acknowledgements. Only the
-- recovery package writes these; it reads deliveries and retry_executions.

CREATE TABLE recovery_playbooks (
    playbook_id        text        PRIMARY KEY,
    generated_at       timestamptz NOT NULL,
    generated_by       text        NOT NULL,
    alert_level        text        NOT NULL,
    lookback_hours     integer     NOT NULL,
    min_failure_count  integer     NOT NULL,
    provider_count     integer     NOT NULL,
    failure_count      integer     NOT NULL,
    document           jsonb       NOT NULL
);
CREATE INDEX recovery_playbooks_generated ON recovery_playbooks (generated_at DESC, playbook_id DESC);

CREATE TABLE recovery_playbook_providers (
    playbook_id        text        NOT NULL REFERENCES recovery_playbooks (playbook_id),
    provider           text        NOT NULL,
    category           text        NOT NULL,
    failure_count      integer     NOT NULL,
    latest_failure_at  timestamptz,
    generated_at       timestamptz NOT NULL,   -- the playbook's: a row's age is measured from it
    PRIMARY KEY (playbook_id, provider)
);
CREATE INDEX recovery_playbook_providers_provider ON recovery_playbook_providers (provider);

CREATE TABLE recovery_closures (
    closure_id     text        PRIMARY KEY,
    playbook_id    text        NOT NULL,
    provider       text        NOT NULL,
    closure_state  text        NOT NULL,
    closed_by      text        NOT NULL,
    closed_at      timestamptz NOT NULL,
    closure_hash   text        NOT NULL,
    document       jsonb       NOT NULL,
    FOREIGN KEY (playbook_id, provider) REFERENCES recovery_playbook_providers (playbook_id, provider)
);
-- The latest closure of a (playbook, provider) wins.
CREATE INDEX recovery_closures_latest ON recovery_closures (playbook_id, provider, closed_at DESC, closure_id DESC);
CREATE INDEX recovery_closures_closed ON recovery_closures (closed_at);

CREATE TABLE recovery_escalation_plans (
    plan_id             text        PRIMARY KEY,
    generated_at        timestamptz NOT NULL,
    generated_by        text        NOT NULL,
    alert_level         text        NOT NULL,
    recovery_report_id  text        NOT NULL,
    selected_providers  text[]      NOT NULL,
    document            jsonb       NOT NULL
);
CREATE INDEX recovery_escalation_plans_generated ON recovery_escalation_plans (generated_at DESC, plan_id DESC);

CREATE TABLE recovery_escalation_deliveries (
    job_id        text        PRIMARY KEY,
    plan_id       text        NOT NULL REFERENCES recovery_escalation_plans (plan_id),
    providers     text[]      NOT NULL,
    requested_at  timestamptz NOT NULL,
    requested_by  text        NOT NULL
);
CREATE INDEX recovery_escalation_deliveries_plan ON recovery_escalation_deliveries (plan_id);

CREATE TABLE recovery_escalation_acks (
    acknowledgement_id     text        PRIMARY KEY,
    plan_id                text        NOT NULL REFERENCES recovery_escalation_plans (plan_id),
    provider               text        NOT NULL,
    acknowledgement_state  text        NOT NULL,
    acknowledged_by        text        NOT NULL,
    acknowledged_at        timestamptz NOT NULL,
    document               jsonb       NOT NULL
);
CREATE INDEX recovery_escalation_acks_plan ON recovery_escalation_acks (plan_id, acknowledged_at DESC);

-- Playbooks look for failed deliveries inside a lookback window.
CREATE INDEX deliveries_failed_created ON deliveries (created_at)
    WHERE status IN ('failed', 'permanent_failure', 'quarantined');
-- The report's latest executions of every family, newest first.
CREATE INDEX retry_executions_executed ON retry_executions (executed_at DESC, execution_id DESC);
