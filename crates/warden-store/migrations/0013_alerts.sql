-- Outbound alerts read the audit trail as their outbox. `alert_cursors` is, per configured
-- alert, the seq of the last audit event its scan has handed to delivery jobs: a scan reads
-- only events after it, and moves it in the transaction that schedules their deliveries.
CREATE TABLE alert_cursors (
    alert TEXT   NOT NULL PRIMARY KEY,
    seq   BIGINT NOT NULL
);
