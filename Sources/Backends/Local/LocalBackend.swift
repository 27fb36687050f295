public import Boutiques
public import EventLog
import Foundation
public import Runner

/// This machine as a backend: a pool of `jobs` threads, each running attempts one after another with the same
/// `AttemptExecutor` as `clowdr task` on a node, recording their events straight into the log through one
/// group-commit writer (no segments: the controller and the workers share the process).
///
/// Native ids are `PID-N` (this controller's pid, then the attempt's number in its submissions). The pool dies with
/// its controller: a local experiment is resumed with `clowdr rerun incomplete`, not followed again.
public final class LocalBackend: Backend, @unchecked Sendable {
    public let name = "local"
    public var schedulerName: String { "the local pool" }
    public var recordsThroughSegments: Bool { false }
    public var pollPolicy: PollPolicy {
        var p = PollPolicy()
        (p.first, p.steady, p.segmentGrace) = (1, 5, 0)
        return p
    }

    let executor: AttemptExecutor
    let sink: GroupCommitSink
    /// The run's cancellation (a signal): running attempts see it at once, and nothing more starts.
    let cancelled: CancellationFlag

    /// Where each attempt stands, by native id; guarded by `condition`.
    private enum Slot {
        case staged(AttemptPlan)
        case queued(AttemptPlan)
        case running(CancellationFlag)
        case ended(FinalState)
    }
    private let condition = NSCondition()
    private var slots: [String: Slot] = [:]
    private var waiting: [String] = []
    private var head = 0
    private var submitted = 0
    private var threads = 0
    private var closing = false
    private var endedSinceLastWait = false
    private let workers = DispatchGroup()

    public init(
        layout: ExperimentLayout, descriptor: Descriptor, options: RunOptions, log: EventLog, factory: EventFactory, cancel: CancellationFlag
    ) {
        sink = GroupCommitSink(log)
        var executor = AttemptExecutor(layout: layout, descriptor: descriptor, options: options, sink: sink, factory: factory)
        executor.recordsSubmission = false  // the controller records it, with the native id
        executor.attemptsAreNew = true
        self.executor = executor
        cancelled = cancel
    }

    public func submit(_ batch: SubmissionBatch, accepted: (Range<Int>, [String]) throws -> Void) throws {
        let ids = condition.withLock {
            batch.attempts.map { plan in
                submitted += 1
                let id = "\(getpid())-\(submitted)"
                slots[id] = .staged(plan)
                return id
            }
        }
        try accepted(0..<ids.count, ids)
    }

    public func release(_ ids: [String]) {
        condition.withLock {
            for id in ids {
                guard case .staged(let plan)? = slots[id] else { continue }
                slots[id] = .queued(plan)
                waiting.append(id)
            }
            // A thread per slot of `--jobs`, up to the attempts waiting; they live until `finish`.
            let wanted = min(executor.options.jobs, waiting.count - head + busy)
            while threads < wanted {
                threads += 1
                workers.enter()
                let t = Thread { [self] in
                    work()
                    workers.leave()
                }
                t.name = "clowdr.local.\(threads)"
                t.start()
            }
            condition.broadcast()
        }
    }

    /// Threads running an attempt now (guarded by `condition`).
    private var busy = 0

    /// One thread of the pool: takes the next queued attempt and runs it, until `finish`.
    private func work() {
        while true {
            condition.lock()
            while head == waiting.count && !closing { condition.wait() }
            guard head < waiting.count else {
                condition.unlock()
                return
            }
            let id = waiting[head]
            head += 1
            guard case .queued(let plan)? = slots[id] else {
                condition.unlock()
                continue
            }
            if cancelled.cancelledBecause != nil {
                end(id, FinalState.notStarted)
                condition.unlock()
                continue
            }
            let flag = CancellationFlag(parent: cancelled)
            slots[id] = .running(flag)
            busy += 1
            condition.unlock()
            let state = executor.run(task: plan.task, attempt: plan.attempt, rendered: plan.rendered, cancel: flag)
            condition.withLock {
                busy -= 1
                end(id, Self.final(state))
            }
        }
    }

    /// Records an attempt's end (with `condition` held) and wakes whoever waits for a change.
    private func end(_ id: String, _ final: FinalState) {
        slots[id] = .ended(final)
        endedSinceLastWait = true
        condition.broadcast()
    }

    /// What the pool saw of an attempt that ran (its worker recorded the details).
    static func final(_ state: TaskState) -> FinalState {
        switch state {
        case .succeeded: FinalState(state: "COMPLETED", failureClass: .appError, exitCode: 0)
        case .failed: FinalState(state: "FAILED", failureClass: .appError)
        case .cancelled: FinalState(state: "CANCELLED", failureClass: .cancelled)
        case .lost: FinalState(state: FinalState.shimKilled, failureClass: .unknown)
        default: FinalState(state: "UNKNOWN", failureClass: .unknown)
        }
    }

    public func queue() throws -> [String: QueueState] {
        condition.withLock {
            var out: [String: QueueState] = [:]
            for (id, slot) in slots {
                switch slot {
                case .staged, .queued: out[id] = .pending(reason: "waiting for one of the \(executor.options.jobs) slots of --jobs")
                case .running: out[id] = .running
                case .ended: break
                }
            }
            return out
        }
    }

    /// The pool's word on ended attempts, once their workers' events are durable (they come first).
    public func accounting(_ ids: [String]) throws -> [String: FinalState]? {
        try sink.flush()
        return condition.withLock {
            var out: [String: FinalState] = [:]
            for id in ids { if case .ended(let f)? = slots[id] { out[id] = f } }
            return out
        }
    }

    public func cancel(_ ids: [String]) throws {
        condition.withLock {
            for id in ids {
                switch slots[id] {
                case .staged?, .queued?: end(id, FinalState.notStarted)
                case .running(let flag)?: flag.cancel(cancelled.cancelledBecause ?? "cancelled")
                default: break
                }
            }
        }
    }

    /// When `waitForChange` last returned.
    private var lastWake = Date.distantPast

    /// Returns when an attempt ended since the last call (its events then committed), or after `seconds`; at most
    /// 20 times a second, so that a controller following thousands of short attempts looks once per batch of ends.
    public func waitForChange(upTo seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        let earliest = min(deadline, lastWake.addingTimeInterval(0.05))
        if earliest > Date() { Thread.sleep(until: earliest) }
        defer { lastWake = Date() }
        let ended: Bool = condition.withLock {
            while !endedSinceLastWait && condition.wait(until: deadline) {}
            defer { endedSinceLastWait = false }
            return endedSinceLastWait
        }
        if ended { try? sink.flush() }
    }

    /// Lets the threads end once the queue is empty, waits for them, and makes every event durable.
    public func finish() throws {
        condition.withLock {
            closing = true
            condition.broadcast()
        }
        workers.wait()
        try sink.close()
    }
}
