-- 006: looks that cost nothing when nothing is new.
-- Events of a version other than 1 (which this build may not know) are found without reading every lifecycle event.
CREATE INDEX events_other_versions ON events (seq) WHERE version <> 1;
-- `clowdr status` counts the tasks in each state and lists the first few failed or running ones without a scan.
CREATE INDEX tasks_state ON tasks (state, planned_seq);
-- A segment whose writer sealed it (made it read-only: it will add nothing) and whose every byte is ingested is
-- never looked at again while its folder is unchanged. Bookkeeping of the ingest, like the rest of the table.
ALTER TABLE ingested_segments ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ingested_segments_open ON ingested_segments (segment) WHERE sealed = 0;
-- A segment folder's modification time when a look found every file in it ingested to its end: while the folder
-- keeps that time (no file created, removed or renamed in it), a look stats only the segments not sealed.
CREATE TABLE segment_folders (
    folder TEXT PRIMARY KEY,    -- the folder's path, relative to the experiment folder when inside it
    mtime  INTEGER NOT NULL     -- nanoseconds since the epoch
) WITHOUT ROWID;
