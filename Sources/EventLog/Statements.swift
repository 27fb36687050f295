import Foundation
import SQLite

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
