-- Accord task store for PostgreSQL, schema version 3: queued work
-- (accord/stores/base.py).
--
-- A queued lease row (holder '') carries what the instance that claims it needs of the
-- request besides the message, which is in the task's history: its configuration and
-- metadata, as JSON ('' when there are none, and on rows written before). The table's
-- row-level security (0002) covers the new column.
ALTER TABLE task_leases ADD COLUMN request text NOT NULL DEFAULT '';
