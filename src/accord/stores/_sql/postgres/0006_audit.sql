-- Accord task store for PostgreSQL, schema version 6: the audit trail
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
-- (the last entry retention deleted, the checkpoint the rest verifies from). An
-- append locks its tenant's row (`SELECT ... FOR UPDATE`) for the rest of its
-- transaction, so instances sharing the database append to a chain one at a time and
-- it never forks; (tenant, seq) is unique besides.
CREATE TABLE audit_entries (
    id          bigserial PRIMARY KEY,
    tenant      text NOT NULL,
    seq         bigint NOT NULL,
    time        text COLLATE "C" NOT NULL,
    task_id     text COLLATE "C" NOT NULL,
    context_id  text COLLATE "C" NOT NULL,
    body        text NOT NULL,
    prev        text NOT NULL,
    hash        text NOT NULL,
    UNIQUE (tenant, seq)
);

CREATE INDEX audit_entries_task ON audit_entries (task_id, id) WHERE task_id <> '';
CREATE INDEX audit_entries_context ON audit_entries (context_id, id)
    WHERE context_id <> '';
CREATE INDEX audit_entries_tenant ON audit_entries (tenant, id);

CREATE TABLE audit_chains (
    tenant     text PRIMARY KEY,
    base_seq   bigint NOT NULL,
    base_hash  text NOT NULL,
    head_seq   bigint NOT NULL,
    head_hash  text NOT NULL
);

-- Row-level security as on `tasks` (0001): a tenant's rows, or every row while
-- `accord.all_tenants` is 'on' (task writes, verification and retention span tenants).
ALTER TABLE audit_entries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON audit_entries USING (
    tenant = current_setting('accord.tenant', true)
    OR current_setting('accord.all_tenants', true) = 'on');
ALTER TABLE audit_chains ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON audit_chains USING (
    tenant = current_setting('accord.tenant', true)
    OR current_setting('accord.all_tenants', true) = 'on');
