-- Accord task store for SQLite, schema version 6: the delivery claim looks only at
-- configs with something to deliver (accord/stores/_sqlite_push.py).
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
-- `append` is the only statement that changes `version` (`UPDATE tasks ... SET version
-- = ?`, accord/stores/sqlite.py). `create` inserts the row, but a task has no configs
-- before its row exists (the foreign key; configs go with their task), so no INSERT
-- trigger is needed: `put_push_config` copies the version when it inserts a config,
-- in the same write transaction that reads it. Writers are serialized (`BEGIN
-- IMMEDIATE` takes the file's write lock, across processes), so an append and a put
-- or a delivery of the same config never interleave: each statement sees the other's
-- committed result. The trigger still only raises `task_version` and the delivery only
-- raises `delivered_seq` (max()), each touching its own column, like PostgreSQL's.
ALTER TABLE push_configs ADD COLUMN task_version INTEGER NOT NULL DEFAULT 0;

-- Configs written before: their task's version now (every config has its task).
UPDATE push_configs SET task_version = coalesce(
    (SELECT version FROM tasks WHERE tasks.id = push_configs.task_id), task_version);

CREATE TRIGGER push_configs_task_version AFTER UPDATE OF version ON tasks
    FOR EACH ROW WHEN NEW.version > OLD.version
BEGIN
    UPDATE push_configs SET task_version = max(task_version, NEW.version)
        WHERE task_id = NEW.id AND task_version < NEW.version;
END;

-- The delivery claim: live configs with events past their position, whose next
-- attempt is due, the longest-waiting first (held rows are skipped unless their lease
-- expired). A config leaves it when delivery catches up or it is dead-lettered, and
-- comes back when its task gets an event or it is revived. It replaces the index of
-- every live config, which only the claim used.
DROP INDEX push_configs_due;
CREATE INDEX push_configs_pending ON push_configs (next_attempt_at, task_id, config_id)
    WHERE task_version > delivered_seq AND dead_reason = '';
