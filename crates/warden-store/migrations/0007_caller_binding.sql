-- Who filed each request: the authenticated caller (the requester, a broker acting for the
-- requester, or `itsm:<adapter>`). A duplicate `(source, ticket)` is only answered to its
-- filer, and ITSM approvals count only on requests the adapter itself took in. Requests
-- stored before this column existed are taken as filed by their requester.
ALTER TABLE requests ADD COLUMN filed_by TEXT NOT NULL DEFAULT '';
UPDATE requests SET filed_by = requester;

-- The one `source` a broker token may file under.
ALTER TABLE tokens ADD COLUMN source TEXT NULL;

-- Offboarding finds an identity's tokens and pending requests without a scan.
CREATE INDEX tokens_identity ON tokens (identity);
CREATE INDEX requests_requester ON requests (requester, state);
CREATE INDEX requests_subject ON requests (subject, state);

-- Which bundle decides now: the newest row. Every server watches it and switches.
CREATE TABLE bundle_activations (
    seq          BIGINT NOT NULL PRIMARY KEY,
    hash         TEXT   NOT NULL REFERENCES bundles (hash),
    activated_at BIGINT NOT NULL,
    activated_by TEXT   NOT NULL
);
