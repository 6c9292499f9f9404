-- Acknowledgement: the deliver routes of every plan, the latest plan of each schedule, and every
-- acknowledgement (keyed on the route id: an ack of an old plan never clears a newer plan's route).
CREATE TABLE plans (
    plan_id         text        PRIMARY KEY,
    schedule_id     text        NOT NULL,
    generated_at    timestamptz NOT NULL,
    alert_level     text        NOT NULL,
    stream_sequence bigint      NOT NULL            -- CAVRA_EVENTS sequence of NotificationPlannedV1
);
CREATE INDEX plans_schedule ON plans (schedule_id, generated_at DESC);

-- The current plan of each schedule: the newest by generated_at, ties broken by stream sequence.
CREATE TABLE latest_plans (
    schedule_id     text        PRIMARY KEY,
    plan_id         text        NOT NULL,
    generated_at    timestamptz NOT NULL,
    stream_sequence bigint      NOT NULL
);
CREATE INDEX latest_plans_plan ON latest_plans (plan_id);

-- One row per deliver route; the latest acknowledgement is denormalised on it.
CREATE TABLE routes (
    route_id                text        PRIMARY KEY,    -- the router's gordroute-... id
    plan_id                 text        NOT NULL,
    schedule_id             text        NOT NULL,
    provider                text        NOT NULL,
    owner                   text        NOT NULL,
    escalation_owner        text        NOT NULL,
    acknowledgement_minutes integer     NOT NULL,
    route_created_at        timestamptz NOT NULL,       -- the plan's generated_at: the SLO clock starts here
    state                   text        NOT NULL DEFAULT 'outstanding',  -- outstanding | acknowledged | dismissed | escalated | resolved
    acknowledgement_id      text,
    acknowledged_by         text,
    acknowledged_at         timestamptz,
    external_ref            text,
    notes                   text
);
CREATE INDEX routes_plan_provider ON routes (plan_id, provider, owner);

-- Every acknowledgement (the audit trail): before and after state, the verified actor.
CREATE TABLE acknowledgements (
    acknowledgement_id    text        PRIMARY KEY,      -- gordack-<16 hex> of (command message id, route id)
    route_id              text        NOT NULL,
    plan_id               text        NOT NULL,
    schedule_id           text        NOT NULL,
    provider              text        NOT NULL,
    owner                 text        NOT NULL,
    acknowledgement_state text        NOT NULL,
    previous_state        text        NOT NULL,
    acknowledged_by       text        NOT NULL,
    acknowledged_at       timestamptz NOT NULL,
    mode                  text        NOT NULL,
    command_id            text        NOT NULL,         -- message id of the RecordAcknowledgementsV1 command
    record                jsonb       NOT NULL          -- cavra.go-backend-pilot.rollback-drill-notification-ack.v1
);
CREATE INDEX acknowledgements_route ON acknowledgements (route_id, acknowledged_at DESC);
CREATE INDEX acknowledgements_schedule ON acknowledgements (schedule_id, acknowledged_at DESC);

-- One-time ack links: a link_id acts once.
CREATE TABLE used_ack_links (
    link_id    text        PRIMARY KEY,
    route_id   text        NOT NULL,
    command_id text        NOT NULL,
    used_at    timestamptz NOT NULL
);
