-- Accord task store for PostgreSQL, schema version 4: push-notification configs and
-- their delivery outbox (accord/stores/base.py, PushConfigStore).
--
-- One row per webhook registered for a task, keyed by (task_id, config_id), with the
-- task's tenant and owner, which scoped reads filter on as they do on the task's.
-- `data` is the config as the server encoded it (encrypted when a key is configured):
-- opaque bytes here. The row is also the config's outbox: the task's events up to
-- `delivered_seq` are delivered (or predate the config); `failures` counts the failed
-- attempts since the last success; `next_attempt_at` is when the next attempt is due;
-- `holder` is the deliverer that leased the row ('' = not held) until
-- `lease_expires_at`. Both times are on the database's clock (`now()`), so instance
-- clocks need not agree. `dead_reason` is why the config was dead-lettered ('' = live).
--
-- The foreign key deletes a task's configs with the task (purge, retention). Ids use
-- the "C" collation, as in the other tables: ListTaskPushNotificationConfigs pages by
-- `config_id` in byte order, the same as the other stores.
CREATE TABLE push_configs (
    task_id           text COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    config_id         text COLLATE "C" NOT NULL,
    tenant            text NOT NULL,
    owner             text NOT NULL,
    data              bytea NOT NULL,
    delivered_seq     integer NOT NULL,
    failures          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    holder            text NOT NULL DEFAULT '',
    lease_expires_at  timestamptz NOT NULL DEFAULT '-infinity',
    dead_reason       text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
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

-- Row-level security as on `tasks` (0001): a tenant's rows, or every row while
-- `accord.all_tenants` is 'on' (delivery is maintenance: it spans tenants).
ALTER TABLE push_configs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON push_configs USING (
    tenant = current_setting('accord.tenant', true)
    OR current_setting('accord.all_tenants', true) = 'on');
