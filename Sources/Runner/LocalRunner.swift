public import Boutiques
public import EventLog
public import Foundation
import JSON

/// One attempt to run: which task, which attempt number, and what it runs.
public struct AttemptPlan: Sendable {
    public var task: String
    public var attempt: Int
    public var rendered: RenderedInvocation

    public init(task: String, attempt: Int, rendered: RenderedInvocation) {
        self.task = task
        self.attempt = attempt
        self.rendered = rendered
    }
}

/// Live counts, for a progress line.
public struct Progress: Sendable {
    public var total: Int
    public var succeeded = 0
    public var failed = 0
    public var cancelled = 0
    public var running = 0
    public var started: Date = Date()
    public var done: Int { succeeded + failed + cancelled }

    /// `12/200 done (3 failed), 2 running, 00:41 elapsed, ETA 10:12`.
    public var line: String {
        let elapsed = Date().timeIntervalSince(started)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        func clock(_ s: Double) -> String {
            let t = Int(s.rounded())
            return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%02d:%02d", t / 60, t % 60)
        }
        return
            "\(done)/\(total) done (\(failed) failed\(cancelled > 0 ? ", \(cancelled) cancelled" : "")), \(running) running, \(clock(elapsed)) elapsed"
            + (done > 0 && done < total ? ", ETA \(clock(eta))" : "")
    }
}

/// Runs attempts on this machine with a bounded pool of workers, recording every event through a group-commit
/// writer. Stops launching when cancelled, and ends the running attempts' process groups.
public final class LocalRunner: @unchecked Sendable {
    public let executor: AttemptExecutor
    public let cancel: CancellationFlag
    /// Called as each attempt ends (from the worker that ran it).
    public var onAttemptEnd: @Sendable (AttemptPlan, TaskStatus) -> Void = { _, _ in }
    private let lock = NSLock()
    private var progress: Progress
    // The queue of one run, guarded by `lock`.
    private var queue: [AttemptPlan] = []
    private var nextIndex = 0
    private var results: [String: TaskStatus] = [:]

    public init(executor: AttemptExecutor, cancel: CancellationFlag, total: Int) {
        self.executor = executor
        self.cancel = cancel
        progress = Progress(total: total)
    }

    /// A snapshot of the counts.
    public var snapshot: Progress { lock.withLock { progress } }

    /// Runs every attempt (at most `jobs` at once) and returns the state each ended in, by task.
    public func run(_ attempts: [AttemptPlan]) throws -> [String: TaskStatus] {
        lock.withLock {
            queue = attempts
            nextIndex = 0
            results = [:]
        }
        let jobs = min(executor.options.jobs, max(1, attempts.count))
        let group = DispatchGroup()
        for _ in 0..<jobs {
            let thread = Thread { [self] in
                while true {
                    let item: AttemptPlan? = lock.withLock {
                        guard nextIndex < queue.count, cancel.cancelledBecause == nil else { return nil }
                        defer { nextIndex += 1 }
                        progress.running += 1
                        return queue[nextIndex]
                    }
                    guard let item else { break }
                    let state = executor.run(task: item.task, attempt: item.attempt, rendered: item.rendered, cancel: cancel)
                    onAttemptEnd(item, state)
                    lock.withLock {
                        results[item.task] = state
                        progress.running -= 1
                        switch state {
                        case .succeeded: progress.succeeded += 1
                        case .cancelled: progress.cancelled += 1
                        default: progress.failed += 1
                        }
                    }
                }
                group.leave()
            }
            group.enter()
            thread.start()
        }
        group.wait()
        try executor.sink.flush()
        return lock.withLock { results }
    }
}
