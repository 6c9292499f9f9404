-- Reporting: read models built only from CAVRA_EVENTS (never another service's tables).
-- Every row is a pure function of the events applied: positions are (created_at, stream sequence,
-- ordinal within the event), and counters move in the transaction that applies the event.

-- One row per history item (spec §3.9): plans, delivery records, acknowledgements, escalation plans,
-- automatic escalations. `document` is the metadata record the history answers with.
CREATE TABLE history_items (
    item_id                   text        PRIMARY KEY,
    metadata_kind             text        NOT NULL,
    created_at                timestamptz NOT NULL,
    seq                       bigint      NOT NULL,   -- stream sequence of the event that made it
    ordinal                   integer     NOT NULL,   -- its place among that event's items
    schedule_id               text        NOT NULL DEFAULT '',
    plan_id                   text        NOT NULL DEFAULT '',
    acknowledgement_state     text        NOT NULL DEFAULT '',
    source_key                text        NOT NULL DEFAULT '',  -- connector_delivery_source filter (§3.9)
    delivery_success          boolean,                          -- delivery records only
    alert_level               text        NOT NULL DEFAULT '',
    document                  jsonb       NOT NULL
);
-- Every page index carries item_id: an offset walks the index alone (index-only), then fetches one page.
CREATE INDEX history_position ON history_items (created_at DESC, seq DESC, ordinal DESC) INCLUDE (item_id);
CREATE INDEX history_schedule ON history_items (schedule_id, created_at DESC, seq DESC, ordinal DESC) INCLUDE (item_id);
CREATE INDEX history_kind ON history_items (metadata_kind, created_at DESC, seq DESC, ordinal DESC) INCLUDE (item_id);
CREATE INDEX history_state ON history_items (acknowledgement_state, created_at DESC, seq DESC, ordinal DESC) INCLUDE (item_id)
    WHERE acknowledgement_state <> '';
CREATE INDEX history_source ON history_items (source_key, created_at DESC, seq DESC, ordinal DESC) INCLUDE (item_id)
    WHERE source_key <> '';
CREATE INDEX history_success ON history_items (delivery_success, created_at DESC, seq DESC, ordinal DESC) INCLUDE (item_id)
    WHERE delivery_success IS NOT NULL;
CREATE INDEX history_alert ON history_items (alert_level, created_at DESC, seq DESC, ordinal DESC) INCLUDE (item_id)
    WHERE alert_level <> '';
-- A job delivery learns its schedule from its plan, whichever event came first.
CREATE INDEX history_unscheduled ON history_items (plan_id) WHERE schedule_id = '';

-- The provider filter matches an item's provider or any of its provider lists: one row per pair.
CREATE TABLE item_providers (
    item_id    text        NOT NULL,
    provider   text        NOT NULL,
    created_at timestamptz NOT NULL,
    seq        bigint      NOT NULL,
    ordinal    integer     NOT NULL,
    PRIMARY KEY (item_id, provider)
);
CREATE INDEX item_providers_position ON item_providers (provider, created_at DESC, seq DESC, ordinal DESC) INCLUDE (item_id);

-- Plans seen, and the current (newest) plan of each schedule.
CREATE TABLE plans (
    plan_id      text        PRIMARY KEY,
    schedule_id  text        NOT NULL,
    generated_at timestamptz NOT NULL,
    seq          bigint      NOT NULL
);
CREATE TABLE schedules (
    schedule_id  text        PRIMARY KEY,
    plan_id      text        NOT NULL,
    generated_at timestamptz NOT NULL,
    seq          bigint      NOT NULL
);

-- Every route decision of every plan; outstanding / breached are derived from its latest state.
CREATE TABLE routes (
    route_id     text        PRIMARY KEY,
    plan_id      text        NOT NULL,
    schedule_id  text        NOT NULL,
    provider     text        NOT NULL,
    owner        text        NOT NULL,
    action       text        NOT NULL,
    is_current   boolean     NOT NULL DEFAULT false,
    ack_state    text        NOT NULL DEFAULT 'outstanding',
    escalated    boolean     NOT NULL DEFAULT false,
    outstanding  boolean     GENERATED ALWAYS AS
        (is_current AND action = 'deliver' AND ack_state NOT IN ('acknowledged', 'resolved')) STORED,
    breached     boolean     GENERATED ALWAYS AS
        (is_current AND action = 'deliver' AND ack_state NOT IN ('acknowledged', 'resolved') AND escalated) STORED
);
CREATE INDEX routes_plan ON routes (plan_id);
CREATE INDEX routes_outstanding ON routes (schedule_id, provider, owner, route_id) WHERE outstanding;

-- The latest acknowledgement of each route and the routes escalated, kept apart from `routes` so an
-- acknowledgement or escalation applied before its plan still counts when the plan comes.
CREATE TABLE route_acks (
    route_id        text        PRIMARY KEY,
    state           text        NOT NULL,
    acknowledged_at timestamptz NOT NULL,
    seq             bigint      NOT NULL,
    ordinal         integer     NOT NULL
);
CREATE TABLE escalated_routes (
    route_id text NOT NULL,
    kind     text NOT NULL,                -- reminder | escalation
    PRIMARY KEY (route_id, kind)
);

-- Counters the dashboard and the history totals read (no count(*) per request).
CREATE TABLE counters (
    name  text COLLATE "C" PRIMARY KEY,    -- "C": a name prefix is a range of the primary key
    value bigint NOT NULL
);

-- The time of the latest applied event: the dashboard's generated_at.
CREATE TABLE read_model_state (
    id              integer     PRIMARY KEY CHECK (id = 1),
    latest_event_at timestamptz
);
INSERT INTO read_model_state (id, latest_event_at) VALUES (1, NULL);
