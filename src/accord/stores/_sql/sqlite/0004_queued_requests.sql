-- Accord task store for SQLite, schema version 4: queued work (accord/stores/base.py).
--
-- A queued lease row (holder '') carries what the instance that claims it needs of the
-- request besides the message, which is in the task's history: its configuration and
-- metadata, as JSON ('' when there are none, and on rows written before).
ALTER TABLE task_leases ADD COLUMN request TEXT NOT NULL DEFAULT '';

-- Queued rows are "expired" from the moment they are queued: the recovery sweep's
-- index leaves them out, and the claims walk an index of their own, oldest first.
DROP INDEX task_leases_by_expiry;
CREATE INDEX task_leases_by_expiry ON task_leases (expires_at) WHERE holder <> '';
CREATE INDEX task_leases_queue ON task_leases (expires_at, task_id) WHERE holder = '';
