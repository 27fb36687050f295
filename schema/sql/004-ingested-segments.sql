-- 004: how much of each worker's segment the log holds, so that an ingest reads only what was added since the last
-- one (every command that reads an experiment ingests first). Written in the same transaction as the events it
-- accounts for. Bookkeeping of the ingest, not part of the record: deleting a row only makes the next ingest read
-- that segment again, whose events the log already holds are skipped.
CREATE TABLE ingested_segments (
    segment TEXT PRIMARY KEY,   -- the segment's path, relative to the experiment folder when inside it
    bytes   INTEGER NOT NULL,   -- the whole lines ingested, from the segment's start
    inode   INTEGER NOT NULL,   -- the file's identity, with its first bytes: a segment replaced by another file
    head    BLOB NOT NULL       -- (up to 64 bytes, its first event's id) is read from its start
) WITHOUT ROWID;
