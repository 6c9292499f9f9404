-- Executive recovery reports (spec §3.21): stored reports, schedule runs with the window each covers,
-- and the one cadence on which the reporting service generates and delivers runs by itself.
-- `record` is the metadata record (EvidenceRecordV1) the record's event announced.
--
-- These tables are a record, not a read model: they live in their own schema, which
-- `cavra reporting rebuild` (DROP SCHEMA reporting CASCADE, then the migrations again) leaves alone;
-- hence IF NOT EXISTS throughout.

CREATE SCHEMA IF NOT EXISTS reporting_executive;

CREATE TABLE IF NOT EXISTS reporting_executive.executive_reports (
    executive_report_id text        PRIMARY KEY,      -- gordackexecreport-<16 hex> over the content
    generated_at        timestamptz NOT NULL,
    alert_level         text        NOT NULL,
    record              jsonb       NOT NULL
);

CREATE TABLE IF NOT EXISTS reporting_executive.executive_runs (
    run_id              text        PRIMARY KEY,      -- gordackexecsched-<16 hex>: command id, or schedule window
    executive_report_id text        NOT NULL REFERENCES reporting_executive.executive_reports (executive_report_id),
    trigger             text        NOT NULL,         -- api | schedule | delivery
    window_start        timestamptz NOT NULL,
    window_end          timestamptz NOT NULL,
    generated_at        timestamptz NOT NULL,
    seq                 bigserial   NOT NULL,         -- ties of generated_at: insertion order
    alert_level         text        NOT NULL,
    record              jsonb       NOT NULL
);
CREATE INDEX IF NOT EXISTS executive_runs_newest ON reporting_executive.executive_runs (generated_at DESC, seq DESC);

-- The cadence: one row, (re)defined by an enabled schedule run, stopped by a disabled one.
-- due_at is polled with FOR UPDATE SKIP LOCKED by every replica.
CREATE TABLE IF NOT EXISTS reporting_executive.executive_schedule (
    id                   boolean     PRIMARY KEY DEFAULT true CHECK (id),
    interval_minutes     integer     NOT NULL CHECK (interval_minutes BETWEEN 1 AND 43200),
    cadence              text        NOT NULL,
    time_zone            text        NOT NULL,
    at_local_time        text,
    recovery_slo_minutes integer     NOT NULL,
    providers            jsonb,                       -- null: CAVRA_EXECUTIVE_REPORT_PROVIDERS
    enabled              boolean     NOT NULL,
    due_at               timestamptz NOT NULL,
    defined_by_run       text        NOT NULL,
    defined_by           jsonb       NOT NULL,        -- ActorV1
    updated_at           timestamptz NOT NULL,
    run_count            integer     NOT NULL DEFAULT 0,
    last_run_id          text,
    last_problem         text
);
CREATE INDEX IF NOT EXISTS executive_schedule_due ON reporting_executive.executive_schedule (due_at) WHERE enabled;
