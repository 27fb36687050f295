import Foundation
public import SQLite

/// Reads and writes the projection tables `tasks` and `attempts` (schema/sql/002-projections.sql), which hold
/// exactly what `TaskRecord` holds, so a task can be loaded, advanced by the reducer and saved back.
final class ProjectionTables {
    static let attemptColumns = AttemptRecord.columns

    let selectTask: Statement
    let selectAttempts: Statement
    let upsertTask: Statement
    let upsertAttempt: Statement

    init(_ db: Connection) throws {
        selectTask = try db.prepare("SELECT planned_seq, last_seq, labels FROM tasks WHERE task = ?")
        selectAttempts = try db.prepare("SELECT \(ProjectionTables.attemptColumns) FROM attempts WHERE task = ? ORDER BY attempt")
        upsertTask = try db.prepare(
            """
            INSERT INTO tasks (task, planned_seq, state, attempts, last_seq, labels) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(task) DO UPDATE SET planned_seq = excluded.planned_seq, state = excluded.state,
                attempts = excluded.attempts, last_seq = excluded.last_seq, labels = excluded.labels
            """)
        let names = ProjectionTables.attemptColumns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let updates = names.filter { $0 != "attempt" }.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        upsertAttempt = try db.prepare(
            """
            INSERT INTO attempts (task, \(ProjectionTables.attemptColumns)) VALUES (\(Array(repeating: "?", count: names.count + 1).joined(separator: ", ")))
            ON CONFLICT(task, attempt) DO UPDATE SET \(updates)
            """)
    }

    func load(task: String) throws -> TaskRecord? {
        defer { selectTask.reset() }
        try selectTask.bind(.text(task), at: 1)
        guard try selectTask.step() else { return nil }
        var state = TaskRecord(task: task, plannedSeq: selectTask.optionalInt64(0), lastSeq: selectTask.int64(1))
        state.labels = selectTask.optionalString(2)
        defer { selectAttempts.reset() }
        try selectAttempts.bind(.text(task), at: 1)
        while try selectAttempts.step() { state.attempts.append(AttemptRecord(selectAttempts, from: 0)) }
        return state
    }

    /// Writes the task row and the attempts that changed since `previous`.
    func save(_ task: TaskRecord, previous: TaskRecord?) throws {
        if previous == nil || previous!.plannedSeq != task.plannedSeq || previous!.lastSeq != task.lastSeq
            || previous!.state != task.state || previous!.attempts.last?.attempt != task.attempts.last?.attempt || previous!.labels != task.labels
        {
            try upsertTask.run([
                .text(task.task), .integer(task.plannedSeq), .text(task.state.rawValue), .integer(task.attempts.last?.attempt ?? 0),
                .integer(task.lastSeq), .text(task.labels),
            ])
        }
        for a in task.attempts where previous?.attempts.first(where: { $0.attempt == a.attempt }) != a {
            try upsertAttempt.run([
                .text(task.task), .integer(a.attempt), .text(a.state.rawValue), .integer(a.submittedAt?.microseconds),
                .integer(a.startedAt?.microseconds), .integer(a.endedAt?.microseconds), .text(a.backend), .text(a.nativeID),
                .text(a.host), .integer(a.pid), .text(a.bootID), .integer(a.exitCode), .integer(a.signal), .real(a.wallTime),
                .real(a.cpuUser), .real(a.cpuSystem), .integer(a.peakRSS), .integer(a.readBytes), .integer(a.writeBytes),
                .text(a.failureReason), .integer(a.samples), .integer(a.lastSampleSeq), .integer(a.lastSeq), .text(a.figures?.rawValue),
                .integer(a.lastSampleAt?.microseconds), .integer(a.undeclared.map(Int64.init)),
            ])
        }
    }

    /// Every task as the projection tables hold it, with the stored `state` and `attempts` columns checked
    /// against what the attempt rows imply (a mismatch is reported by fsck through `storedSummaries`).
    static func loadAll(_ db: Connection) throws -> [String: TaskRecord] {
        var tasks: [String: TaskRecord] = [:]
        let t = try db.prepare("SELECT task, planned_seq, last_seq, labels FROM tasks")
        while try t.step() {
            let name = t.string(0)
            tasks[name] = TaskRecord(task: name, plannedSeq: t.optionalInt64(1), lastSeq: t.int64(2))
            tasks[name]!.labels = t.optionalString(3)
        }
        let a = try db.prepare("SELECT task, \(attemptColumns) FROM attempts ORDER BY task, attempt")
        while try a.step() {
            let name = a.string(0)
            if tasks[name] == nil { tasks[name] = TaskRecord(task: name, lastSeq: -1) }
            tasks[name]!.attempts.append(AttemptRecord(a, from: 1))
        }
        return tasks
    }

    /// The `state` and `attempts` columns of the `tasks` table, as stored.
    static func storedSummaries(_ db: Connection) throws -> [String: (state: String, attempts: Int)] {
        var out: [String: (state: String, attempts: Int)] = [:]
        let t = try db.prepare("SELECT task, state, attempts FROM tasks")
        while try t.step() { out[t.string(0)] = (t.string(1), Int(t.int64(2))) }
        return out
    }
}

/// The one place an attempt row (of the projection table or the `attempts` view) becomes an `AttemptRecord`.
extension AttemptRecord {
    /// The columns of the `attempts` table (and view) an attempt record is decoded from, in order.
    public static let columns =
        "attempt, state, submitted_at, started_at, ended_at, backend, native_id, host, pid, boot_id, exit_code, signal, wall_time, cpu_user, cpu_system, peak_rss, read_bytes, write_bytes, failure_reason, samples, last_sample_seq, last_seq, figures, last_sample_at, undeclared"

    /// Decodes the row `s` is on, whose columns `columns` start at index `o`. An unreadable state (a damaged
    /// table) reads as lost; fsck reports the mismatch with the events.
    public init(_ s: Statement, from o: Int32) {
        var a = AttemptRecord(attempt: Int(s.int64(o)), state: AttemptState(rawValue: s.string(o + 1)) ?? .lost, lastSeq: s.int64(o + 21))
        a.submittedAt = s.optionalInt64(o + 2).map(Timestamp.init(microseconds:))
        a.startedAt = s.optionalInt64(o + 3).map(Timestamp.init(microseconds:))
        a.endedAt = s.optionalInt64(o + 4).map(Timestamp.init(microseconds:))
        a.backend = s.optionalString(o + 5)
        a.nativeID = s.optionalString(o + 6)
        a.host = s.optionalString(o + 7)
        a.pid = s.optionalInt64(o + 8).map { Int32(truncatingIfNeeded: $0) }
        a.bootID = s.optionalString(o + 9)
        a.exitCode = s.optionalInt64(o + 10).map { Int32(truncatingIfNeeded: $0) }
        a.signal = s.optionalInt64(o + 11).map { Int32(truncatingIfNeeded: $0) }
        a.wallTime = s.optionalDouble(o + 12)
        a.cpuUser = s.optionalDouble(o + 13)
        a.cpuSystem = s.optionalDouble(o + 14)
        a.peakRSS = s.optionalInt64(o + 15)
        a.readBytes = s.optionalInt64(o + 16)
        a.writeBytes = s.optionalInt64(o + 17)
        a.failureReason = s.optionalString(o + 18)
        a.samples = Int(s.int64(o + 19))
        a.lastSampleSeq = s.optionalInt64(o + 20)
        a.figures = s.optionalString(o + 22).flatMap(Figures.init(rawValue:))
        a.lastSampleAt = s.optionalInt64(o + 23).map(Timestamp.init(microseconds:))
        a.undeclared = s.optionalInt64(o + 24).map { Int($0) }
        self = a
    }
}
