-- Which pending jobs exist at most once per (kind, target) is said by whoever schedules them
-- (`Tx::schedule_job_once`), not by a list of kind names in the store: the flag replaces
-- migration 0005's `kind IN (...)` predicate. Jobs pending from before are flagged by the
-- kinds that were periodic then.
ALTER TABLE jobs ADD COLUMN singleton INTEGER NOT NULL DEFAULT 0;

UPDATE jobs SET singleton = 1 WHERE kind IN ('reconcile', 'itsm_poll');

DROP INDEX jobs_singleton;

CREATE UNIQUE INDEX jobs_singleton ON jobs (kind, target_id) WHERE state = 'pending' AND singleton = 1;
