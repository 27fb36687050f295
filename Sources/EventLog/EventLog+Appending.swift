import Foundation
import SQLite

/// Appending: one transaction per batch, durable when it returns, retried while another process holds the lock.
extension EventLog {

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

    func statements() throws -> Statements {
        if let cached { return cached }
        let s = try Statements(db)
        cached = s
        return s
    }
}
