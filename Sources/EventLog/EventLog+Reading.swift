import Foundation
public import SQLite

/// Reading: events in log order, replay, the projection, and a read snapshot for fsck, queries and exports.
extension EventLog {

    /// Moves every committed event from the `-wal` file into the log file itself and empties the `-wal`, so the
    /// `clowdr.db` file alone is complete (a copy of the folder, or a reader that opens it immutable, sees every
    /// event). Called when a run, a rerun or an ingest ends; a reader still reading keeps what it needs.
    public func checkpoint() throws {
        guard mode != .readOnly else { return }
        try lock.withLock {
            do { _ = try EventLog.retryingBusy { try db.execute("PRAGMA wal_checkpoint(TRUNCATE)") } } catch let e as SQLiteError {
                throw EventLogError.sqlite(path: path, e)
            }
        }
    }

    /// How many events the log holds.
    public func count() throws -> Int64 {
        try read { try db.scalar("SELECT count(*) FROM events")?.int64 ?? 0 }
    }

    /// Events with seq greater than `after`, in order (at most `limit`).
    public func events(after: Int64 = 0, limit: Int? = nil) throws -> [RawEvent] {
        var out: [RawEvent] = []
        try forEachEvent(after: after, limit: limit) { out.append($0) }
        return out
    }

    /// Calls `body` with each event with seq greater than `after`, in order, without holding them all in memory.
    public func forEachEvent(after: Int64 = 0, limit: Int? = nil, lifecycleOnly: Bool = false, _ body: (RawEvent) throws -> Void) throws {
        try read {
            let filter = lifecycleOnly ? " AND type <> 'sample'" : ""
            let stmt = try db.prepare("SELECT \(RawEvent.columns) FROM events WHERE seq > ?\(filter) ORDER BY seq LIMIT ?")
            try stmt.bind([.integer(after), .integer(Int64(limit ?? -1))])
            while try stmt.step() { try body(RawEvent(row: stmt)) }
        }
    }

    /// Replays every event of the log into the state of every task.
    public func replay() throws -> ExperimentState {
        try read { try replayUnlocked() }
    }

    /// `replay()` for callers that already hold the lock inside a read.
    func replayUnlocked() throws -> ExperimentState { try EventLog.replay(db) }

    /// Replays every event read through `db`. Samples (the bulk of a log) are read column by column without
    /// building strings for them; every other event goes through `Replay.apply` as a whole.
    static func replay(_ db: Connection) throws -> ExperimentState {
        var state = ExperimentState()
        let stmt = try db.prepare("SELECT \(RawEvent.columns) FROM events ORDER BY seq")
        while try stmt.step() {
            let seq = stmt.int64(0)
            let time = Timestamp(microseconds: stmt.int64(2))
            let task = stmt.optionalString(3)
            let attempt = stmt.optionalInt64(4).map { Int($0) }
            let isSample = stmt.withUTF8(5) { $0.elementsEqual("sample".utf8) } && stmt.int64(6) == 1
            let input: Replay.Input = isSample ? .sample(stmt.withUTF8(7) { Sample.fastFigures($0) }) : Replay.input(of: RawEvent(row: stmt))
            Replay.apply(seq: seq, time: time, task: task, attempt: attempt, input, to: &state)
        }
        return state
    }

    /// The projection tables as they are (the cache, not the truth: compare with `replay()`).
    public func projectedTasks() throws -> [String: TaskRecord] {
        try read { try ProjectionTables.loadAll(db) }
    }

    /// One task as the projection tables hold it (nil when the log has nothing of it).
    public func projectedTask(_ task: String) throws -> TaskRecord? {
        try read { try ProjectionTables(db).load(task: task) }
    }

    /// Runs a read against a consistent snapshot (one read transaction).
    func read<R>(_ body: () throws -> R) throws -> R {
        try lock.withLock {
            do {
                if db.inTransaction { return try body() }
                try db.execute("BEGIN DEFERRED")
                defer { try? db.execute("COMMIT") }
                return try body()
            } catch let e as SQLiteError {
                throw EventLogError.sqlite(path: path, e)
            }
        }
    }

    /// Runs `body` with the underlying connection inside one read snapshot (for fsck, queries and exports).
    public func withConnection<R>(_ body: (Connection) throws -> R) throws -> R {
        try read { try body(db) }
    }
}
