-- A comment Warden decided to post on a ticket (an approval it refused, a ticket it cannot
-- map) is noted on the mark that records the decision, in the same transaction, and posted
-- by a durable job: the worker's transaction never waits on the ITSM, and a comment is never
-- lost or posted twice for one mark.
ALTER TABLE itsm_marks ADD COLUMN ticket TEXT NULL;

ALTER TABLE itsm_marks ADD COLUMN note TEXT NULL;
