-- Accord task store for PostgreSQL, schema version 2: execution leases
-- (accord/stores/base.py).
--
-- One row per running execution: the instance (`holder`) that runs the task, until
-- `expires_at` on the database's clock (`now()`), so instance clocks need not agree.
-- No foreign key to `tasks`: the lease is taken before the task's first write (an
-- execution that only replies with a message never creates the task).
CREATE TABLE task_leases (
    task_id           text COLLATE "C" NOT NULL PRIMARY KEY,
    tenant            text NOT NULL,
    holder            text NOT NULL,
    attempt           integer NOT NULL,
    expires_at        timestamptz NOT NULL,
    cancel_requested  boolean NOT NULL DEFAULT false
);

-- The recovery sweep (expired leases) and the heartbeat (one holder's leases).
CREATE INDEX task_leases_by_expiry ON task_leases (expires_at);
CREATE INDEX task_leases_by_holder ON task_leases (holder);

-- Leases are maintenance rows: the runtime reads and writes them across tenants.
ALTER TABLE task_leases ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON task_leases USING (
    tenant = current_setting('accord.tenant', true)
    OR current_setting('accord.all_tenants', true) = 'on');
