-- 007: where an attempt's figures (peak_rss, cpu_user, cpu_system, read_bytes, write_bytes, wall_time) come from,
-- one source for all of them: 'exit' (the worker's exact totals at the tool's exit, with its samples' peak),
-- 'samples' (the worker's samples of a tool stopped before its exit was recorded; the wall time runs to the
-- scheduler's end), 'scheduler' (the scheduler's accounting: the worker reported nothing; Slurm's MaxRSS counts
-- clowdr's worker too), NULL (none yet). Projections are rebuilt from the events after this migration.
ALTER TABLE attempts ADD COLUMN figures TEXT;
-- When the attempt's latest sample was taken (µs since the epoch): an attempt measured by its samples ended no
-- earlier than that, whatever the scheduler's end (Slurm's is to the second) says.
ALTER TABLE attempts ADD COLUMN last_sample_at INTEGER;
-- Ingest checks that an attempt ends once: its worker's final event is found by its task and attempt.
CREATE INDEX events_attempt_final ON events (task, attempt) WHERE type IN ('task_exited', 'task_launch_failed');
