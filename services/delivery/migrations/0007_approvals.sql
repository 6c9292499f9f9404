-- Governed execution of approval-bound retries (cavra_contracts.approvals): retry acknowledgements,
-- approval plans with their rows, and approval requests bound to the digest of exactly one retry.

CREATE TABLE retry_acks (
    acknowledgement_id    text        PRIMARY KEY,
    family                text        NOT NULL,
    retry_plan_id         text        NOT NULL,
    origin_job_id         text        NOT NULL,
    provider              text        NOT NULL,
    digest                text        NOT NULL,
    acknowledgement_state text        NOT NULL,
    acknowledged_by       text        NOT NULL,
    acknowledged_at       timestamptz NOT NULL,
    document              jsonb       NOT NULL
);
CREATE INDEX retry_acks_key ON retry_acks (family, origin_job_id, provider, acknowledged_at DESC);

CREATE TABLE approval_plans (
    approval_plan_id  text        PRIMARY KEY,
    family            text        NOT NULL,
    generated_at      timestamptz NOT NULL,
    generated_by      text        NOT NULL,    -- the requester: may not decide its approvals
    require_retry_ack boolean     NOT NULL,
    document          jsonb       NOT NULL     -- summary; the rows are approval_plan_rows
);
CREATE INDEX approval_plans_family ON approval_plans (family, generated_at DESC);

CREATE TABLE approval_plan_rows (
    approval_plan_id  text    NOT NULL,
    ordinal           integer NOT NULL,
    origin_job_id     text    NOT NULL,
    provider          text    NOT NULL,
    action            text    NOT NULL,        -- request_approval | wait_for_retry_ack | already_approved
    digest            text    NOT NULL,
    approval_id       text,                    -- the request a request_approval row opened
    row               jsonb   NOT NULL,
    PRIMARY KEY (approval_plan_id, ordinal)
);
CREATE INDEX approval_plan_rows_provider ON approval_plan_rows (approval_plan_id, provider);

-- One request per (approval plan, key); state moves pending -> approved | denied | deferred | expired,
-- approved -> consumed (one-shot) | denied (revoked) | expired.
CREATE TABLE approvals (
    approval_id       text        PRIMARY KEY,
    approval_plan_id  text        NOT NULL,
    family            text        NOT NULL,
    retry_plan_id     text        NOT NULL,
    origin_job_id     text        NOT NULL,
    provider          text        NOT NULL,
    attempt           integer     NOT NULL,
    digest            text        NOT NULL,
    state             text        NOT NULL,
    requested_by      text        NOT NULL,
    requested_at      timestamptz NOT NULL,
    decide_by         timestamptz NOT NULL,
    decision_id       text,
    decided_by        text,
    decided_at        timestamptz,
    execute_by        timestamptz,
    consumed_at       timestamptz,
    execution_id      text,
    external_ref      text        NOT NULL DEFAULT ''
);
CREATE INDEX approvals_key ON approvals (family, origin_job_id, provider, requested_at DESC);
CREATE INDEX approvals_state ON approvals (state, requested_at DESC);
