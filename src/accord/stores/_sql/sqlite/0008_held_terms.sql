-- Accord task store for SQLite, schema version 8: held terms, the agreements and
-- counter-proposals of negotiation (accord/stores/held.py), shared by every process
-- on the file.
--
-- One row per held id: `kind` ('agreement', 'counter') and `id` name it, `tenant` and
-- `owner` scope it, `terms` is the JSON text, `expires_at` epoch seconds. A take is a
-- `DELETE ... RETURNING` in a write transaction (`BEGIN IMMEDIATE`), so one process
-- gets a row. `seq` orders a scope's rows for its cap (the oldest go first);
-- `held_terms_expiry` serves the purge of expired rows.
CREATE TABLE held_terms (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    owner       TEXT NOT NULL,
    terms       TEXT NOT NULL,
    expires_at  REAL NOT NULL,
    UNIQUE (kind, id)
);

CREATE INDEX held_terms_scope ON held_terms (tenant, owner, kind, seq);
CREATE INDEX held_terms_expiry ON held_terms (expires_at);
