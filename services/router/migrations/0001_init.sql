-- Router: notification plans, one row per route decision (the route history), suppression trends.
CREATE TABLE plans (
    plan_id      text        PRIMARY KEY,            -- gordn-<16 hex>, unique per plan
    schedule_id  text        NOT NULL,
    status       text        NOT NULL,               -- schedule readiness the plan was built from
    alert_level  text        NOT NULL,
    trigger      text        NOT NULL,               -- schedule_evaluated | api
    generated_by text        NOT NULL,
    generated_at timestamptz NOT NULL,
    document     jsonb       NOT NULL,               -- cavra.go-backend-pilot.rollback-drill-notification-plan.v1
    event        jsonb       NOT NULL                -- cavra.go-backend-pilot.rollback-drill-notification.v1
);
CREATE INDEX plans_schedule ON plans (schedule_id, generated_at DESC);

CREATE TABLE route_decisions (
    plan_id                   text        NOT NULL REFERENCES plans (plan_id),
    route_key                 text        NOT NULL,
    route_id                  text        NOT NULL,
    schedule_id               text        NOT NULL,
    alert_level               text        NOT NULL,
    owner                     text        NOT NULL,
    escalation_owner          text        NOT NULL,
    provider                  text        NOT NULL,
    action                    text        NOT NULL,  -- deliver | suppress
    category                  text        NOT NULL,  -- deliver | healthy_schedule | maintenance_window | owner_calendar | other
    reason                    text        NOT NULL,
    acknowledgement_minutes   integer     NOT NULL,
    maintenance_window_id     text,
    maintenance_window_reason text,
    owner_available           boolean     NOT NULL,
    owner_availability_reason text        NOT NULL,
    next_due_at               text        NOT NULL,
    created_at                timestamptz NOT NULL,
    PRIMARY KEY (plan_id, route_key)
);
CREATE INDEX route_decisions_created ON route_decisions (created_at DESC, route_id);
CREATE INDEX route_decisions_schedule ON route_decisions (schedule_id, created_at DESC);
CREATE INDEX route_decisions_suppressed ON route_decisions (category, created_at DESC) WHERE action = 'suppress';

-- One automatic plan per schedule, readiness and due date: a flapping evaluation never storms.
CREATE TABLE auto_plans (
    schedule_id text        NOT NULL,
    status      text        NOT NULL,
    next_due_at text        NOT NULL,
    plan_id     text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, status, next_due_at)
);

-- A trend is stored once per distinct content (trend_id has no timestamp).
CREATE TABLE suppression_trends (
    trend_id     text        PRIMARY KEY,
    generated_by text        NOT NULL,
    document     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL
);
