-- The newest readiness evaluation the router has seen per schedule (its event's stream sequence in
-- CAVRA_EVENTS): a backlogged, older evaluation never plans once the schedule has moved on.
CREATE TABLE schedule_evaluations (
    schedule_id     text        PRIMARY KEY,
    stream_sequence bigint      NOT NULL,
    status          text        NOT NULL,
    evaluated_at    timestamptz NOT NULL
);
