-- 001: the append-only event log.
--
-- Every fact about an experiment is one row here. Rows are only ever inserted: the triggers below make the
-- database itself refuse UPDATE and DELETE, so no code path (ours or anyone's) can rewrite history.
CREATE TABLE events (
    -- Position in the log: 1, 2, 3, ... without gaps (rows are never deleted, so max(seq) = count(*)).
    seq     INTEGER PRIMARY KEY,
    -- Globally unique, time-ordered id (a 26-character ULID). Ingesting the same event twice is a no-op.
    id      TEXT    NOT NULL UNIQUE,
    -- When it happened: microseconds since 1970-01-01T00:00:00Z.
    time    INTEGER NOT NULL,
    -- The task it is about (NULL for experiment-level events) and the attempt (NULL for the task as a whole).
    task    TEXT,
    attempt INTEGER,
    -- The event type (schema/events/<type>.schema.json) and the version of its payload.
    type    TEXT    NOT NULL,
    version INTEGER NOT NULL CHECK (version > 0),
    -- The payload: a JSON object, compact.
    payload TEXT    NOT NULL
);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'clowdr events are append-only: UPDATE is not allowed');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'clowdr events are append-only: DELETE is not allowed');
END;
