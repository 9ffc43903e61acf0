-- ITSM bookkeeping. `itsm_marks` remembers what was already handled per adapter — webhook
-- delivery ids (a retried delivery is acknowledged and ignored) and approval ids read from
-- tickets (an approval counts, or is answered, once). `itsm_cursors` is each poller's
-- last-seen ticket update, so polling resumes where it stopped after a restart.
CREATE TABLE itsm_marks (
    adapter TEXT   NOT NULL,
    mark    TEXT   NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (adapter, mark)
);

CREATE TABLE itsm_cursors (
    adapter TEXT   NOT NULL PRIMARY KEY,
    cursor  BIGINT NOT NULL
);
