-- A route's row is written once, when its outcome is final (batched across plans by the
-- outcome writer): no pending rows any more, so no index for them. A redelivered plan reads
-- the final rows of its plan and sends only the rest. Rows left pending by an older release
-- are completed in place by the same write.
DROP INDEX IF EXISTS deliveries_pending;

-- The final secret scan redacts in place and raises an alarm instead of throwing a plan's
-- evidence away: one row per plan whose evidence needed a redaction.
CREATE TABLE redaction_alarms (
    plan_id     text        PRIMARY KEY,
    record_id   text        NOT NULL,
    places      text[]      NOT NULL,                -- field paths (e.g. deliveries[2].owner), never values
    created_at  timestamptz NOT NULL
);
CREATE INDEX redaction_alarms_created ON redaction_alarms (created_at DESC);
