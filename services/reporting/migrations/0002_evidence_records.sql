-- Recorded events (every RecordedEvent, spec §3.0b) in the read models: the history filters of spec §3.9
-- left from the base set, what a replaceable item counted, recovery rows and pending approvals.

-- audit_id / delivery_id / cadence filters (spec §3.9): the item's own value, or its document's.
ALTER TABLE history_items
    ADD COLUMN audit_id    text  NOT NULL DEFAULT '',
    ADD COLUMN delivery_id text  NOT NULL DEFAULT '',
    ADD COLUMN cadence     text  NOT NULL DEFAULT '',
    -- A recorded event's item: every counter it moved, with its amount, so a newer announcement of
    -- the same record (same session_id) takes back exactly what the older one counted.
    ADD COLUMN counted     jsonb;
CREATE INDEX history_audit ON history_items (audit_id, created_at DESC, seq DESC, ordinal DESC) INCLUDE (item_id)
    WHERE audit_id <> '';
CREATE INDEX history_delivery ON history_items (delivery_id, created_at DESC, seq DESC, ordinal DESC) INCLUDE (item_id)
    WHERE delivery_id <> '';
CREATE INDEX history_cadence ON history_items (cadence, created_at DESC, seq DESC, ordinal DESC) INCLUDE (item_id)
    WHERE cadence <> '';

-- One row per (playbook, provider) of a connector recovery playbook, with its latest closure (spec
-- §3.19). A closure applied before its playbook waits here with no generated_at: it is no recovery
-- until the playbook comes. Open = playbook known and latest closure not resolved|mitigated; breached =
-- open and older than the recovery SLO at query time (counted over the recent open rows only).
CREATE TABLE recoveries (
    playbook_id   text        NOT NULL,
    provider      text        NOT NULL,
    generated_at  timestamptz,
    closure_state text        NOT NULL DEFAULT 'open',
    closed_at     timestamptz,
    closure_seq   bigint      NOT NULL DEFAULT 0,
    is_open       boolean     GENERATED ALWAYS AS
        (generated_at IS NOT NULL AND closure_state NOT IN ('resolved', 'mitigated')) STORED,
    PRIMARY KEY (playbook_id, provider)
);
CREATE INDEX recoveries_open ON recoveries (generated_at) WHERE is_open;

-- Retry execution approval plans (the newest one's approval_required_count) and the decisions about
-- their retries: approvals pending = required - retries of the newest plan decided.
CREATE TABLE approval_plans (
    approval_plan_id text        PRIMARY KEY,
    created_at       timestamptz NOT NULL,
    seq              bigint      NOT NULL,
    required_count   integer     NOT NULL
);
CREATE INDEX approval_plans_newest ON approval_plans (created_at DESC, seq DESC);
CREATE TABLE approval_decisions (
    decision_id      text PRIMARY KEY,
    approval_plan_id text NOT NULL,
    decision_key     text NOT NULL,
    approval_state   text NOT NULL
);
CREATE INDEX approval_decisions_plan ON approval_decisions (approval_plan_id, decision_key);
