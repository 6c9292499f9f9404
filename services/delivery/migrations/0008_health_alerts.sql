-- Worker health alerts (the health package): alert plans, their acknowledgements and the timer that
-- checks each monitored family's worker health by itself. Health reports are computed on demand and
-- never stored; these tables hold what an alert decided and who acknowledged it.

CREATE TABLE health_alert_plans (
    plan_id              text        PRIMARY KEY,
    family               text        NOT NULL,          -- a monitored family (cavra_contracts.families)
    health_id            text        NOT NULL,          -- stable while the situation is the same
    job_id               text,                          -- the DeliverMessageV1 job (NULL: nothing selected)
    trigger              text        NOT NULL,          -- api | timer
    generated_at         timestamptz NOT NULL,
    generated_by         text        NOT NULL,
    alert_level          text        NOT NULL,
    requested_provider   text        NOT NULL,
    eligible_providers   text[]      NOT NULL,
    selected_providers   text[]      NOT NULL,
    suppressed_providers text[]      NOT NULL,
    forced               boolean     NOT NULL,
    health               jsonb       NOT NULL,          -- the health report it was made from
    record               jsonb       NOT NULL           -- its metadata record (plan under its payload key)
);
CREATE INDEX health_alert_plans_health ON health_alert_plans (family, health_id, generated_at DESC);
CREATE INDEX health_alert_plans_family ON health_alert_plans (family, generated_at DESC);
CREATE UNIQUE INDEX health_alert_plans_job ON health_alert_plans (job_id) WHERE job_id IS NOT NULL;

CREATE TABLE health_alert_acks (
    acknowledgement_id    text        PRIMARY KEY,
    family                text        NOT NULL,
    health_id             text        NOT NULL,
    plan_id               text        NOT NULL,
    provider              text        NOT NULL,
    acknowledgement_state text        NOT NULL,     -- acknowledged | dismissed | escalated | resolved
    acknowledged_by       text        NOT NULL,
    acknowledged_at       timestamptz NOT NULL,
    record                jsonb       NOT NULL
);
CREATE INDEX health_alert_acks_key ON health_alert_acks (family, health_id, provider, acknowledged_at DESC);
CREATE INDEX health_alert_acks_family ON health_alert_acks (family, acknowledged_at DESC);

-- One row per monitored family: when its health is checked next (due_at polled with SKIP LOCKED).
CREATE TABLE worker_health_checks (
    family        text        PRIMARY KEY,
    due_at        timestamptz NOT NULL,
    last_checked_at timestamptz,
    last_health_id  text,
    last_plan_id    text
);

-- Health counts a family's (failed) delivery records, dashboards its alert deliveries: by source.
CREATE INDEX health_delivery_records_source ON delivery_records (source, success, created_at DESC);
