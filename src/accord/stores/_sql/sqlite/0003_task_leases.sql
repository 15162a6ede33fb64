-- Accord task store for SQLite, schema version 3: execution leases (accord/stores/base.py).
--
-- One row per running execution: the instance (`holder`) that runs the task, until
-- `expires_at` (epoch seconds; every instance on this file shares the host's clock).
-- No foreign key to `tasks`: the lease is taken before the task's first write (an
-- execution that only replies with a message never creates the task).
CREATE TABLE task_leases (
    task_id           TEXT    NOT NULL PRIMARY KEY,
    tenant            TEXT    NOT NULL,
    holder            TEXT    NOT NULL,
    attempt           INTEGER NOT NULL,
    expires_at        REAL    NOT NULL,
    cancel_requested  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- The recovery sweep (expired leases) and the heartbeat (one holder's leases).
CREATE INDEX task_leases_by_expiry ON task_leases (expires_at);
CREATE INDEX task_leases_by_holder ON task_leases (holder);
