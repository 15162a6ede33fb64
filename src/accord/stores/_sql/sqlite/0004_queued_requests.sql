-- Accord task store for SQLite, schema version 4: queued work (accord/stores/base.py).
--
-- A queued lease row (holder '') carries what the instance that claims it needs of the
-- request besides the message, which is in the task's history: its configuration and
-- metadata, as JSON ('' when there are none, and on rows written before).
ALTER TABLE task_leases ADD COLUMN request TEXT NOT NULL DEFAULT '';
