-- Scheduler: rollback drill schedules and the drill runs that prove the fallback path.
CREATE TABLE schedules (
    schedule_id  text        PRIMARY KEY,
    document     jsonb       NOT NULL,               -- cavra.go-backend-rollback-drill-schedule.v1
    version      integer     NOT NULL DEFAULT 1,     -- bumped on every replace or advance
    source       text        NOT NULL,               -- api | file:<path>
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    status       text        NOT NULL,               -- readiness at the last evaluation
    state        jsonb       NOT NULL,               -- ScheduleStateV1 at the last evaluation
    evaluated_at timestamptz NOT NULL,
    due_at       timestamptz                         -- next instant time alone can change the readiness
);
CREATE INDEX schedules_due_at ON schedules (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX schedules_created ON schedules (created_at, schedule_id);

CREATE TABLE drill_runs (
    drill_id     text        PRIMARY KEY,
    schedule_id  text,                               -- NULL: shared history (the original one-file model)
    environment  text        NOT NULL DEFAULT '',
    executed_at  timestamptz NOT NULL,
    status       text        NOT NULL,
    document     jsonb       NOT NULL,               -- DrillRunV1
    source       text        NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX drill_runs_schedule ON drill_runs (schedule_id, executed_at DESC);
