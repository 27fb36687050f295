import Foundation

/// A flag that asks running work to stop (set from a signal handler or a test); thread-safe.
public final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var reason: String?
    /// A flag whose cancellation cancels this one too (a run's, for one of its attempts).
    private let parent: CancellationFlag?
    public init(parent: CancellationFlag? = nil) { self.parent = parent }
    /// Asks everything to stop, for `reason` (e.g. "SIGINT").
    public func cancel(_ reason: String) { lock.withLock { if self.reason == nil { self.reason = reason } } }
    /// Why, once cancelled (this flag or its parent).
    public var cancelledBecause: String? { lock.withLock { reason } ?? parent?.cancelledBecause }
}
