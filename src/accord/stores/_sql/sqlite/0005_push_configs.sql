-- Accord task store for SQLite, schema version 5: push-notification configs and their
-- delivery outbox (accord/stores/base.py, PushConfigStore).
--
-- One row per webhook registered for a task, keyed by (task_id, config_id), with the
-- task's tenant and owner, which scoped reads filter on as they do on the task's.
-- `data` is the config as the server encoded it (encrypted when a key is configured):
-- opaque bytes here. The row is also the config's outbox: the task's events up to
-- `delivered_seq` are delivered (or predate the config); `failures` counts the failed
-- attempts since the last success; `next_attempt_at` is when the next attempt is due;
-- `holder` is the deliverer that leased the row ('' = not held) until
-- `lease_expires_at`. Both times are epoch seconds on the host's clock, which every
-- process on this file shares. `dead_reason` is why the config was dead-lettered
-- ('' = live). `created_at` is a canonical wall-clock timestamp.
--
-- The foreign key deletes a task's configs with the task (purge, retention): every
-- store connection turns foreign keys on (accord/stores/_sqlite_db.py).
CREATE TABLE push_configs (
    task_id           TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    config_id         TEXT    NOT NULL,
    tenant            TEXT    NOT NULL,
    owner             TEXT    NOT NULL,
    data              BLOB    NOT NULL,
    delivered_seq     INTEGER NOT NULL,
    failures          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   REAL    NOT NULL,
    holder            TEXT    NOT NULL DEFAULT '',
    lease_expires_at  REAL    NOT NULL DEFAULT 0,
    dead_reason       TEXT    NOT NULL DEFAULT '',
    created_at        TEXT    NOT NULL,
    PRIMARY KEY (task_id, config_id)
);

-- The delivery claim: live configs whose next attempt is due, the longest-waiting
-- first (held rows are skipped unless their lease expired; dead letters are not in it).
CREATE INDEX push_configs_due ON push_configs (next_attempt_at, task_id, config_id)
    WHERE dead_reason = '';

-- Dead letters per tenant, in (task_id, config_id) order. Get, list and delete walk
-- the primary key.
CREATE INDEX push_configs_dead ON push_configs (tenant, task_id, config_id)
    WHERE dead_reason <> '';
