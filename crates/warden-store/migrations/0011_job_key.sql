-- A job's column for what it is about is its key (a grant id, `GRANT:GENERATION`,
-- `ITSM:TICKET`, a connector's name, …), not a "target": that word names a connector's
-- real service. Indexes on the column follow the rename on both backends.
ALTER TABLE jobs RENAME COLUMN target_id TO job_key;
