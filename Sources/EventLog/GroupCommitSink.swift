import Foundation

/// Group commit: callers post events without waiting; one writer thread commits everything queued so far in a
/// single transaction, then the next batch. Many concurrent tasks share each fsync, so throughput does not depend
/// on the disk's sync latency. `flush()` waits until everything posted is durable.
///
/// A crash loses only events not yet committed; for tasks they mean "incomplete", which a rerun picks up.
public final class GroupCommitSink: QueuedEventSink, @unchecked Sendable {
    private let log: EventLog
    private let condition = NSCondition()
    private var queue: [Event] = []
    private var posted = 0
    private var committed = 0
    private var stopping = false
    /// Set by `flush` and `close`: commit what is queued now, without gathering more.
    private var urgent = false
    /// How long the writer waits for more events before it commits a small batch, seconds.
    static let gathering = 0.010
    private var failure: (any Error)?
    private var thread: Thread?

    public init(_ log: EventLog) {
        self.log = log
        // The thread holds the sink until its loop ends (after `close`), so the sink can never be freed under it.
        let t = Thread { [self] in self.loop() }
        t.name = "clowdr.eventlog.writer"
        thread = t
        t.start()
    }

    /// Queues events; returns at once.
    public func post(_ events: [Event]) {
        condition.lock()
        queue += events
        posted += events.count
        condition.signal()
        condition.unlock()
    }

    /// Waits until every event posted so far is committed; rethrows a write failure.
    public func flush() throws {
        condition.lock()
        defer { condition.unlock() }
        let target = posted
        if committed < target {
            urgent = true
            condition.broadcast()
        }
        while committed < target && failure == nil { condition.wait() }
        if let failure { throw failure }
    }

    /// Flushes and stops the writer thread.
    public func close() throws {
        try flush()
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping {
                condition.unlock()
                return
            }
            // A few events alone: gather what the next 10 ms bring (the other attempts' starts and exits) into the
            // same transaction, unless someone waits for them. A commit costs the same for 1 event or 100.
            let gatherUntil = Date().addingTimeInterval(Self.gathering)
            while queue.count < 256 && !urgent && !stopping && condition.wait(until: gatherUntil) {}
            urgent = false
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            condition.unlock()
            var error: (any Error)?
            do { try log.append(batch) } catch let e { error = e }
            condition.lock()
            if let error { failure = error }
            committed += batch.count
            condition.broadcast()
            condition.unlock()
        }
    }
}

extension GroupCommitSink: EventSink {
    /// Posts and waits until durable.
    public func append(_ events: [Event]) throws {
        post(events)
        try flush()
    }
}
