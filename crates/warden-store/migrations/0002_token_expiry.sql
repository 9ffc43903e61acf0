-- Tokens end: a minted API token carries its expiry, checked on every use.
ALTER TABLE tokens ADD COLUMN expires_at BIGINT NULL;
