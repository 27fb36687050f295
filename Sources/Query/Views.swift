import EventLog
public import SQLite

/// The documented, read-only views of an experiment's record (created as TEMP views on a read-only connection, so
/// nothing is ever written to the log). `clowdr query --sql` works over them, and every reader of the record (the
/// queries, the JSON, PROV and HTML exports, `clowdr share`) reads through them, by way of `ExperimentRecords`.
/// Event types, versions and payload paths are named here and nowhere else.
///
/// - `tasks`: one row per task: `task`, `planned_seq`, `state`, `attempts` (latest attempt number), `last_seq`,
///   `labels` (JSON). Tasks come in number order (0, 1, 2, ... 10), as do attempts.
/// - `attempts`: one row per attempt with its totals: `task`, `attempt`, `state`, `submitted_at`, `started_at`,
///   `ended_at` (µs since the epoch, UTC), `backend`, `native_id`, `host`, `pid`, `exit_code`, `signal`,
///   `wall_time`, `cpu_user`, `cpu_system` (s), `peak_rss`, `read_bytes`, `write_bytes` (bytes), `failure_reason`,
///   `samples`, `figures` (where the figures come from: `exit`, the worker's exact totals at the tool's exit;
///   `samples`, the worker's samples of a tool stopped before its exit was recorded; `scheduler`, the scheduler's
///   accounting, when the worker reported nothing), `undeclared` (paths used outside the declared inputs, outputs
///   and working folder; NULL when the attempt's files were not observed).
/// - `samples`: one row per monitor sample: `seq`, `time` (µs), `task`, `attempt`, `cpu_user`, `cpu_system` (s,
///   cumulative), `rss`, `vms`, `read_bytes`, `write_bytes` (bytes), `processes`, `threads`.
/// - `planned`: one row per `task_planned` event: `task`, `command_line`, `invocation` (JSON), `labels` (JSON),
///   `seq`. A task's plan is the row whose seq is its `planned_seq`.
/// - `exits`: one row per `task_exited` event: `seq`, `time`, `task`, `attempt`, `outputs` (JSON).
/// - `submissions`: one row per `task_submitted` event: `seq`, `time`, `task`, `attempt`, `backend`, `native_id`,
///   `resources` (JSON: what was requested, `mem`, `cpus-per-task`, `time`...).
/// - `scheduler_ends`: one row per `task_ended` event (the scheduler's final word on an attempt): `seq`, `time`,
///   `task`, `attempt`, `state` (the scheduler's), `failure_class`, `reason`.
/// - `refusals`: one row per `segment_refused` event (a segment line ingest did not take): `seq`, `time`, `segment`,
///   `line`, `code`, `reason`, `kept` (the copy of the segment, relative to the experiment folder), `writer`,
///   `native_id`, `host`.
/// - `experiment`: the `experiment_created` event: `seq`, `time`, `payload` (JSON).
/// - `events`: the log itself: `seq`, `id`, `time`, `task`, `attempt`, `type`, `version`, `payload` (JSON).
public enum QueryViews {
    /// The ORDER BY terms of task order, over the task id column `column`: tasks in number order (0, 1, 2, ..., 10),
    /// ids that are not numbers after, by name. Every listing uses it.
    public static func taskOrder(_ column: String = "task") -> String { "CAST(\(column) AS INTEGER), \(column)" }

    static let sql = """
        CREATE TEMP VIEW IF NOT EXISTS tasks AS
          SELECT * FROM main.tasks ORDER BY \(taskOrder());
        CREATE TEMP VIEW IF NOT EXISTS attempts AS
          SELECT * FROM main.attempts ORDER BY \(taskOrder()), attempt;
        CREATE TEMP VIEW IF NOT EXISTS samples AS
          SELECT seq, time, task, attempt,
                 json_extract(payload, '$.cpu_user') AS cpu_user, json_extract(payload, '$.cpu_system') AS cpu_system,
                 json_extract(payload, '$.rss') AS rss, json_extract(payload, '$.vms') AS vms,
                 json_extract(payload, '$.read_bytes') AS read_bytes, json_extract(payload, '$.write_bytes') AS write_bytes,
                 json_extract(payload, '$.processes') AS processes, json_extract(payload, '$.threads') AS threads
          FROM main.events WHERE \(EventType.sample.readable);
        CREATE TEMP VIEW IF NOT EXISTS planned AS
          SELECT task, json_extract(payload, '$.command_line') AS command_line,
                 json(json_extract(payload, '$.invocation')) AS invocation, json(json_extract(payload, '$.labels')) AS labels, seq
          FROM main.events WHERE \(EventType.taskPlanned.readable);
        CREATE TEMP VIEW IF NOT EXISTS exits AS
          SELECT seq, time, task, attempt, json(json_extract(payload, '$.outputs')) AS outputs
          FROM main.events WHERE \(EventType.taskExited.readable);
        CREATE TEMP VIEW IF NOT EXISTS submissions AS
          SELECT seq, time, task, attempt, json_extract(payload, '$.backend') AS backend, json_extract(payload, '$.native_id') AS native_id,
                 json(json_extract(payload, '$.resources')) AS resources
          FROM main.events WHERE \(EventType.taskSubmitted.readable);
        CREATE TEMP VIEW IF NOT EXISTS scheduler_ends AS
          SELECT seq, time, task, attempt, json_extract(payload, '$.state') AS state, json_extract(payload, '$.failure_class') AS failure_class,
                 json_extract(payload, '$.reason') AS reason
          FROM main.events WHERE \(EventType.taskEnded.readable);
        CREATE TEMP VIEW IF NOT EXISTS refusals AS
          SELECT seq, time, json_extract(payload, '$.segment') AS segment, json_extract(payload, '$.line') AS line,
                 json_extract(payload, '$.code') AS code, json_extract(payload, '$.reason') AS reason, json_extract(payload, '$.kept') AS kept,
                 json_extract(payload, '$.writer') AS writer, json_extract(payload, '$.native_id') AS native_id, json_extract(payload, '$.host') AS host
          FROM main.events WHERE \(EventType.segmentRefused.readable);
        CREATE TEMP VIEW IF NOT EXISTS experiment AS
          SELECT seq, time, payload FROM main.events WHERE \(EventType.experimentCreated.readable);
        """

    /// Creates the views on a connection (idempotent).
    public static func install(on db: Connection) throws {
        try db.execute(sql)
    }
}
