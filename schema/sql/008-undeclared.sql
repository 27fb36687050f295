-- 008: how many paths an attempt read or wrote outside its declared inputs, outputs and working folder (and not
-- system or temporary files), from its task_files event; NULL when its files were not observed. Projections are
-- rebuilt from the events after this migration.
ALTER TABLE attempts ADD COLUMN undeclared INTEGER;
-- An attempt's task_files event, found by its task and attempt (query --files, exports).
CREATE INDEX events_attempt_files ON events (task, attempt) WHERE type = 'task_files';
