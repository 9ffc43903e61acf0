-- Periodic jobs (one reconciliation per connector, one poll per ITSM) exist at most once
-- while pending, however many servers start at the same instant and schedule them.
CREATE UNIQUE INDEX jobs_singleton ON jobs (kind, target_id)
    WHERE state = 'pending' AND kind IN ('reconcile', 'itsm_poll');
