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
        /// Open an existing log to read only: never writes it, never takes a write lock, never migrates it. In a
        /// folder this user cannot write (read-only media, a colleague's folder), it is opened as immutable, so
        /// nothing is created beside it either.
        case readOnly
    }

    /// The conventional file name of a log inside an experiment folder.
    public static let fileName = "clowdr.db"

    /// The file's path.
    public let path: String
    public let mode: Mode
    /// How SQLite has the file open (`.immutable` for a reader in a folder it cannot write).
    let connectionMode: Connection.Mode
    private let lock = Lock()
    let db: Connection
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
        self.path = file
        self.mode = mode
        connectionMode = EventLog.connectionMode(mode, file: file)
        do {
            db = try Connection(path: file, mode: connectionMode)
            db.setBusyTimeout(milliseconds: EventLog.busyTimeoutMilliseconds)
            try configure()
            if mode == .readOnly {
                let version = Int(try db.scalar("PRAGMA user_version")?.int64 ?? 0)
                guard version >= Migrations.oldestReadable && version <= Migrations.latest else {
                    throw EventLogError.incompatible(
                        path: file,
                        reason: "schema version \(version), this clowdr reads \(Migrations.oldestReadable) to \(Migrations.latest)"
                            + (version < Migrations.latest
                                ? "; upgrade it with `clowdr upgrade \((file as NSString).deletingLastPathComponent)` (which writes the log)"
                                : "; use a newer clowdr"))
                }
            } else {
                _ = try EventLog.retryingBusy { try Migrations.migrate(db) }
            }
        } catch let e as SQLiteError {
            throw EventLogError.sqlite(path: file, e)
        }
    }

    /// How SQLite opens the file: a reader in a folder it cannot write opens it immutable (a plain read-only open
    /// of a WAL log would need to create its `-shm` file there).
    static func connectionMode(_ mode: Mode, file: String) -> Connection.Mode {
        switch mode {
        case .create: return .create
        case .readWrite: return .readWrite
        case .readOnly:
            // A writer that did not close cleanly left its -wal (events not yet in the main file): SQLite reads it
            // read-only then. Immutable would not see it.
            let folder = (file as NSString).deletingLastPathComponent
            let writable = access(folder.isEmpty ? "." : folder, W_OK) == 0 && access(file, W_OK) == 0
            return writable || access(file + "-wal", F_OK) == 0 ? .readOnly : .immutable
        }
    }

    /// Sets the pragmas and reads each one back.
    private func configure() throws {
        func check(_ pragma: String, _ expected: String) throws {
            let found = try db.scalar("PRAGMA \(pragma)")?.description.lowercased() ?? "nothing"
            guard found == expected else { throw EventLogError.pragmaRefused(path: path, pragma: pragma, expected: expected, found: found) }
        }
        let immutable = connectionMode == .immutable
        if mode != .readOnly {
            let journal = try db.scalar("PRAGMA journal_mode=WAL")?.description.lowercased() ?? "nothing"
            guard journal == "wal" else { throw EventLogError.pragmaRefused(path: path, pragma: "journal_mode", expected: "wal", found: journal) }
        }
        try db.execute("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON")
        // An immutable file is read as it is, without its journal (there is none: it was closed cleanly).
        if !immutable { try check("journal_mode", "wal") }
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
    ///
    /// The events are read in place through a buffer pointer: subscripting the array copied each event (its
    /// strings retained and released), about 6% of the CPU of an append of samples.
    @discardableResult
    public func appendReturningSeqs(_ events: [Event]) throws -> [Int64] {
        guard !events.isEmpty else { return [] }
        return try events.withUnsafeBufferPointer { events in
            try write { s in
                let seqs = try s.insertAll(events.count) { i, arena in try PendingRow(events[i], into: &arena) }
                try s.project(events.count, task: { events[$0].body.isAboutTask ? events[$0].task : nil }) { i, state in
                    Replay.apply(Replay.input(of: events[i]), seq: seqs[i], time: events[i].time, attempt: events[i].attempt, to: &state)
                }
                return seqs
            }
        }
    }

    /// Appends stored-form events in one transaction and returns their seqs; durable when it returns.
    @discardableResult
    public func appendReturningSeqs(_ events: [RawEvent]) throws -> [Int64] {
        guard !events.isEmpty else { return [] }
        let inputs = events.map { Replay.input(of: $0) }
        return try write { s in
            let seqs = try s.insertAll(events.count) { i, arena in PendingRow(events[i], into: &arena) }
            try s.project(events.count, task: { inputs[$0].isAboutTask ? events[$0].task : nil }) { i, state in
                Replay.apply(inputs[i], seq: seqs[i], time: events[i].time, attempt: events[i].attempt, to: &state)
            }
            return seqs
        }
    }

    /// Runs `body` in an immediate transaction with prepared statements, retrying when another process holds
    /// the lock for longer than the busy timeout.
    func write<R>(_ body: (Statements) throws -> R) throws -> R {
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
    public func projectedTasks() throws -> [String: TaskRecord] {
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
    /// One row per statement: the tail of a batch, and ingest (which must know, row by row, what was new).
    let insert: Statement
    let insertIgnoring: Statement
    /// `rowsPerStatement` rows per statement: the bulk of a batch. SQLite's per-statement work (cursors, the
    /// statement transaction, the VDBE program's start and end) is then paid once per chunk instead of once per row.
    let insertChunk: Statement
    /// The same for a chunk of samples only, the most common chunk: its type and version are constants of the
    /// statement, two parameters fewer to bind per row.
    let insertSampleChunk: Statement
    let selectByID: Statement
    let projection: ProjectionTables
    /// How far a segment was ingested (`ingested_segments`), prepared on first use.
    private var upsertIngested: Statement?

    /// Rows in one multi-row INSERT (7 parameters each, far below SQLite's limits on parameters and VALUES rows).
    static let rowsPerStatement = 32

    init(_ db: Connection) throws {
        self.db = db
        let row = "(?, ?, ?, ?, ?, ?, ?)"
        let columns = "INSERT INTO events (id, time, task, attempt, type, version, payload) VALUES"
        insert = try db.prepare("\(columns) \(row)")
        insertIgnoring = try db.prepare("\(columns) \(row) ON CONFLICT(id) DO NOTHING")
        insertChunk = try db.prepare("\(columns) " + Array(repeating: row, count: Statements.rowsPerStatement).joined(separator: ", "))
        let sampleRow = "(?, ?, ?, ?, '\(EventType.sample.rawValue)', \(EventType.sample.currentVersion), ?)"
        insertSampleChunk = try db.prepare("\(columns) " + Array(repeating: sampleRow, count: Statements.rowsPerStatement).joined(separator: ", "))
        selectByID = try db.prepare("SELECT time, task, attempt, type, version, payload FROM events WHERE id = ?")
        projection = try ProjectionTables(db)
    }

    /// Inserts `count` events, whole chunks through the multi-row statement and the rest one by one. `encode`
    /// writes event `i`'s text columns into the arena and returns its row. Returns the seqs in order.
    ///
    /// The text of a chunk is bound straight from the arena (no copy by SQLite, no allocation per value). Inside
    /// the write transaction the rowids of one statement are consecutive (each new rowid is the largest plus one),
    /// so a chunk's seqs are its last row's seq and the ones before it.
    func insertAll(_ count: Int, encode: (Int, inout ByteArena) throws -> PendingRow) throws -> [Int64] {
        var seqs: [Int64] = []
        seqs.reserveCapacity(count)
        // Local copies for the loop (the arena is a pointer and counts): no exclusivity check on every write.
        var arena = self.arena
        defer { self.arena = arena }
        var rows = [PendingRow]()
        rows.reserveCapacity(Statements.rowsPerStatement)
        var i = 0
        while i < count {
            let k = count - i >= Statements.rowsPerStatement ? Statements.rowsPerStatement : 1
            arena.removeAll()
            rows.removeAll(keepingCapacity: true)
            for r in 0..<k { rows.append(try encode(i + r, &arena)) }
            let samplesOnly = k > 1 && rows.allSatisfy(\.isSample)
            let stmt = k == 1 ? insert : samplesOnly ? insertSampleChunk : insertChunk
            defer { stmt.reset() }
            var parameter: Int32 = 1
            for r in 0..<k { parameter = try rows[r].bind(to: stmt, from: parameter, text: arena, typeIsConstant: samplesOnly) }
            try stmt.step()
            let last = db.lastInsertRowID
            for r in 0..<k { seqs.append(last - Int64(k - 1 - r)) }
            i += k
        }
        return seqs
    }

    /// The text of the chunk being inserted (freed with the statements).
    private var arena = ByteArena()

    deinit { arena.deallocate() }

    /// Inserts one event; returns false when `ignoringDuplicate` and the id is already there.
    @discardableResult
    func insert(_ e: RawEvent, ignoringDuplicate: Bool) throws -> Bool {
        let stmt = ignoringDuplicate ? insertIgnoring : insert
        arena.removeAll()
        let row = PendingRow(e, into: &arena)
        defer { stmt.reset() }
        _ = try row.bind(to: stmt, from: 1, text: arena, typeIsConstant: false)
        try stmt.step()
        return db.changes > 0
    }

    /// True when the stored event with `e.id` has exactly `e`'s content.
    func recordIngested(_ mark: SegmentMark) throws {
        if upsertIngested == nil {
            upsertIngested = try db.prepare(
                "INSERT INTO ingested_segments (segment, bytes, inode, head, sealed) VALUES (?, ?, ?, ?, ?) ON CONFLICT(segment) DO UPDATE SET "
                    // Two ingests at once (a controller and a reader) never move a segment's mark back.
                    + "bytes = CASE WHEN inode = excluded.inode AND head = excluded.head THEN max(bytes, excluded.bytes) ELSE excluded.bytes END, "
                    + "sealed = CASE WHEN inode = excluded.inode AND head = excluded.head THEN max(sealed, excluded.sealed) ELSE excluded.sealed END, "
                    + "inode = excluded.inode, head = excluded.head")
        }
        let stmt = upsertIngested!
        defer { stmt.reset() }
        try stmt.bind([
            .text(mark.key), .integer(Int64(mark.bytes)), .integer(mark.identity.inode), .blob([UInt8](mark.identity.head)),
            .integer(mark.sealed ? 1 : 0),
        ])
        _ = try stmt.step()
    }

    func sameAsStored(_ e: RawEvent) throws -> Bool {
        defer { selectByID.reset() }
        try selectByID.bind(.text(e.id), at: 1)
        guard try selectByID.step() else { return false }
        return selectByID.int64(0) == e.time.microseconds && selectByID.optionalString(1) == e.task
            && selectByID.optionalInt64(2).map({ Int($0) }) == e.attempt && selectByID.string(3) == e.type
            && Int(selectByID.int64(4)) == e.version && selectByID.string(5) == e.payload
    }

    /// Brings the projection tables up to date with `count` events just inserted. `task(i)` is the task whose state
    /// event `i` changes (nil when it changes none); `apply(i, &state)` applies it. Each task is loaded once, gets
    /// its events in order, and is saved once.
    func project(_ count: Int, task: (Int) -> String?, apply: (Int, inout TaskRecord) -> Void) throws {
        // The events grouped by task, tasks in order of first appearance: one hash lookup per event.
        var group: [String: Int] = [:]
        var groups: [(task: String, events: [Int])] = []
        for i in 0..<count {
            guard let task = task(i) else { continue }
            if let g = group[task] {
                groups[g].events.append(i)
            } else {
                group[task] = groups.count
                groups.append((task, [i]))
            }
        }
        for (task, events) in groups {
            let before = try projection.load(task: task)
            var after = before ?? TaskRecord(task: task, lastSeq: 0)
            for i in events { apply(i, &after) }
            try projection.save(after, previous: before)
        }
    }
}

/// One row of `events` about to be inserted: its numbers, and its text as ranges of the arena of the chunk
/// being inserted (see `Statements.insertAll`).
struct PendingRow {
    var id: Range<Int>
    var time: Int64
    var task: Range<Int>?
    var attempt: Int64?
    var type: Range<Int>
    var version: Int64
    var payload: Range<Int>
    /// A sample of the version this build writes (such rows may go through `insertSampleChunk`).
    var isSample: Bool

    init(_ e: borrowing RawEvent, into arena: inout ByteArena) {
        id = arena.append(e.id)
        time = e.time.microseconds
        task = e.task.map { arena.append($0) }
        attempt = e.attempt.map(Int64.init)
        type = arena.append(e.type)
        version = Int64(e.version)
        payload = arena.append(e.payload)
        isSample = e.type == EventType.sample.rawValue && e.version == EventType.sample.currentVersion
    }

    /// A typed event's row: a sample's payload is encoded straight into the arena.
    init(_ e: borrowing Event, into arena: inout ByteArena) throws {
        id = arena.append(e.id.text)
        time = e.time.microseconds
        task = e.task.map { arena.append($0) }
        attempt = e.attempt.map(Int64.init)
        if case .sample(let sample) = e.body {
            type = arena.append(EventType.sample.rawValue)
            version = Int64(EventType.sample.currentVersion)
            payload = arena.write(maxBytes: Sample.maxJSONBytes) { sample.writeJSON(to: $0) }
            isSample = true
        } else {
            type = arena.append(e.body.type)
            version = Int64(e.body.version)
            payload = arena.append(try e.body.payloadJSON())
            isSample = false
        }
    }

    /// Binds the row's columns from parameter `c` on and returns the next parameter: all seven, or five when the
    /// statement has the type and version as constants. `text` is the arena, which must not change until the step.
    func bind(to stmt: Statement, from c: Int32, text: ByteArena, typeIsConstant: Bool) throws -> Int32 {
        try stmt.bindText(borrowing: text[id], at: c)
        try stmt.bind(time, at: c + 1)
        if let task { try stmt.bindText(borrowing: text[task], at: c + 2) } else { try stmt.bind(.null, at: c + 2) }
        try stmt.bind(attempt, at: c + 3)
        if typeIsConstant {
            try stmt.bindText(borrowing: text[payload], at: c + 4)
            return c + 5
        }
        try stmt.bindText(borrowing: text[type], at: c + 4)
        try stmt.bind(version, at: c + 5)
        try stmt.bindText(borrowing: text[payload], at: c + 6)
        return c + 7
    }
}
