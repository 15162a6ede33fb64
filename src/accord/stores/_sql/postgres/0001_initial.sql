-- Accord task store for PostgreSQL, schema version 1.
--
-- A task is stored split into rows, as in the SQLite store (accord/stores/_sqlite_layout.py):
-- `tasks.body` is the task without history and artifacts (the head); messages, artifacts
-- (with their first part) and the remaining parts have a row each, so appending a chunk
-- writes one row plus the head, not the whole task.
--
-- Every table carries `tenant` (and `tasks` the `owner`), so that row-level security
-- can scope every row. Text that ListTasks sorts on uses the "C" collation: byte order,
-- the same as the other stores (accord/stores/_common.py), whatever the database locale.
CREATE TABLE tasks (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    tenant      text NOT NULL,
    owner       text NOT NULL,
    context_id  text NOT NULL,
    state       text NOT NULL,
    status_ts   text COLLATE "C" NOT NULL,
    version     integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    body        text NOT NULL
);

-- ListTasks (spec §3.1.4): scope equality, newest status first, id as tie-breaker; the
-- order and the keyset cursor `(status_ts, id) < (%s, %s)` walk this index.
CREATE INDEX tasks_by_scope ON tasks (tenant, owner, status_ts DESC, id DESC);

-- ListTasks filtered by contextId.
CREATE INDEX tasks_by_context ON tasks (tenant, owner, context_id, status_ts DESC, id DESC);

-- Recovery (SUBMITTED/WORKING at start-up) and retention (old terminal tasks).
CREATE INDEX tasks_by_state ON tasks (state, updated_at);

-- The append-only event log of each task: seq 1 is the creation event.
CREATE TABLE task_events (
    task_id     text COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    tenant      text NOT NULL,
    seq         integer NOT NULL,
    event       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, seq)
);

CREATE TABLE task_messages (
    task_id     text COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    tenant      text NOT NULL,
    idx         integer NOT NULL,
    body        text NOT NULL,
    PRIMARY KEY (task_id, idx)
);

-- An artifact with its first part only (an Artifact has at least one part).
CREATE TABLE task_artifacts (
    task_id     text COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    tenant      text NOT NULL,
    idx         integer NOT NULL,
    body        text NOT NULL,
    PRIMARY KEY (task_id, idx)
);

-- The artifact's parts after the first, idx 1, 2, ...
CREATE TABLE task_parts (
    task_id     text COLLATE "C" NOT NULL,
    tenant      text NOT NULL,
    artifact    integer NOT NULL,
    idx         integer NOT NULL,
    body        text NOT NULL,
    PRIMARY KEY (task_id, artifact, idx),
    FOREIGN KEY (task_id, artifact) REFERENCES task_artifacts (task_id, idx)
        ON DELETE CASCADE
);

-- Row-level security (docs/postgres.md). A role that does not own these tables sees
-- only the rows of the tenant its transaction set (`accord.tenant`, set by the store
-- with row_level_security=True), or every row while `accord.all_tenants` is 'on' (the
-- store's maintenance: append, recovery, retention). A query that sets neither sees
-- nothing: `current_setting(..., true)` is NULL when unset. The owner of the tables
-- (the role that migrated) is not subject to the policies.
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_artifacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_parts ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_rows ON tasks USING (
    tenant = current_setting('accord.tenant', true)
    OR current_setting('accord.all_tenants', true) = 'on');
CREATE POLICY tenant_rows ON task_events USING (
    tenant = current_setting('accord.tenant', true)
    OR current_setting('accord.all_tenants', true) = 'on');
CREATE POLICY tenant_rows ON task_messages USING (
    tenant = current_setting('accord.tenant', true)
    OR current_setting('accord.all_tenants', true) = 'on');
CREATE POLICY tenant_rows ON task_artifacts USING (
    tenant = current_setting('accord.tenant', true)
    OR current_setting('accord.all_tenants', true) = 'on');
CREATE POLICY tenant_rows ON task_parts USING (
    tenant = current_setting('accord.tenant', true)
    OR current_setting('accord.all_tenants', true) = 'on');
