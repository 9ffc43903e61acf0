-- Accounts Warden made on targets: one row per grant generation (1, then one more per
-- rotation). Written before the target is asked, so a crash between the target call and the
-- commit that follows leaves a row naming what to look for, never an unknown account.
-- `sealed` holds the minted credential encrypted under the server's key until the subject
-- fetches it once; it is cleared on delivery and when the account is removed.
CREATE TABLE accounts (
    grant_id       TEXT   NOT NULL REFERENCES grants (id),
    generation     BIGINT NOT NULL,
    connector      TEXT   NOT NULL,
    name           TEXT   NOT NULL,
    holds          TEXT   NOT NULL,
    sealed         TEXT,
    created_at     BIGINT NOT NULL,
    provisioned_at BIGINT,
    delivered_at   BIGINT,
    removed_at     BIGINT,
    PRIMARY KEY (grant_id, generation)
);

-- Reconciliation lists one connector's live accounts.
CREATE INDEX accounts_connector ON accounts (connector, removed_at);
