public import SQLite

/// The documented, read-only views `clowdr query --sql` works over (created as TEMP views on a read-only
/// connection, so nothing is ever written to the log):
///
/// - `tasks`: one row per task: `task`, `planned_seq`, `state`, `attempts` (latest attempt number), `last_seq`,
///   `labels` (JSON). Tasks come in number order (0, 1, 2, ... 10), as do attempts.
/// - `attempts`: one row per attempt with its totals: `task`, `attempt`, `state`, `submitted_at`, `started_at`,
///   `ended_at` (µs since the epoch, UTC), `backend`, `native_id`, `host`, `pid`, `exit_code`, `signal`,
///   `wall_time`, `cpu_user`, `cpu_system` (s), `peak_rss`, `read_bytes`, `write_bytes` (bytes), `failure_reason`,
///   `samples`.
/// - `samples`: one row per monitor sample: `seq`, `time` (µs), `task`, `attempt`, `cpu_user`, `cpu_system` (s,
///   cumulative), `rss`, `vms`, `read_bytes`, `write_bytes` (bytes), `processes`, `threads`.
/// - `planned`: one row per task: `task`, `command_line`, `invocation` (JSON), `labels` (JSON).
/// - `events`: the log itself: `seq`, `id`, `time`, `task`, `attempt`, `type`, `version`, `payload` (JSON).
public enum QueryViews {
    static let sql = """
        CREATE TEMP VIEW IF NOT EXISTS tasks AS
          SELECT * FROM main.tasks ORDER BY CAST(task AS INTEGER), task;
        CREATE TEMP VIEW IF NOT EXISTS attempts AS
          SELECT * FROM main.attempts ORDER BY CAST(task AS INTEGER), task, attempt;
        CREATE TEMP VIEW IF NOT EXISTS samples AS
          SELECT seq, time, task, attempt,
                 json_extract(payload, '$.cpu_user') AS cpu_user, json_extract(payload, '$.cpu_system') AS cpu_system,
                 json_extract(payload, '$.rss') AS rss, json_extract(payload, '$.vms') AS vms,
                 json_extract(payload, '$.read_bytes') AS read_bytes, json_extract(payload, '$.write_bytes') AS write_bytes,
                 json_extract(payload, '$.processes') AS processes, json_extract(payload, '$.threads') AS threads
          FROM main.events WHERE type = 'sample' AND version = 1;
        CREATE TEMP VIEW IF NOT EXISTS planned AS
          SELECT task, json_extract(payload, '$.command_line') AS command_line,
                 json_extract(payload, '$.invocation') AS invocation, json_extract(payload, '$.labels') AS labels
          FROM main.events WHERE type = 'task_planned' AND version = 1;
        """

    /// Creates the views on a connection (idempotent).
    public static func install(on db: Connection) throws {
        try db.execute(sql)
    }
}
