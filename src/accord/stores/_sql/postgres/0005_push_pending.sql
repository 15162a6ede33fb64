-- Accord task store for PostgreSQL, schema version 5: the delivery claim looks only at
-- configs with something to deliver (accord/stores/_postgres_push.py).
--
-- Before, the claim joined every live config to its task to compare `tasks.version`
-- with `delivered_seq`, so it read every config ever stored, delivered or not, until
-- retention took its task. Now each config row carries its task's version
-- (`task_version`, the seq of the task's latest event), and whether the config has
-- events to deliver is a condition on the row alone: live (`dead_reason = ''`) and
-- pending (`task_version > delivered_seq`). The partial index below holds only those
-- rows, so a claim reads what is due, not what is kept.
--
-- The database keeps `task_version` right, whoever writes the task: a trigger copies
-- every new `tasks.version` onto the task's configs, in the transaction that wrote it.
-- `append` is the only statement that changes `version` (accord/stores/postgres.py).
-- `create` inserts the row, but a task has no configs before its row exists (the
-- foreign key), so there is no INSERT trigger: `put_push_config` copies the version
-- when it inserts a config.
--
-- Concurrency (READ COMMITTED, the store's level):
--
-- * An append (its trigger's UPDATE) and a `push_delivered` of the same config each
--   write one column, from that column's own value: the trigger `task_version =
--   greatest(task_version, NEW.version)`, the delivery `delivered_seq =
--   greatest(delivered_seq, seq)` (plus its own failures and next attempt). Whichever
--   takes the row lock second waits for the first to commit, then re-reads the newest
--   committed version of the row, re-checks its WHERE on it and computes its SET from
--   it (EvalPlanQual); the columns it does not set are carried over from that version.
--   So neither undoes the other in either order: after both, the config is pending
--   exactly when the task has an event past `delivered_seq`. greatest() keeps each
--   column from ever moving back (a delivery whose COMMIT answer was lost runs again).
--   The same holds against the other writes of a config row (claim, failure, release,
--   revive, replace): none of them sets `task_version`.
-- * A config being inserted is not visible to a concurrent append's trigger, so
--   `put_push_config` reads the task's version with `FOR SHARE`: an uncommitted append
--   makes it wait, then it reads the new version; an append that comes after waits for
--   the put to commit, and its trigger's UPDATE (a VOLATILE function: a new snapshot
--   per statement) then sees the config.
-- * The claim locks its rows `FOR UPDATE SKIP LOCKED`: a config whose append has not
--   committed is skipped, and claimed at the wake-up that append's commit causes. A
--   row that changed since the claim's snapshot is re-checked when locked, and the
--   claim returns `task_version` as locked.
-- * Locks are taken in one order: a task row, then its config rows (append and its
--   trigger; put; retention, whose DELETE cascades); a delivery write locks one config
--   row only. So these never deadlock.
--
-- Row-level security: the function runs as the writer (SECURITY INVOKER, the default),
-- so the trigger's UPDATE sees the configs the writer's session may see. A config
-- always has its task's tenant (`put_push_config` copies it, and the policy's check
-- keeps it), so a session that may update the task row (its tenant's, or every
-- tenant's: append sets `accord.all_tenants`) reaches all of its configs; the role
-- needs UPDATE on `push_configs`, as delivery does. No SECURITY DEFINER: the trigger
-- gets no rights its writer lacks. `search_path` is pinned to the one this migration
-- ran with, so a session with another path writing `tasks` still updates the configs
-- next to it.
--
-- This migration locks `tasks` against writes first (CREATE TRIGGER), then alters
-- `push_configs`: the order retention's cascade takes them in. With writes held off
-- until it commits, the backfill sees every version, and later appends fire the
-- trigger. The backfill runs as the tables' owner; setting `accord.all_tenants` (for
-- this transaction) keeps it whole if the policies were forced on the owner too.
SELECT set_config('accord.all_tenants', 'on', true);

CREATE FUNCTION push_configs_task_version() RETURNS trigger
    LANGUAGE plpgsql VOLATILE
    SET search_path FROM CURRENT
AS $$
BEGIN
    UPDATE push_configs SET task_version = greatest(task_version, NEW.version)
        WHERE task_id = NEW.id AND task_version < NEW.version;
    RETURN NULL;
END
$$;

CREATE TRIGGER push_configs_task_version AFTER UPDATE OF version ON tasks
    FOR EACH ROW WHEN (NEW.version > OLD.version)
    EXECUTE FUNCTION push_configs_task_version();

ALTER TABLE push_configs ADD COLUMN task_version integer NOT NULL DEFAULT 0;

-- Configs written before: their task's version now (every config has its task).
UPDATE push_configs p SET task_version = t.version FROM tasks t WHERE t.id = p.task_id;

-- The delivery claim: live configs with events past their position, whose next
-- attempt is due, the longest-waiting first (held rows are skipped unless their lease
-- expired). A config leaves it when delivery catches up or it is dead-lettered, and
-- comes back when its task gets an event or it is revived. It replaces the index of
-- every live config, which only the claim used.
DROP INDEX push_configs_due;
CREATE INDEX push_configs_pending ON push_configs (next_attempt_at, task_id, config_id)
    WHERE task_version > delivered_seq AND dead_reason = '';
