-- Signed acknowledgement audit packages: the hash chain, the public signing keys, deliveries and
-- delivery schedules. The private signing key is never stored here.

-- The chain's head: one row, locked FOR UPDATE by every append, so replicas never fork the chain.
CREATE TABLE audit_chain_head (
    id             boolean     PRIMARY KEY DEFAULT true CHECK (id),
    sequence       bigint      NOT NULL,
    payload_sha256 text        NOT NULL
);
INSERT INTO audit_chain_head (id, sequence, payload_sha256) VALUES (true, 0, '');

CREATE TABLE audit_packages (
    sequence       bigint      PRIMARY KEY,          -- 1, 2, 3, ... in chain order
    audit_id       text        NOT NULL UNIQUE,      -- gordackaudit-<16 hex>
    previous_hash  text        NOT NULL,             -- payload_sha256 of sequence - 1 ('' for the first)
    payload_sha256 text        NOT NULL,             -- SHA-256 hex of the signed payload bytes
    key_id         text        NOT NULL,
    generated_at   timestamptz NOT NULL,
    generated_by   text        NOT NULL,
    alert_level    text        NOT NULL,
    trigger        text        NOT NULL,             -- api | delivery | schedule
    command_id     text        NOT NULL,             -- message id of the command (or schedule run)
    summary        jsonb       NOT NULL,             -- counts, filters and plan ids (no routes)
    envelope       jsonb       NOT NULL              -- DSSE envelope; its payload is the package, base64
);

-- Public keys that signed packages: valid_until is set when another key takes over.
CREATE TABLE audit_signing_keys (
    key_id      text        PRIMARY KEY,             -- SHA-256 hex of the raw public key
    algorithm   text        NOT NULL,
    public_key  text        NOT NULL,                -- base64 of the raw 32 bytes
    valid_from  timestamptz NOT NULL,
    valid_until timestamptz
);

-- Delivery plans of packages (spec 3.11); the delivery job itself is the delivery service's.
CREATE TABLE audit_deliveries (
    delivery_id     text        PRIMARY KEY,         -- gordackdelivery-<16 hex> = the job id
    audit_id        text        NOT NULL,
    schedule_ref_id text,
    plan            jsonb       NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX audit_deliveries_schedule ON audit_deliveries (schedule_ref_id, created_at DESC);

-- Audit delivery schedules: due_at polled with SKIP LOCKED by every replica.
CREATE TABLE audit_schedules (
    schedule_ref_id   text        PRIMARY KEY,       -- gordackauditschedule-<16 hex>
    schedule_ref      text        NOT NULL,          -- the caller's label
    cadence           text        NOT NULL,
    interval_minutes  integer     NOT NULL,
    filters           jsonb       NOT NULL,
    delivery_provider text        NOT NULL,
    delivery          jsonb       NOT NULL,          -- DeliveryOptions
    created_by        jsonb       NOT NULL,          -- ActorV1
    created_at        timestamptz NOT NULL,
    due_at            timestamptz NOT NULL,
    delivery_count    integer     NOT NULL DEFAULT 0,
    last_delivery_id  text,
    last_delivered_at timestamptz,
    last_problem      text,
    cancelled_at      timestamptz,
    cancelled_by      text
);
CREATE INDEX audit_schedules_due ON audit_schedules (due_at) WHERE cancelled_at IS NULL;
