-- Why a grant ended (`it expired`, `the ticket was closed`, `revoked by erin: incident`), for
-- the ticket write-back that reports the confirmed revocation. The first reason wins.
ALTER TABLE grants ADD COLUMN end_reason TEXT NULL;
