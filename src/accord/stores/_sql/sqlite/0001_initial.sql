-- Accord task store for SQLite, schema version 1.
--
-- One row per task: the latest Task snapshot as ProtoJSON text (`body`) plus the columns
-- ListTasks filters and sorts on. `version` is the seq of the task's latest event
-- (optimistic concurrency). `status_ts` is the canonical status timestamp, '' when the
-- status has none ('' sorts below every timestamp, so such tasks list last).
-- `created_at` / `updated_at` are canonical wall-clock timestamps of the writes.
CREATE TABLE tasks (
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant      TEXT    NOT NULL,
    owner       TEXT    NOT NULL,
    context_id  TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    status_ts   TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    body        TEXT    NOT NULL
);

-- ListTasks (spec §3.1.4): scope equality, then newest status first, id as tie-breaker;
-- the order and the keyset cursor `(status_ts, id) < (?, ?)` both walk this index.
CREATE INDEX tasks_by_scope ON tasks (tenant, owner, status_ts DESC, id DESC);

-- ListTasks filtered by contextId.
CREATE INDEX tasks_by_context ON tasks (tenant, owner, context_id, status_ts DESC, id DESC);

-- Recovery (SUBMITTED/WORKING at start-up) and retention (old terminal tasks).
CREATE INDEX tasks_by_state ON tasks (state, updated_at);

-- The append-only event log of each task: seq 1 is the creation event.
CREATE TABLE task_events (
    task_id     TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    event       TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (task_id, seq)
);
