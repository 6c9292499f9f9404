-- Retries (one machinery for every delivery family, cavra_contracts.families): the message of every
-- job, so a retry re-sends exactly what failed; retry plans and their decisions; worker runs and
-- their schedules; execution records. Other parts of the service (health, recovery) read these
-- tables; only the retries package writes them.

-- Every job the pipeline delivered or will deliver, with what it sends. A retry execution is a job
-- of its own (job_id <origin>~r<attempt>) whose origin_job_id names the first job of the chain, so
-- the attempt count holds across the whole chain.
CREATE TABLE delivery_jobs (
    job_id          text        PRIMARY KEY,
    source          text        NOT NULL,            -- the family's connector_delivery_source
    origin_job_id   text        NOT NULL,            -- first job of its retry chain (itself for a first delivery)
    attempt         integer     NOT NULL DEFAULT 0,  -- 0: first delivery; n: the n-th retry
    message_type    text        NOT NULL,            -- schema_version of the stored message
    message         jsonb       NOT NULL,            -- the job's command or plan event (public-safe)
    payload_hash    text        NOT NULL,            -- sha256 of the canonical JSON of what it sends
    ids             jsonb       NOT NULL DEFAULT '{}',  -- family ids (audit_id, delivery_id, plan_id, run_id, ...)
    created_at      timestamptz NOT NULL
);
CREATE INDEX delivery_jobs_origin ON delivery_jobs (origin_job_id, attempt);
CREATE INDEX delivery_jobs_source ON delivery_jobs (source, created_at DESC);

CREATE TABLE retry_plans (
    retry_plan_id    text        PRIMARY KEY,
    family           text        NOT NULL,
    generated_at     timestamptz NOT NULL,
    generated_by     text        NOT NULL,
    policy           jsonb       NOT NULL,
    alert_level      text        NOT NULL,
    decision_count   integer     NOT NULL,
    retryable_count  integer     NOT NULL,
    waiting_count    integer     NOT NULL,
    suppressed_count integer     NOT NULL,
    decisions_pruned_at timestamptz                -- its decisions were deleted (retention); counts stay
);
CREATE INDEX retry_plans_family ON retry_plans (family, generated_at DESC);
CREATE INDEX retry_plans_unpruned ON retry_plans (generated_at) WHERE decisions_pruned_at IS NULL;

-- One row per (origin job, provider) that failed, per plan; its digest binds an approval to exactly it.
CREATE TABLE retry_decisions (
    retry_plan_id        text        NOT NULL,
    ordinal              integer     NOT NULL,
    family               text        NOT NULL,
    origin_job_id        text        NOT NULL,
    provider             text        NOT NULL,
    action               text        NOT NULL,      -- retry | wait | suppress
    reason               text        NOT NULL,
    retry_count          integer     NOT NULL,      -- failed deliveries in the chain for this provider
    max_retry_attempts   integer     NOT NULL,
    retry_delay_minutes  integer     NOT NULL,
    latest_job_id        text        NOT NULL,
    latest_delivery_at   timestamptz NOT NULL,
    next_retry_at        timestamptz NOT NULL,
    failed_status_codes  integer[]   NOT NULL,
    payload_hash         text        NOT NULL,
    attempt              integer     NOT NULL,      -- the attempt a retry would be
    -- its digest is not stored: cavra_contracts.retries.retry_digest(family, origin_job_id, provider,
    -- payload_hash, attempt), so the plan statement hashes nothing; its family ids are its latest job's
    -- (delivery_jobs.ids)
    PRIMARY KEY (retry_plan_id, ordinal)
);
-- No index beside the primary key: a plan writes 100,000 decisions in one statement, and every read
-- is of one plan (a page by ordinal, or the few keys that have an approval: a hash join).

CREATE TABLE worker_runs (
    run_id                  text        PRIMARY KEY,
    family                  text        NOT NULL,
    generated_at            timestamptz NOT NULL,
    generated_by            text        NOT NULL,
    dry_run                 boolean     NOT NULL,
    scheduled               boolean     NOT NULL DEFAULT false,  -- started by the family's timer
    retry_plan_id           text        NOT NULL,
    retryable_count         integer     NOT NULL,
    selected_retry_count    integer     NOT NULL,
    approval_pending_count  integer     NOT NULL DEFAULT 0,
    schedule_enabled        boolean     NOT NULL DEFAULT true,
    document                jsonb       NOT NULL
);
CREATE INDEX worker_runs_family ON worker_runs (family, generated_at DESC);

-- The worker of each family runs on its own schedule as well (a due_at timer, SKIP LOCKED).
CREATE TABLE worker_schedules (
    family            text        PRIMARY KEY,
    interval_minutes  integer     NOT NULL,
    enabled           boolean     NOT NULL DEFAULT true,
    execute           boolean     NOT NULL DEFAULT false,   -- scheduled runs are dry runs unless set
    cadence           text        NOT NULL,
    max_retry_deliveries integer  NOT NULL DEFAULT 5,
    policy            jsonb       NOT NULL DEFAULT '{}',
    due_at            timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    updated_by        text        NOT NULL
);
CREATE INDEX worker_schedules_due ON worker_schedules (due_at) WHERE enabled;

-- One re-delivery per attempt of a chain and provider: the unique index makes a second execution of
-- the same attempt impossible, whoever asks.
CREATE TABLE retry_executions (
    execution_id      text        PRIMARY KEY,
    family            text        NOT NULL,
    run_id            text        NOT NULL,
    retry_plan_id     text        NOT NULL,
    origin_job_id     text        NOT NULL,
    provider          text        NOT NULL,
    attempt           integer     NOT NULL,
    retry_job_id      text,                      -- the job that re-delivers it (NULL when skipped)
    digest            text        NOT NULL,
    approval_id       text,                      -- the approval it consumed (approval-bound families)
    execution_status  text        NOT NULL,      -- pending | delivered | failed | skipped
    skipped           text        NOT NULL DEFAULT '',
    executed_at       timestamptz NOT NULL,
    executed_by       text        NOT NULL,
    completed_at      timestamptz,
    delivery_success  boolean,
    delivery_record_id text,
    execution_hash    text        NOT NULL DEFAULT '',
    document          jsonb       NOT NULL
);
CREATE UNIQUE INDEX retry_executions_once ON retry_executions (family, origin_job_id, provider, attempt)
    WHERE execution_status <> 'skipped';
CREATE INDEX retry_executions_family ON retry_executions (family, executed_at DESC);
CREATE INDEX retry_executions_job ON retry_executions (retry_job_id) WHERE retry_job_id IS NOT NULL;
