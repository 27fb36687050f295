import SQLite

/// The tasks' states kept current by reading only what was appended since the last look: what a controller
/// following thousands of attempts reads several times a second, at a cost in the new events, not in the log.
///
/// It starts from the projection tables, then applies each new lifecycle event with `Replay` (the one reducer).
/// Samples are passed over: they change a task's peak, never its state, so the peaks here are those of the start.
public struct TaskFollower: Sendable {
    /// Task states by task id.
    public private(set) var tasks: [String: TaskRecord] = [:]
    /// The last seq looked at.
    public private(set) var seenSeq: Int64 = 0
    private var started = false

    public init() {}

    /// Reads what is new and returns the attempts it changed, as (task, attempt).
    public mutating func refresh(from log: EventLog) throws -> [(task: String, attempt: Int)] {
        var changed: [(task: String, attempt: Int)] = []
        try log.read {
            let last = try log.db.scalar("SELECT max(seq) FROM events")?.int64 ?? 0
            if !started {
                tasks = try ProjectionTables.loadAll(log.db)
                seenSeq = last
                started = true
                for t in tasks.values { for a in t.attempts { changed.append((t.task, a.attempt)) } }
                return
            }
            guard last > seenSeq else { return }
            let stmt = try log.db.prepare(
                "SELECT \(RawEvent.columns) FROM events WHERE seq > ? AND seq <= ? AND type <> 'sample' ORDER BY seq"
            )
            try stmt.bind([.integer(seenSeq), .integer(last)])
            while try stmt.step() {
                guard let task = stmt.optionalString(3) else { continue }
                let e = RawEvent(row: stmt)
                let input = Replay.input(of: e)
                guard input.isAboutTask else { continue }
                Replay.apply(input, seq: e.seq ?? 0, time: e.time, attempt: e.attempt, to: &tasks[task, default: TaskRecord(task: task, lastSeq: 0)])
                if let a = e.attempt { changed.append((task, a)) }
            }
            seenSeq = last
        }
        return changed
    }

    /// One attempt's state.
    public func attempt(_ number: Int, of task: String) -> AttemptRecord? {
        tasks[task]?.attempts.first { $0.attempt == number }
    }
}
