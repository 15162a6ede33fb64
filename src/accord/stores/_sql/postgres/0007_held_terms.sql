-- Accord task store for PostgreSQL, schema version 7: held terms, the agreements and
-- counter-proposals of negotiation (accord/stores/held.py), shared by every instance.
--
-- One row per held id: `kind` ('agreement', 'counter') and `id` name it, `tenant` and
-- `owner` scope it, `terms` is the JSON text, `expires_at` epoch seconds. A take is
-- one `DELETE ... RETURNING`: of two instances taking a row at once, the second waits
-- for the first's row lock, then finds the row gone and returns nothing, so one
-- instance gets it. `seq` orders a scope's rows for its cap (the oldest go first);
-- `held_terms_expiry` serves the purge of expired rows.
CREATE TABLE held_terms (
    seq         bigserial PRIMARY KEY,
    kind        text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    tenant      text NOT NULL,
    owner       text NOT NULL,
    terms       text NOT NULL,
    expires_at  double precision NOT NULL,
    UNIQUE (kind, id)
);

CREATE INDEX held_terms_scope ON held_terms (tenant, owner, kind, seq);
CREATE INDEX held_terms_expiry ON held_terms (expires_at);

-- Row-level security as on `tasks` (0001): a tenant's rows, or every row while
-- `accord.all_tenants` is 'on' (a hold purges expired rows of every tenant).
ALTER TABLE held_terms ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON held_terms USING (
    tenant = current_setting('accord.tenant', true)
    OR current_setting('accord.all_tenants', true) = 'on');
