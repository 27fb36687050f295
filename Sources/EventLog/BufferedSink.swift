/// Puts a bound on how often samples hit the disk: lifecycle events go straight through (durable when `append`
/// returns, with the samples buffered before them, so order is kept); samples wait in memory until there are
/// `maxBuffered` of them or the oldest has waited `maxDelay` seconds, then go in one batch.
///
/// A crash loses at most the buffered samples, never an acknowledged lifecycle event.
public final class BufferedSink: EventSink, @unchecked Sendable {
    private let downstream: any EventSink
    private let clock: any TimeSource
    private let maxBuffered: Int
    private let maxDelay: Double
    private let lock = Lock()
    private var buffer: [Event] = []
    private var oldest: Timestamp?

    public init(_ downstream: any EventSink, maxBuffered: Int = 10_000, maxDelay: Double = 1.0, clock: any TimeSource = SystemClock()) {
        self.downstream = downstream
        self.maxBuffered = maxBuffered
        self.maxDelay = maxDelay
        self.clock = clock
    }

    public func append(_ events: [Event]) throws {
        try lock.withLock {
            var hasLifecycle = false
            for e in events {
                if case .sample = e.body {} else { hasLifecycle = true }
                buffer.append(e)
            }
            if oldest == nil, !buffer.isEmpty { oldest = clock.now() }
            let due = oldest.map { $0.seconds(until: clock.now()) >= maxDelay } ?? false
            if hasLifecycle || buffer.count >= maxBuffered || due { try flushLocked() }
        }
    }

    /// Writes out whatever is buffered.
    public func flush() throws {
        try lock.withLock { try flushLocked() }
    }

    /// True when buffered samples have waited past the delay (for a timer to call `flush`).
    public var isDue: Bool {
        lock.withLock { oldest.map { $0.seconds(until: clock.now()) >= maxDelay } ?? false }
    }

    private func flushLocked() throws {
        guard !buffer.isEmpty else { return }
        let batch = buffer
        try downstream.append(batch)
        buffer.removeAll(keepingCapacity: true)
        oldest = nil
    }
}
