-- Warden's schema, version 1. The same text runs on SQLite and PostgreSQL, so it keeps to
-- portable SQL: TEXT and BIGINT only, times as unix milliseconds, JSON as TEXT, ids chosen
-- by the application (no autoincrement, no serial).

CREATE TABLE bundles (
    hash      TEXT   NOT NULL PRIMARY KEY,
    files     TEXT   NOT NULL,
    stored_at BIGINT NOT NULL
);

CREATE TABLE requests (
    id                  TEXT   NOT NULL PRIMARY KEY,
    source              TEXT   NOT NULL,
    ticket              TEXT   NOT NULL,
    requester           TEXT   NOT NULL,
    subject             TEXT   NOT NULL,
    system              TEXT,
    role                TEXT,
    state               TEXT   NOT NULL,
    request_json        TEXT   NOT NULL,
    decision_json       TEXT   NOT NULL,
    outcome             TEXT   NOT NULL,
    bundle_hash         TEXT   NOT NULL,
    input_hash          TEXT   NOT NULL,
    decided_at          BIGINT NOT NULL,
    approval_expires_at BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    CONSTRAINT requests_source_ticket UNIQUE (source, ticket)
);

-- Approval windows lapse by a scheduled job, but an operator view lists requests by state.
CREATE INDEX requests_state ON requests (state, created_at);

CREATE TABLE approvals (
    request_id TEXT   NOT NULL REFERENCES requests (id),
    approver   TEXT   NOT NULL,
    decision   TEXT   NOT NULL CHECK (decision IN ('approve', 'reject')),
    at         BIGINT NOT NULL,
    PRIMARY KEY (request_id, approver)
);

CREATE TABLE grants (
    id               TEXT   NOT NULL PRIMARY KEY,
    request_id       TEXT   NOT NULL UNIQUE REFERENCES requests (id),
    subject          TEXT   NOT NULL,
    system           TEXT   NOT NULL,
    role             TEXT   NOT NULL,
    state            TEXT   NOT NULL,
    duration_seconds BIGINT NOT NULL,
    activated_at     BIGINT,
    expires_at       BIGINT,
    revoked_at       BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- Expiry and the overdue count are range scans on this index, never a load of every grant.
CREATE INDEX grants_state_expires ON grants (state, expires_at);
-- Separation of duties asks for one subject's grants on every decision.
CREATE INDEX grants_subject ON grants (subject, state);

CREATE TABLE tokens (
    id         TEXT   NOT NULL PRIMARY KEY,
    identity   TEXT   NOT NULL,
    scopes     TEXT   NOT NULL,
    hash       TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE audit_events (
    seq          BIGINT NOT NULL PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT   NOT NULL,
    action       TEXT   NOT NULL,
    request_id   TEXT,
    grant_id     TEXT,
    before_state TEXT,
    after_state  TEXT,
    bundle_hash  TEXT,
    data         TEXT   NOT NULL,
    prev_hash    TEXT   NOT NULL,
    hash         TEXT   NOT NULL
);

-- One row: the last event's seq and hash. Appenders lock it, which serialises them.
CREATE TABLE audit_head (
    id   BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT   NOT NULL
);

-- seq 0 and the genesis hash (GENESIS_HASH in audit.rs): the first event links to these.
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, 'sha256:0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE jobs (
    id          TEXT   NOT NULL PRIMARY KEY,
    kind        TEXT   NOT NULL,
    target_id   TEXT   NOT NULL,
    due_at      BIGINT NOT NULL,
    state       TEXT   NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
    attempts    BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Claiming reads the earliest due pending jobs; with a million rows this stays a short range scan.
CREATE INDEX jobs_state_due ON jobs (state, due_at);
