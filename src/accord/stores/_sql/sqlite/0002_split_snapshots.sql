-- Accord task store for SQLite, schema version 2: tasks split into rows, so that
-- appending an artifact chunk or a message writes that chunk or message, not the whole
-- task (accord/stores/_sqlite_layout.py explains the layout).
--
-- `layout` 0: `body` is the whole Task (rows written by version 1; rewritten split on
-- their next change); 1: `body` is the task without history and artifacts, which live
-- in the tables below.
ALTER TABLE tasks ADD COLUMN layout INTEGER NOT NULL DEFAULT 0;

CREATE TABLE task_messages (
    task_id     TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    PRIMARY KEY (task_id, idx)
) WITHOUT ROWID;

-- An artifact with its first part only (an Artifact has at least one part).
CREATE TABLE task_artifacts (
    task_id     TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    PRIMARY KEY (task_id, idx)
) WITHOUT ROWID;

-- The artifact's parts after the first, idx 1, 2, ...
CREATE TABLE task_parts (
    task_id     TEXT    NOT NULL,
    artifact    INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    PRIMARY KEY (task_id, artifact, idx),
    FOREIGN KEY (task_id, artifact) REFERENCES task_artifacts (task_id, idx)
        ON DELETE CASCADE
) WITHOUT ROWID;
