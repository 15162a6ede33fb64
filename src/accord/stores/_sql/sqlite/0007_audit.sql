-- Accord task store for SQLite, schema version 7: the audit trail
-- (accord/stores/audit.py).
--
-- `audit_entries` is append-only: one row per audited operation or task state change,
-- in `id` order (every tenant together). `body` is the record as canonical JSON
-- (RFC 8785) without its chain fields; `seq`, `prev` and `hash` place it in its
-- tenant's chain (hash = sha256 of the body with seq and prev). `tenant`, `time`,
-- `task_id` and `context_id` repeat members of the body for the filters of
-- `accord audit`; verification reads the body.
--
-- `audit_chains` holds each tenant's chain: its head (the newest entry) and its base
-- (the last entry retention deleted, the checkpoint the rest verifies from). An append
-- reads and moves the head in the write transaction (`BEGIN IMMEDIATE`: writers, of
-- any process, are serialized), so a chain never forks.
CREATE TABLE audit_entries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    time        TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    context_id  TEXT NOT NULL,
    body        TEXT NOT NULL,
    prev        TEXT NOT NULL,
    hash        TEXT NOT NULL,
    UNIQUE (tenant, seq)
);

CREATE INDEX audit_entries_task ON audit_entries (task_id, id) WHERE task_id <> '';
CREATE INDEX audit_entries_context ON audit_entries (context_id, id)
    WHERE context_id <> '';
CREATE INDEX audit_entries_tenant ON audit_entries (tenant, id);

CREATE TABLE audit_chains (
    tenant     TEXT PRIMARY KEY,
    base_seq   INTEGER NOT NULL,
    base_hash  TEXT NOT NULL,
    head_seq   INTEGER NOT NULL,
    head_hash  TEXT NOT NULL
);
