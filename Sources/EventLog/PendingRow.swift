import Foundation
import SQLite

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
