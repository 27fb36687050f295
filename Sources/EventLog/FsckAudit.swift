import Foundation
import SQLite

/// What `fsck` finds in a log written before ingest checked segment lines: events that the checks of
/// `SegmentChecker` would refuse today. Each finding names the event by its seq.
enum FsckAudit {
    /// At most this many findings are listed (all are counted).
    static let listed = 20

    /// The findings, worded for a person, and how many there are in all.
    static func findings(_ db: Connection, now: Timestamp = SystemClock().now()) throws -> (listed: [String], count: Int) {
        var out: [String] = []
        var count = 0
        func add(_ rows: [[SQLiteValue]], _ why: (Int64, String, String?, Int64?) -> String) {
            count += rows.count
            for r in rows.prefix(max(0, listed - out.count)) {
                out.append(why(r[0].int64 ?? 0, r[1].string ?? "?", r[2].string, r[3].int64))
            }
        }
        func who(_ task: String?, _ attempt: Int64?) -> String { "task \(task ?? "-") attempt \(attempt.map(String.init) ?? "-")" }
        let known = EventType.readableSQL
        add(try db.rows("SELECT seq, type, task, attempt, version FROM events WHERE NOT (\(known)) ORDER BY seq")) { seq, type, task, attempt in
            "event seq \(seq) (\(type), \(who(task, attempt))): a type or version this clowdr does not read"
        }
        let worker = "'task_started', 'sample', 'task_exited', 'task_launch_failed'"
        add(
            try db.rows(
                """
                SELECT seq, type, task, attempt FROM events e WHERE task IS NOT NULL AND type <> 'task_planned'
                  AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task = e.task AND t.planned_seq IS NOT NULL) ORDER BY seq
                """)
        ) { seq, type, task, attempt in "event seq \(seq) (\(type), \(who(task, attempt))): the experiment never planned task \(task ?? "-")" }
        add(
            try db.rows(
                """
                SELECT seq, type, task, attempt FROM events e WHERE type IN ('task_exited', 'task_launch_failed')
                  AND NOT EXISTS (SELECT 1 FROM events s WHERE s.type IN ('task_submitted', 'task_started') AND s.task = e.task AND s.attempt = e.attempt)
                ORDER BY seq
                """)
        ) { seq, type, task, attempt in "event seq \(seq) (\(type), \(who(task, attempt))): an end of an attempt never submitted nor started" }
        add(
            try db.rows(
                """
                SELECT e.seq, e.type, e.task, e.attempt FROM events e
                  JOIN (SELECT task, attempt, min(seq) AS first FROM events WHERE type IN ('task_exited', 'task_launch_failed') GROUP BY task, attempt) f
                    ON f.task = e.task AND f.attempt = e.attempt
                WHERE e.seq > f.first AND e.type IN (\(worker)) ORDER BY e.seq
                """)
        ) { seq, type, task, attempt in "event seq \(seq) (\(type), \(who(task, attempt))): after its attempt's end" }
        add(
            try db.rows(
                "SELECT seq, type, task, attempt FROM events WHERE type = 'sample' AND length(payload) > ? ORDER BY seq",
                [.integer(Int64(SegmentChecker.maxSampleBytes))])
        ) { seq, type, task, attempt in
            "event seq \(seq) (\(type), \(who(task, attempt))): a sample larger than \(SegmentChecker.maxSampleBytes) bytes"
        }
        add(
            try db.rows(
                "SELECT seq, type, task, attempt FROM events WHERE time > max(?, (SELECT time FROM events WHERE seq = 1)) + ? ORDER BY seq",
                [.integer(now.microseconds), .integer(SegmentChecker.clockSlack)])
        ) { seq, type, task, attempt in "event seq \(seq) (\(type), \(who(task, attempt))): its time is in the future" }
        let lifecycle = try db.rows("SELECT seq, type, task, attempt, payload FROM events WHERE type <> 'sample' AND (\(known)) ORDER BY seq")
        let invalid = lifecycle.filter { EventSchemas.problem(type: $0[1].string ?? "", payload: $0[4].string ?? "") != nil }
        add(invalid) { seq, type, task, attempt in
            let row = invalid.first { $0[0].int64 == seq }
            return "event seq \(seq) (\(type), \(who(task, attempt))): \(EventSchemas.problem(type: type, payload: row?[4].string ?? "") ?? "")"
        }
        return (out, count)
    }
}
