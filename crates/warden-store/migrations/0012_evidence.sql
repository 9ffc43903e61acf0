-- The evidence report reads grants by when they were live, when they ended and when their
-- removal was asked for, decisions by when they were taken, and audit events by action over
-- a window: each is an index here, so a report over a month reads that month, not the table.
--
-- `revoking_at` is when a grant's removal was asked for (its expiry came, or a trigger: a
-- revocation, a closed ticket, offboarding). Time to remove after a trigger is counted from
-- it. Grants that moved to revoking before this column existed take it from their audit
-- events.
ALTER TABLE grants ADD COLUMN revoking_at BIGINT NULL;

UPDATE grants SET revoking_at = (
    SELECT MIN(e.at) FROM audit_events e
    WHERE e.grant_id = grants.id AND e.action IN ('grant.revoke_requested', 'grant.expired')
) WHERE state IN ('revoking', 'revoked');

CREATE INDEX grants_revoked_at ON grants (revoked_at);
CREATE INDEX grants_expires_at ON grants (expires_at);
CREATE INDEX requests_decided_at ON requests (decided_at);
CREATE INDEX audit_events_action_at ON audit_events (action, at);
-- Separation of duties on /metrics: who holds a role of an `[[sod]]` set now.
CREATE INDEX grants_role_state ON grants (role, state);
