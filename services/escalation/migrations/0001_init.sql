-- Escalation: the deliver routes of the current plan of each schedule with their acknowledgement state
-- and timers, the latest acknowledgement per route, and stored escalation plans (spec 3.6).

-- The current plan of each schedule: a newer plan supersedes the older one's routes.
CREATE TABLE current_plans (
    schedule_id  text        PRIMARY KEY,
    plan_id      text        NOT NULL,
    generated_at timestamptz NOT NULL
);

CREATE TABLE routes (
    route_id                text        PRIMARY KEY,     -- the router's route id (gordroute-...)
    plan_id                 text        NOT NULL,
    schedule_id             text        NOT NULL,
    position                integer     NOT NULL,        -- order of the route in its plan
    provider                text        NOT NULL,
    owner                   text        NOT NULL,
    escalation_owner        text        NOT NULL,
    escalation_providers    text[]      NOT NULL,        -- empty: the route's own provider
    acknowledgement_minutes integer     NOT NULL,        -- the SLO the router stamped on the route
    generated_at            timestamptz NOT NULL,        -- the plan's
    reminder_due_at         timestamptz,                 -- generated_at + reminder_minutes (below the SLO)
    breach_due_at           timestamptz NOT NULL,        -- generated_at + acknowledgement_minutes
    ack_state               text        NOT NULL DEFAULT 'outstanding',
    acknowledged_at         timestamptz,
    is_current              boolean     NOT NULL DEFAULT true,
    reminded_at             timestamptz,
    escalated_at            timestamptz,
    due_at                  timestamptz                  -- next timer instant; NULL: nothing pending
);
CREATE INDEX routes_due ON routes (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX routes_current ON routes (schedule_id, position) WHERE is_current;
CREATE INDEX routes_plan ON routes (plan_id);

-- The latest acknowledgement of each route, also when it arrives before the route's plan.
CREATE TABLE acknowledgements (
    route_id           text        PRIMARY KEY,
    acknowledgement_id text        NOT NULL,
    state              text        NOT NULL,
    acknowledged_at    timestamptz NOT NULL
);

-- Escalation plans: stored once per content (plan_id hashes the routes, no timestamp).
CREATE TABLE escalation_plans (
    plan_id                 text        PRIMARY KEY,     -- gordesc-<16 hex>
    generated_at            timestamptz NOT NULL,
    generated_by            text        NOT NULL,
    alert_level             text        NOT NULL,
    acknowledgement_minutes integer     NOT NULL,
    route_count             integer     NOT NULL,
    outstanding_count       integer     NOT NULL,
    breached_count          integer     NOT NULL,
    actor                   jsonb       NOT NULL
);

CREATE TABLE escalation_plan_routes (
    escalation_plan_id      text             NOT NULL,
    position                integer          NOT NULL,
    schedule_id             text             NOT NULL,
    plan_id                 text             NOT NULL,
    route_id                text             NOT NULL,
    provider                text             NOT NULL,
    owner                   text             NOT NULL,
    acknowledgement_state   text             NOT NULL,
    acknowledged            boolean          NOT NULL,
    age_minutes             double precision,
    acknowledgement_minutes integer          NOT NULL,
    breached                boolean          NOT NULL,
    recommended_action      text             NOT NULL,
    PRIMARY KEY (escalation_plan_id, position)
);
