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
    schedule_id             text        COLLATE "C" NOT NULL,  -- plans list schedules in byte order
    position                integer     NOT NULL,        -- order of the route in its plan
    provider                text        NOT NULL,
    owner                   text        NOT NULL,
    escalation_owner        text        NOT NULL,
    escalation_providers    text[]      NOT NULL,        -- empty: the route's own provider
    acknowledgement_minutes integer     NOT NULL,        -- the SLO the router stamped on the route
    generated_at            timestamptz NOT NULL,        -- the plan's
    generated_micros        bigint      NOT NULL,        -- the same, microseconds since the epoch
    reminder_due_at         timestamptz,                 -- generated_at + reminder_minutes (below the SLO)
    breach_due_at           timestamptz NOT NULL,        -- generated_at + acknowledgement_minutes
    ack_state               text        NOT NULL DEFAULT 'outstanding',
    acknowledged_at         timestamptz,
    is_current              boolean     NOT NULL DEFAULT true,
    reminded_at             timestamptz,
    escalated_at            timestamptz,
    due_at                  timestamptz,                 -- next timer instant; NULL: nothing pending
    line_head               text        NOT NULL         -- the fixed start of its plan line (domain.plan.line_head)
);
CREATE INDEX routes_due ON routes (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX routes_current ON routes (schedule_id, position) WHERE is_current;  -- plan order
CREATE INDEX routes_plan ON routes (plan_id);

-- The latest acknowledgement of each route, also when it arrives before the route's plan.
CREATE TABLE acknowledgements (
    route_id           text        PRIMARY KEY,
    acknowledgement_id text        NOT NULL,
    state              text        NOT NULL,
    acknowledged_at    timestamptz NOT NULL
);

-- Escalation plans: stored once per content (plan_id hashes the routes, no timestamp). A plan may
-- hold 100,000 routes: they are stored as one page per schedule (its routes' canonical lines,
-- domain.plan.route_line), written by one INSERT ... SELECT inside the database.
CREATE SEQUENCE escalation_plan_keys;

CREATE TABLE escalation_plans (
    plan_id                 text        PRIMARY KEY,     -- gordesc-<16 hex>
    plan_key                bigint      NOT NULL UNIQUE, -- its pages
    generated_at            timestamptz NOT NULL,
    generated_by            text        NOT NULL,
    alert_level             text        NOT NULL,
    acknowledgement_minutes integer     NOT NULL,
    route_count             integer     NOT NULL,
    outstanding_count       integer     NOT NULL,
    breached_count          integer     NOT NULL,
    actor                   jsonb       NOT NULL
);

CREATE TABLE escalation_plan_pages (
    plan_key       bigint  NOT NULL,
    first_position integer NOT NULL,                     -- position of the page's first route in the plan
    route_count    integer NOT NULL,
    lines          text    NOT NULL,                     -- one line per route, newline-separated
    PRIMARY KEY (plan_key, first_position)
);
