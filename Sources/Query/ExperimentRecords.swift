public import EventLog
import JSON
public import SQLite

/// The read model of an experiment: the rows of the documented views (`QueryViews`), decoded into records in one
/// place. The queries, the exports and `clowdr share` read an experiment through it; none of them names an event
/// type, a version or a payload path.
///
/// Rows come in a stable order (tasks in number order, attempts by number, events by seq), so what is built from
/// them is the same for the same log. Everything is read on one connection: one read snapshot when the caller
/// holds a transaction (`EventLog.withConnection` does).
public final class ExperimentRecords {
    public let db: Connection
    private var attemptsOfTask: Statement?

    /// The records over `db` (the views are installed on it).
    public init(_ db: Connection) throws {
        try QueryViews.install(on: db)
        self.db = db
    }

    /// Reads the records of the log at `path` (a folder or a `.db` file), read-only, in one read snapshot.
    public static func read<R>(path: String, _ body: (ExperimentRecords) throws -> R) throws -> R {
        let log = try EventLog(path: path, mode: .readOnly)
        return try log.withConnection { db in try body(ExperimentRecords(db)) }
    }

    // MARK: - The experiment

    /// The seq and time of the last event (0 and nil for an empty log).
    public func lastEvent() throws -> (seq: Int64, time: Timestamp?) {
        let seq = try db.scalar("SELECT coalesce(max(seq), 0) FROM events")?.int64 ?? 0
        let time = try db.scalar("SELECT time FROM events WHERE seq = ?", [.integer(seq)])?.int64
        return (seq, time.map(Timestamp.init(microseconds:)))
    }

    /// The `experiment_created` event (the first, should a log hold two); nil when the log has none.
    public func experiment() throws -> ExperimentRow? {
        let s = try db.prepare("SELECT seq, time, payload FROM experiment ORDER BY seq LIMIT 1")
        guard try s.step() else { return nil }
        return ExperimentRow(seq: s.int64(0), time: Timestamp(microseconds: s.int64(1)), payload: s.string(2))
    }

    // MARK: - Tasks and attempts

    /// Whether the experiment has a task `task`.
    public func hasTask(_ task: String) throws -> Bool {
        try !db.rows("SELECT 1 FROM tasks WHERE task = ?", [.text(task)]).isEmpty
    }

    /// Every task, in task order; `labelled` keeps those with labels only.
    public func forEachTask(labelled: Bool = false, _ body: (TaskRow) throws -> Void) throws {
        let s = try db.prepare(
            "SELECT \(Self.taskColumns) FROM tasks\(labelled ? " WHERE labels IS NOT NULL AND labels != '{}'" : "") ORDER BY \(QueryViews.taskOrder())"
        )
        while try s.step() { try body(Self.taskRow(s)) }
    }

    /// One task's row; nil when the log has no such task.
    public func task(_ task: String) throws -> TaskRow? {
        let s = try db.prepare("SELECT \(Self.taskColumns) FROM tasks WHERE task = ?")
        try s.bind(.text(task), at: 1)
        return try s.step() ? Self.taskRow(s) : nil
    }

    /// The tasks that events after `seq` are about, at most `limit` of them (in no particular order).
    public func tasksTouched(after seq: Int64, limit: Int) throws -> [String] {
        try db.rows("SELECT DISTINCT task FROM events WHERE seq > ? AND task IS NOT NULL LIMIT ?", [.integer(seq), .integer(Int64(limit))]).compactMap
        {
            $0[0].string
        }
    }

    static let taskColumns = "task, planned_seq, state, attempts, last_seq, labels"

    static func taskRow(_ s: Statement) -> TaskRow {
        TaskRow(
            task: s.string(0), plannedSeq: s.optionalInt64(1), state: TaskState(rawValue: s.string(2)) ?? .planned, attempts: Int(s.int64(3)),
            lastSeq: s.int64(4), labels: s.optionalString(5))
    }

    /// A task's attempts, by number.
    public func attempts(of task: String) throws -> [AttemptRecord] {
        if attemptsOfTask == nil { attemptsOfTask = try db.prepare("SELECT \(AttemptRecord.columns) FROM attempts WHERE task = ? ORDER BY attempt") }
        let s = attemptsOfTask!
        defer { s.reset() }
        try s.bind(.text(task), at: 1)
        var out: [AttemptRecord] = []
        while try s.step() { out.append(AttemptRecord(s, from: 0)) }
        return out
    }

    /// The order `forEachAttempt` walks attempts in.
    public enum AttemptOrder: Sendable {
        /// Task order, then attempt number.
        case task
        /// When they were submitted (or started, or ended), then task order: the order of a Gantt chart.
        case time
    }

    /// Every attempt, with its task's id.
    public func forEachAttempt(_ order: AttemptOrder, _ body: (String, AttemptRecord) throws -> Void) throws {
        let orderBy =
            switch order {
            case .task: "\(QueryViews.taskOrder()), attempt"
            case .time: "coalesce(submitted_at, started_at, ended_at), \(QueryViews.taskOrder()), attempt"
            }
        let s = try db.prepare("SELECT task, \(AttemptRecord.columns) FROM attempts ORDER BY \(orderBy)")
        while try s.step() { try body(s.string(0), AttemptRecord(s, from: 1)) }
    }

    // MARK: - Plans and exits

    /// Each task's plan (its first `task_planned`, the one the projection points at), in task order.
    public func forEachPlan(_ body: (PlanRow) throws -> Void) throws {
        let s = try db.prepare(
            "SELECT \(Self.planColumns) FROM tasks t JOIN planned p ON p.seq = t.planned_seq ORDER BY \(QueryViews.taskOrder("t.task"))")
        while try s.step() { try body(Self.plan(s)) }
    }

    /// One task's plan; nil when it has none.
    public func plan(of task: String) throws -> PlanRow? {
        let s = try db.prepare("SELECT \(Self.planColumns) FROM tasks t JOIN planned p ON p.seq = t.planned_seq WHERE t.task = ?")
        try s.bind(.text(task), at: 1)
        return try s.step() ? Self.plan(s) : nil
    }

    static let planColumns = "p.task, p.command_line, p.invocation, p.labels, p.seq"

    static func plan(_ s: Statement) -> PlanRow {
        PlanRow(task: s.string(0), commandLine: s.optionalString(1), invocation: s.optionalString(2), labels: s.optionalString(3), seq: s.int64(4))
    }

    /// Every exit, in log order (a task's later exit of the same attempt comes after).
    public func forEachExit(task: String? = nil, _ body: (ExitRow) throws -> Void) throws {
        let s = try db.prepare("SELECT seq, time, task, attempt, outputs FROM exits\(task == nil ? "" : " WHERE task = ?") ORDER BY seq")
        if let task { try s.bind(.text(task), at: 1) }
        while try s.step() {
            try body(Self.exit(s))
        }
    }

    /// Decodes a row of (seq, time, task, attempt, outputs).
    static func exit(_ s: Statement) -> ExitRow {
        ExitRow(seq: s.int64(0), time: Timestamp(microseconds: s.int64(1)), task: s.string(2), attempt: Int(s.int64(3)), outputs: s.optionalString(4))
    }

    /// The exit of each task's latest attempt that ended, found by seq where it is the attempt's last event (almost
    /// always): `ended` gets those; returns how many ended attempts have another last event (`forEachExit` finds
    /// theirs).
    @discardableResult
    public func latestExits(_ ended: (ExitRow) throws -> Void) throws -> Int {
        let s = try db.prepare(
            """
            SELECT x.seq, x.time, a.task, a.attempt, x.outputs FROM tasks t JOIN attempts a ON a.task = t.task AND a.attempt = t.attempts
            LEFT JOIN exits x ON x.seq = a.last_seq WHERE a.exit_code IS NOT NULL OR a.signal IS NOT NULL
            """)
        var unresolved = 0
        while try s.step() {
            guard !s.isNull(0) else {
                unresolved += 1
                continue
            }
            try ended(Self.exit(s))
        }
        return unresolved
    }

    /// Every submission, in log order.
    public func forEachSubmission(_ body: (SubmissionRow) throws -> Void) throws {
        let s = try db.prepare("SELECT seq, task, attempt, backend, native_id, resources FROM submissions ORDER BY seq")
        while try s.step() {
            var resources: [String: String]?
            if let text = s.optionalString(5), case .object(let o) = try JSONParser.parse(text) {
                resources = Dictionary(o.compactMap { k, v in v.stringValue.map { (k, $0) } }, uniquingKeysWith: { _, last in last })
            }
            try body(
                SubmissionRow(
                    seq: s.int64(0), task: s.string(1), attempt: Int(s.int64(2)), backend: s.optionalString(3), nativeID: s.optionalString(4),
                    resources: resources))
        }
    }

    /// Every final word of a scheduler, in log order.
    public func forEachSchedulerEnd(_ body: (SchedulerEndRow) throws -> Void) throws {
        let s = try db.prepare("SELECT seq, task, attempt, state, failure_class, reason FROM scheduler_ends ORDER BY seq")
        while try s.step() {
            try body(
                SchedulerEndRow(
                    seq: s.int64(0), task: s.string(1), attempt: Int(s.int64(2)), state: s.optionalString(3),
                    failureClass: s.optionalString(4).flatMap(FailureClass.init(rawValue:)), reason: s.optionalString(5)))
        }
    }

    /// The segment lines ingest refused (the `refusals` view), in log order: how many, and the first `limit` as
    /// (segment, line, reason, kept).
    public func refusals(limit: Int) throws -> (count: Int, first: [(segment: String, line: Int, reason: String, kept: String)]) {
        let count = Int(try db.scalar("SELECT count(*) FROM refusals")?.int64 ?? 0)
        let rows = try db.rows("SELECT segment, line, reason, kept FROM refusals ORDER BY seq LIMIT ?", [.integer(Int64(limit))])
        return (count, rows.map { ($0[0].string ?? "", Int($0[1].int64 ?? 0), $0[2].string ?? "", $0[3].string ?? "") })
    }

    /// Each task with its latest attempt (nil before the first), in task order.
    public func forEachLatestAttempt(_ body: (TaskRow, AttemptRecord?) throws -> Void) throws {
        var tasks: [TaskRow] = []
        try forEachTask { tasks.append($0) }
        var latest: [String: AttemptRecord] = [:]
        let attempts = Dictionary(uniqueKeysWithValues: tasks.map { ($0.task, $0.attempts) })
        try forEachAttempt(.task) { task, a in if a.attempt == attempts[task] { latest[task] = a } }
        for t in tasks { try body(t, latest[t.task]) }
    }

    // MARK: - Samples

    /// Which samples `forEachSample` reads.
    public enum SampleSelection {
        /// Every sample, in log order.
        case all
        /// The samples of one task, in log order.
        case task(String)
        /// The samples of these attempts (task, attempt), in log order.
        case attempts([(String, Int)])
        /// Every sample, by task (task order), attempt, then seq: what a per-task export streams through.
        case byTask
    }

    /// The samples selected, decoded, one at a time.
    public func samples(_ selection: SampleSelection) throws -> RecordCursor<SampleRow> {
        let columns = "s.seq, s.time, s.task, s.attempt, s.cpu_user, s.cpu_system, s.rss, s.vms, s.read_bytes, s.write_bytes, s.processes, s.threads"
        let s: Statement
        switch selection {
        case .all:
            s = try db.prepare("SELECT \(columns) FROM samples s ORDER BY s.seq")
        case .task(let task):
            s = try db.prepare("SELECT \(columns) FROM samples s WHERE s.task = ? ORDER BY s.seq")
            try s.bind(.text(task), at: 1)
        case .byTask:
            s = try db.prepare("SELECT \(columns) FROM samples s ORDER BY \(QueryViews.taskOrder("s.task")), s.attempt, s.seq")
        case .attempts(let chosen):
            // A temporary table of the chosen attempts, joined: one pass over the samples of those attempts only.
            try db.execute("CREATE TEMP TABLE IF NOT EXISTS chosen_attempts (task TEXT, attempt INTEGER, PRIMARY KEY (task, attempt)) WITHOUT ROWID")
            try db.execute("DELETE FROM temp.chosen_attempts")
            let insert = try db.prepare("INSERT OR IGNORE INTO temp.chosen_attempts VALUES (?, ?)")
            for (task, attempt) in chosen { try insert.run([.text(task), .integer(Int64(attempt))]) }
            s = try db.prepare(
                "SELECT \(columns) FROM samples s JOIN temp.chosen_attempts c ON c.task = s.task AND c.attempt = s.attempt ORDER BY s.seq")
        }
        return RecordCursor(s) { s in
            SampleRow(
                seq: s.int64(0), time: Timestamp(microseconds: s.int64(1)), task: s.string(2), attempt: Int(s.int64(3)), cpuUser: s.optionalDouble(4),
                cpuSystem: s.optionalDouble(5), rss: s.optionalInt64(6), vms: s.optionalInt64(7), readBytes: s.optionalInt64(8),
                writeBytes: s.optionalInt64(9), processes: s.optionalInt64(10), threads: s.optionalInt64(11))
        }
    }

    /// The samples selected, decoded.
    public func forEachSample(_ selection: SampleSelection, _ body: (SampleRow) throws -> Void) throws {
        let cursor = try samples(selection)
        while let sample = try cursor.next() { try body(sample) }
    }
}

/// Records read one at a time from a statement: memory flat in the number of rows.
public final class RecordCursor<Record> {
    private let statement: Statement
    private let decode: (Statement) -> Record

    init(_ statement: Statement, decode: @escaping (Statement) -> Record) {
        self.statement = statement
        self.decode = decode
    }

    /// The next record, or nil after the last.
    public func next() throws -> Record? {
        try statement.step() ? decode(statement) : nil
    }
}
