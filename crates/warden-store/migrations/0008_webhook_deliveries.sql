-- Webhook deliveries already taken, kept for 24 hours so a replay of a captured delivery is
-- refused: keyed on the SHA-256 of the raw body for HMAC and shared-secret webhooks (which
-- sign no timestamp), on the signed `webhook-id` for Standard Webhooks. Entries older than a
-- day are deleted as new ones arrive, through the index on `at`. Delivery marks kept so far in
-- `itsm_marks` (which never expired) move here.
CREATE TABLE itsm_deliveries (
    adapter  TEXT   NOT NULL,
    delivery TEXT   NOT NULL,
    at       BIGINT NOT NULL,
    PRIMARY KEY (adapter, delivery)
);

CREATE INDEX itsm_deliveries_at ON itsm_deliveries (at);

INSERT INTO itsm_deliveries (adapter, delivery, at)
    SELECT adapter, SUBSTR(mark, 10), at FROM itsm_marks WHERE mark LIKE 'delivery:%';

DELETE FROM itsm_marks WHERE mark LIKE 'delivery:%';
