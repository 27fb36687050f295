-- 003: each task's labels (the parameters that tell it apart) in the tasks projection, and an index for ranking
-- attempts by peak memory, so `clowdr query --top ram` reads a few rows instead of every event.
ALTER TABLE tasks ADD COLUMN labels TEXT;

CREATE INDEX attempts_peak_rss ON attempts (peak_rss);
