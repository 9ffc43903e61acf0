-- The web console's sign-in. Only SHA-256 hashes of secrets are kept, like tokens: a leaked
-- database holds no working session or sign-in link.
--
-- `console_sessions`: one per browser sign-in. A session ends at `expires_at` (absolute),
-- after `idle_for` milliseconds without use (judged against `seen_at`), or when signed out.
-- `csrf` is the form token bound to the session (random, not secret from its own browser).
CREATE TABLE console_sessions (
    hash        TEXT PRIMARY KEY,
    identity    TEXT NOT NULL,
    method      TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    seen_at     BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    ended_at    BIGINT NULL
);

CREATE INDEX console_sessions_identity ON console_sessions (identity);

-- One-time sign-in links (`warden login-link`): used at most once, before `expires_at`.
CREATE TABLE login_links (
    hash        TEXT PRIMARY KEY,
    identity    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT NULL
);

-- An OIDC sign-in under way: the browser's `state` (hashed) with the nonce and the PKCE
-- verifier it must come back to, spent once.
CREATE TABLE oidc_logins (
    state_hash  TEXT PRIMARY KEY,
    nonce       TEXT NOT NULL,
    verifier    TEXT NOT NULL,
    return_to   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- An approver's comment on their answer (the console asks for one; the API and ITSMs may
-- leave it out).
ALTER TABLE approvals ADD COLUMN comment TEXT NULL;

-- A person's requests, newest first (the console's "my access"): one ordered index walk
-- for what they asked, one for what they would receive.
CREATE INDEX requests_requester_created ON requests (requester, created_at, id);
CREATE INDEX requests_subject_created ON requests (subject, created_at, id);
