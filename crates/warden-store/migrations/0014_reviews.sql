-- Reviews: one per break-glass grant (opened with the grant), and one per run of a
-- `[[review]]` campaign. A review is `open` until closed; past `due_at` an open review is
-- overdue. Items are what reviewers decide on: a grant, or a non-human identity.
CREATE TABLE reviews (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    campaign    TEXT NULL,
    state       TEXT NOT NULL,
    subject     TEXT NULL,
    grant_id    TEXT NULL,
    opened_at   BIGINT NOT NULL,
    due_at      BIGINT NOT NULL,
    closed_at   BIGINT NULL,
    outcome     TEXT NULL,
    closed_by   TEXT NULL,
    comment     TEXT NULL,
    on_no_answer TEXT NULL
);

-- Whether an identity's emergency path is closed: its open break-glass reviews.
CREATE INDEX reviews_open_by_subject ON reviews (state, subject);
-- A campaign's runs, newest last: when it last started.
CREATE INDEX reviews_by_campaign ON reviews (campaign, opened_at);
-- The review of one emergency grant.
CREATE UNIQUE INDEX reviews_by_grant ON reviews (grant_id);

CREATE TABLE review_items (
    review_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    grant_id    TEXT NULL,
    identity    TEXT NOT NULL,
    system      TEXT NULL,
    role        TEXT NULL,
    reviewers   TEXT NOT NULL,
    decision    TEXT NULL,
    decided_by  TEXT NULL,
    decided_at  BIGINT NULL,
    comment     TEXT NULL,
    PRIMARY KEY (review_id, id)
);

-- The evidence report's completion figure: items that fell due in a window.
CREATE INDEX reviews_by_due ON reviews (due_at);

-- A break-glass review shows the audit events of its grant.
CREATE INDEX audit_events_grant ON audit_events (grant_id, seq);
