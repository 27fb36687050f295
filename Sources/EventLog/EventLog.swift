import Foundation
public import SQLite

/// One experiment's append-only event log: a single SQLite file.
///
/// - Opened with explicit pragmas that are read back and checked: `journal_mode=WAL` (readers never block the
///   writer), `synchronous=FULL` (a committed transaction survives power loss), `foreign_keys=ON`, a busy timeout.
/// - `append` writes a batch in one transaction and returns once it is durable; the projection tables (`tasks`,
///   `attempts`) are updated in the same transaction by the same reducer that `Replay` uses.
/// - Several processes may append at once: each batch takes the write lock with `BEGIN IMMEDIATE`, waits up to
///   the busy timeout, and is retried on `SQLITE_BUSY`.
///
/// An `EventLog` may be shared between threads; its calls are serialised.
public final class EventLog: EventSink, @unchecked Sendable {
    /// How to open a log.
    public enum Mode: Sendable {
        /// Create the file if needed, migrate, read and write.
        case create
        /// Open an existing log to read and write (migrating it if it is older).
        case readWrite
        /// Open an existing log to read only: never writes, never takes a write lock.
        case readOnly
    }

    /// The conventional file name of a log inside an experiment folder.
    public static let fileName = "clowdr.db"

    /// The file's path.
    public let path: String
    public let mode: Mode
    private let lock = Lock()
    private let db: Connection
    private var cached: Statements?

    /// Milliseconds a statement waits for another process's lock before SQLite reports it busy.
    public static let busyTimeoutMilliseconds: Int32 = 10_000

    /// Opens the log at `path` (a `clowdr.db` file, or an experiment folder holding one).
    public init(path: String, mode: Mode = .readWrite) throws {
        var file = path
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            file = (path as NSString).appendingPathComponent(EventLog.fileName)
        }
        if mode != .create, !FileManager.default.fileExists(atPath: file) { throw EventLogError.notFound(path: path) }
        // A reader of a log written by an older clowdr brings it up to date first, when it may write the file.
        if mode == .readOnly, FileManager.default.isWritableFile(atPath: file),
            let v = try? Connection(path: file, mode: .readOnly).scalar("PRAGMA user_version")?.int64, v > 0, v < Migrations.latest
        {
            _ = try EventLog(path: file, mode: .readWrite)
        }
        self.path = file
        self.mode = mode
        do {
            db = try Connection(path: file, mode: mode == .readOnly ? .readOnly : (mode == .create ? .create : .readWrite))
            db.setBusyTimeout(milliseconds: EventLog.busyTimeoutMilliseconds)
            try configure()
            if mode == .readOnly {
                let version = Int(try db.scalar("PRAGMA user_version")?.int64 ?? 0)
                guard version == Migrations.latest else {
                    throw EventLogError.incompatible(
                        path: file,
                        reason: "schema version \(version), this clowdr reads \(Migrations.latest)"
                            + (version < Migrations.latest
                                ? "; open it once with write access (e.g. clowdr ingest or rerun) to upgrade it" : "; use a newer clowdr"))
                }
            } else {
                try EventLog.retryingBusy { try Migrations.migrate(db) }
            }
        } catch let e as SQLiteError {
            throw EventLogError.sqlite(path: file, e)
        }
    }

    /// Sets the pragmas and reads each one back.
    private func configure() throws {
        func check(_ pragma: String, _ expected: String) throws {
            let found = try db.scalar("PRAGMA \(pragma)")?.description.lowercased() ?? "nothing"
            guard found == expected else { throw EventLogError.pragmaRefused(path: path, pragma: pragma, expected: expected, found: found) }
        }
        if mode != .readOnly {
            let journal = try db.scalar("PRAGMA journal_mode=WAL")?.description.lowercased() ?? "nothing"
            guard journal == "wal" else { throw EventLogError.pragmaRefused(path: path, pragma: "journal_mode", expected: "wal", found: journal) }
        }
        try db.execute("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON")
        try check("journal_mode", "wal")
        try check("synchronous", "2")
        try check("foreign_keys", "1")
        try check("busy_timeout", String(EventLog.busyTimeoutMilliseconds))
    }

    /// The pragmas as they are on this connection (for `fsck` and tests).
    public func pragmas() throws -> [String: String] {
        try lock.withLock {
            var out: [String: String] = [:]
            for p in ["journal_mode", "synchronous", "foreign_keys", "busy_timeout", "user_version"] {
                out[p] = try db.scalar("PRAGMA \(p)")?.description
            }
            return out
        }
    }

    // MARK: Appending

    /// Appends events in one transaction; durable when it returns.
    public func append(_ events: [Event]) throws {
        _ = try appendReturningSeqs(events)
    }

    /// Appends events in one transaction and returns their seqs; durable when it returns.
    @discardableResult
    public func appendReturningSeqs(_ events: [Event]) throws -> [Int64] {
        guard !events.isEmpty else { return [] }
        return try write { s in
            var inputs: [ProjectionInput] = []
            inputs.reserveCapacity(events.count)
            for e in events {
                try s.insert(e)
                inputs.append(ProjectionInput(seq: s.db.lastInsertRowID, time: e.time, task: e.task, attempt: e.attempt, input: Replay.input(of: e)))
            }
            try s.project(inputs)
            return inputs.map(\.seq)
        }
    }

    /// Appends stored-form events in one transaction and returns their seqs; durable when it returns.
    @discardableResult
    public func appendReturningSeqs(_ events: [RawEvent]) throws -> [Int64] {
        guard !events.isEmpty else { return [] }
        return try write { s in
            var inputs: [ProjectionInput] = []
            inputs.reserveCapacity(events.count)
            for e in events {
                try s.insert(e, ignoringDuplicate: false)
                inputs.append(ProjectionInput(seq: s.db.lastInsertRowID, time: e.time, task: e.task, attempt: e.attempt, input: Replay.input(of: e)))
            }
            try s.project(inputs)
            return inputs.map(\.seq)
        }
    }

    /// The outcome of ingesting a segment.
    public struct IngestReport: Sendable, Equatable {
        /// Events added to the log.
        public var inserted: Int
        /// Events already in the log (same id, same content): skipped.
        public var duplicates: Int
        /// A torn last line (a writer crashed mid-line) that was skipped, with its 1-based line number.
        public var tornLine: Int?

        public init(inserted: Int, duplicates: Int, tornLine: Int?) {
            self.inserted = inserted
            self.duplicates = duplicates
            self.tornLine = tornLine
        }
    }

    /// Ingests a segment written by a remote worker: newline-delimited JSON, one event per line.
    ///
    /// Idempotent: events already in the log (by id) are skipped, so ingesting a segment twice changes nothing.
    /// The whole segment goes in one transaction. An unparsable last line without its newline is a torn write by
    /// a crashed writer: it is skipped and reported. Any other bad line rejects the whole segment.
    public func ingest(segmentAt segmentPath: String) throws -> IngestReport {
        guard let data = FileManager.default.contents(atPath: segmentPath) else {
            throw EventLogError.io(path: segmentPath, reason: "cannot read the segment file")
        }
        let (events, torn) = try EventLog.parseSegment(data, path: segmentPath)
        let inserted: Int = try write { s in
            var inputs: [ProjectionInput] = []
            for e in events {
                if try s.insert(e, ignoringDuplicate: true) {
                    inputs.append(
                        ProjectionInput(seq: s.db.lastInsertRowID, time: e.time, task: e.task, attempt: e.attempt, input: Replay.input(of: e)))
                } else if try !s.sameAsStored(e) {
                    throw EventLogError.conflictingDuplicate(path: segmentPath, id: e.id)
                }
            }
            try s.project(inputs)
            return inputs.count
        }
        return IngestReport(inserted: inserted, duplicates: events.count - inserted, tornLine: torn)
    }

    /// Splits a segment into events; returns the line number of a torn last line, if one was skipped.
    static func parseSegment(_ data: Data, path: String) throws -> ([RawEvent], Int?) {
        var events: [RawEvent] = []
        var torn: Int?
        let bytes = [UInt8](data)
        var start = 0
        var lineNo = 0
        while start < bytes.count {
            lineNo += 1
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            let complete = end < bytes.count
            let line = String(decoding: bytes[start..<end], as: UTF8.self)
            start = end + 1
            if line.allSatisfy({ $0 == " " || $0 == "\r" || $0 == "\t" }) { continue }
            do {
                events.append(try RawEvent(ndjsonLine: line))
            } catch {
                if !complete {
                    torn = lineNo
                    break
                }
                throw EventLogError.badSegment(path: path, line: lineNo, reason: "\(error)")
            }
        }
        return (events, torn)
    }

    /// Runs `body` in an immediate transaction with prepared statements, retrying when another process holds
    /// the lock for longer than the busy timeout.
    private func write<R>(_ body: (Statements) throws -> R) throws -> R {
        guard mode != .readOnly else { throw EventLogError.incompatible(path: path, reason: "opened read-only") }
        return try lock.withLock {
            do {
                let s = try statements()
                return try EventLog.retryingBusy { try db.transaction(immediate: true) { try body(s) } }
            } catch let e as SQLiteError {
                throw EventLogError.sqlite(path: path, e)
            }
        }
    }

    static func retryingBusy<R>(_ body: () throws -> R) throws -> R {
        var delay: UInt32 = 1000
        for _ in 0..<50 {
            do { return try body() } catch let e as SQLiteError where e.isBusy {
                usleep(delay)
                delay = min(delay * 2, 200_000)
            }
        }
        return try body()
    }

    private func statements() throws -> Statements {
        if let cached { return cached }
        let s = try Statements(db)
        cached = s
        return s
    }

    // MARK: Reading

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
            let stmt = try db.prepare(
                "SELECT seq, id, time, task, attempt, type, version, payload FROM events WHERE seq > ?\(filter) ORDER BY seq LIMIT ?")
            try stmt.bind([.integer(after), .integer(Int64(limit ?? -1))])
            while try stmt.step() {
                try body(
                    RawEvent(
                        seq: stmt.int64(0), id: stmt.string(1), time: Timestamp(microseconds: stmt.int64(2)), task: stmt.optionalString(3),
                        attempt: stmt.optionalInt64(4).map { Int($0) }, type: stmt.string(5), version: Int(stmt.int64(6)),
                        payload: stmt.string(7)))
            }
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
        let stmt = try db.prepare("SELECT seq, time, task, attempt, type, version, payload, id FROM events ORDER BY seq")
        while try stmt.step() {
            let seq = stmt.int64(0)
            let time = Timestamp(microseconds: stmt.int64(1))
            let task = stmt.optionalString(2)
            let attempt = stmt.optionalInt64(3).map { Int($0) }
            let isSample = stmt.withUTF8(4) { $0.elementsEqual("sample".utf8) } && stmt.int64(5) == 1
            let input: Replay.Input
            if isSample {
                input = .sample(rss: stmt.withUTF8(6) { Sample.fastRSS($0) })
            } else {
                input = Replay.input(
                    of: RawEvent(
                        seq: seq, id: stmt.string(7), time: time, task: task, attempt: attempt, type: stmt.string(4), version: Int(stmt.int64(5)),
                        payload: stmt.string(6)))
            }
            Replay.apply(seq: seq, time: time, task: task, attempt: attempt, input, to: &state)
        }
        return state
    }

    /// The projection tables as they are (the cache, not the truth: compare with `replay()`).
    public func projectedTasks() throws -> [String: TaskState] {
        try read { try ProjectionTables.loadAll(db) }
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

/// The prepared statements of the append path.
final class Statements {
    let db: Connection
    let insert: Statement
    let insertIgnoring: Statement
    let selectByID: Statement
    let projection: ProjectionTables

    init(_ db: Connection) throws {
        self.db = db
        let columns = "(id, time, task, attempt, type, version, payload) VALUES (?, ?, ?, ?, ?, ?, ?)"
        insert = try db.prepare("INSERT INTO events \(columns)")
        insertIgnoring = try db.prepare("INSERT INTO events \(columns) ON CONFLICT(id) DO NOTHING")
        selectByID = try db.prepare("SELECT time, task, attempt, type, version, payload FROM events WHERE id = ?")
        projection = try ProjectionTables(db)
    }

    /// Inserts one event; returns false when `ignoringDuplicate` and the id is already there.
    @discardableResult
    func insert(_ e: RawEvent, ignoringDuplicate: Bool) throws -> Bool {
        let stmt = ignoringDuplicate ? insertIgnoring : insert
        defer { stmt.reset() }
        try stmt.bind(.text(e.id), at: 1)
        try stmt.bind(.integer(e.time.microseconds), at: 2)
        try stmt.bind(.text(e.task), at: 3)
        try stmt.bind(.integer(e.attempt), at: 4)
        try stmt.bind(.text(e.type), at: 5)
        try stmt.bind(.integer(Int64(e.version)), at: 6)
        try stmt.bind(.text(e.payload), at: 7)
        try stmt.step()
        return db.changes > 0
    }

    private var scratch: [UInt8] = []

    /// Inserts one typed event, encoding its payload straight into a reused buffer.
    func insert(_ e: Event) throws {
        defer { insert.reset() }
        try insert.bind(.text(e.id.text), at: 1)
        try insert.bind(.integer(e.time.microseconds), at: 2)
        try insert.bind(.text(e.task), at: 3)
        try insert.bind(.integer(e.attempt), at: 4)
        try insert.bind(.text(e.body.type), at: 5)
        try insert.bind(.integer(Int64(e.body.version)), at: 6)
        if case .sample(let sample) = e.body {
            scratch.removeAll(keepingCapacity: true)
            sample.writeJSON(into: &scratch)
            try scratch.withUnsafeBufferPointer { try insert.bindText(utf8: $0, at: 7) }
        } else {
            try insert.bind(.text(try e.body.payloadJSON()), at: 7)
        }
        try insert.step()
    }

    /// True when the stored event with `e.id` has exactly `e`'s content.
    func sameAsStored(_ e: RawEvent) throws -> Bool {
        defer { selectByID.reset() }
        try selectByID.bind(.text(e.id), at: 1)
        guard try selectByID.step() else { return false }
        return selectByID.int64(0) == e.time.microseconds && selectByID.optionalString(1) == e.task
            && selectByID.optionalInt64(2).map({ Int($0) }) == e.attempt && selectByID.string(3) == e.type
            && Int(selectByID.int64(4)) == e.version && selectByID.string(5) == e.payload
    }

    /// Brings the projection tables up to date with events just inserted.
    func project(_ inputs: [ProjectionInput]) throws {
        var byTask: [String: [Int]] = [:]
        var order: [String] = []
        for (i, e) in inputs.enumerated() {
            guard let task = e.task else { continue }
            switch e.input {
            case .sample, .body: break
            case .unknown, .unreadable: continue
            }
            if byTask[task] == nil { order.append(task) }
            byTask[task, default: []].append(i)
        }
        for task in order {
            let before = try projection.load(task: task)
            var state = ExperimentState()
            if let before {
                state.tasks[task] = before
                state.taskOrder = [task]
            }
            for i in byTask[task]! {
                let e = inputs[i]
                Replay.apply(seq: e.seq, time: e.time, task: task, attempt: e.attempt, e.input, to: &state)
            }
            guard let after = state.tasks[task] else { continue }
            try projection.save(after, previous: before)
        }
    }
}

/// An event just inserted, as the projection needs it.
struct ProjectionInput {
    var seq: Int64
    var time: Timestamp
    var task: String?
    var attempt: Int?
    var input: Replay.Input
}
