-- 005: the events that are not samples (a tenth of a log or less), by type: what `clowdr status` and the lifecycle
-- readers look up (the experiment, its reruns, events of unknown types) without scanning millions of samples.
CREATE INDEX events_lifecycle ON events (type, seq) WHERE type <> 'sample';
