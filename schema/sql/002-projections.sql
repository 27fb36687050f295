-- 002: projections, the current state derived from the events.
--
-- These tables are caches: maintained in the same transaction as each append, and always rebuildable from
-- the events alone (`clowdr fsck` rebuilds them in memory and compares). Nothing reads them as the truth.

-- One row per task.
CREATE TABLE tasks (
    task        TEXT    PRIMARY KEY,
    -- seq of the task_planned event (NULL if the log has attempts of a task it never planned).
    planned_seq INTEGER,
    -- planned, submitted, running, succeeded, failed, lost, cancelled: the latest attempt's state.
    state       TEXT    NOT NULL,
    -- How many attempts the task has had (the number of the latest attempt).
    attempts    INTEGER NOT NULL,
    -- seq of the last event that changed this row.
    last_seq    INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per attempt, with its totals.
CREATE TABLE attempts (
    task           TEXT    NOT NULL REFERENCES tasks (task),
    attempt        INTEGER NOT NULL,
    state          TEXT    NOT NULL,
    -- Microseconds since the epoch, UTC.
    submitted_at   INTEGER,
    started_at     INTEGER,
    ended_at       INTEGER,
    backend        TEXT,
    native_id      TEXT,
    host           TEXT,
    pid            INTEGER,
    boot_id        TEXT,
    exit_code      INTEGER,
    signal         INTEGER,
    -- Seconds.
    wall_time      REAL,
    cpu_user       REAL,
    cpu_system     REAL,
    -- Bytes. peak_rss is the larger of the exit totals' peak and the highest sample.
    peak_rss       INTEGER,
    read_bytes     INTEGER,
    write_bytes    INTEGER,
    failure_reason TEXT,
    -- Samples seen for this attempt, and the seq of the latest one.
    samples        INTEGER NOT NULL DEFAULT 0,
    last_sample_seq INTEGER,
    last_seq       INTEGER NOT NULL,
    PRIMARY KEY (task, attempt)
) WITHOUT ROWID;
