public import Boutiques
public import EventLog
import Foundation
public import Runner

/// Drives attempts on a `Backend`: submits them (recording `task_submitted` with the
/// scheduler's id once it accepted them), then follows them to their end: it ingests the workers' segments as
/// they grow (most of what happens is learnt there), asks the scheduler for the whole experiment at an adaptive
/// interval, and gives each attempt that the scheduler no longer holds, and whose worker recorded no exit, the
/// scheduler's final word (`task_ended`).
public final class Controller: @unchecked Sendable {
    public let layout: ExperimentLayout
    public let log: EventLog
    public let backend: any Backend
    public let factory: EventFactory
    public var policy = PollPolicy()
    /// Told a line for each attempt that ends, and the progress.
    public var onAttemptEnd: ((String, Int, TaskStatus) -> Void)?
    /// Told when the scheduler cannot be reached (after its own retries) and when it answers again: following goes
    /// on meanwhile, from the workers' segments.
    public var onWarning: ((String) -> Void)?
    /// Since when the scheduler has not answered, if it has not.
    private var unreachableSince: Date?

    /// Attempts followed: their native id, by attempt. Grouped attempts (`--groupby`) share one native id.
    private var followed: [Attempt: String] = [:]
    /// Attempts the scheduler would not take yet (its submit limit): submitted as earlier ones finish.
    private var deferred: [(plans: [AttemptPlan], resources: [String: String])] = []
    private var submission = Submission(groupBy: 1, throttle: 0, workdir: ".", sampleInterval: 1)
    /// When an attempt was first seen gone from the queue without a final event.
    private var goneSince: [String: Date] = [:]
    private var reported = Set<Attempt>()
    /// Attempts whose worker recorded a stop by a signal it did not ask for (the scheduler's time limit, a
    /// preemption): followed until the scheduler says why. Those it explained are not asked about again.
    private var explained = Set<Attempt>()
    /// Whether this controller asked the scheduler to cancel (then every stop is explained).
    private var cancelling = false

    /// One attempt of one task.
    struct Attempt: Hashable {
        var task: String
        var attempt: Int
    }

    /// How the scheduler is asked: first soon after a submission, then less often while nothing changes, up to a
    /// steady interval cluster admins accept; never more often than `costFactor` times the last call's duration.
    public struct PollPolicy: Sendable {
        public var first = 2.0
        public var steady = 30.0
        public var growth = 1.5
        public var costFactor = 5.0
        /// How long an attempt gone from the queue may wait for its worker's segment before the scheduler's word is
        /// recorded (file systems shared over the network show files late).
        public var segmentGrace = 10.0
        public init() {}

        /// The policy from `CLOWDR_POLL_SECONDS` (the steady interval), for tests and small clusters.
        public static func fromEnvironment() -> PollPolicy {
            var p = PollPolicy()
            if let s = ProcessInfo.processInfo.environment["CLOWDR_POLL_SECONDS"].flatMap(Double.init), s > 0 {
                p.steady = s
                p.first = min(p.first, s)
                p.segmentGrace = min(p.segmentGrace, 2 * s)
            }
            return p
        }
    }

    /// How attempts run on the nodes.
    public struct Submission: Sendable {
        public var groupBy: Int
        public var throttle: Int
        public var workdir: String
        public var sampleInterval: Double
        /// The container engine chosen on the command line (`--container-runtime`) and its volumes, which the
        /// nodes use as a local run would; nil: the node's default for the descriptor's image.
        public var containerRuntime: ContainerEngine?
        public var volumes: [String] = []
        public init(groupBy: Int, throttle: Int, workdir: String, sampleInterval: Double) {
            self.groupBy = groupBy
            self.throttle = throttle
            self.workdir = workdir
            self.sampleInterval = sampleInterval
        }
    }

    public init(layout: ExperimentLayout, log: EventLog, backend: any Backend, factory: EventFactory = EventFactory()) {
        self.layout = layout
        self.log = log
        self.backend = backend
        self.factory = factory
    }

    /// What every attempt's worker is told besides its task and attempt.
    var worker: TaskFile {
        TaskFile(
            experiment: layout.directory, task: "", attempt: 1, backend: backend.name, workdir: submission.workdir,
            sampleInterval: submission.sampleInterval, containerRuntime: submission.containerRuntime, volumes: submission.volumes)
    }

    /// Submits attempts, each with its resources (attempts with the same resources go in the same arrays).
    public func submit(_ plans: [AttemptPlan], resources: (AttemptPlan) -> [String: String], how: Submission) throws {
        submission = how
        var groups: [[String: String]: [AttemptPlan]] = [:]
        var order: [[String: String]] = []
        for p in plans {
            let r = resources(p)
            if groups[r] == nil { order.append(r) }
            groups[r, default: []].append(p)
        }
        for r in order { try submitGroup(groups[r]!, resources: r) }
    }

    /// Submits attempts with the same resources; what the scheduler's submit limit refuses waits in `deferred`.
    func submitGroup(_ plans: [AttemptPlan], resources: [String: String]) throws {
        var rest = plans[...]
        var size = rest.count
        while !rest.isEmpty {
            let part = Array(rest.prefix(size))
            let batch = SubmissionBatch(
                layout: layout, attempts: part, worker: worker, groupBy: submission.groupBy, resources: resources, throttle: submission.throttle)
            do {
                let ids = try backend.submit(batch)
                try log.append(
                    zip(part, ids).map { p, id in
                        factory.make(
                            task: p.task, attempt: p.attempt,
                            .taskSubmitted(TaskSubmitted(backend: backend.name, nativeID: id, resources: resources.isEmpty ? nil : resources)))
                    })
                for (p, id) in zip(part, ids) { followed[Attempt(task: p.task, attempt: p.attempt)] = id }
                rest = rest.dropFirst(part.count)
            } catch let e as BackendError where e.errorCode == "slurm.submit_limit" {
                // Smaller arrays first; when even one element is refused, wait for earlier tasks to finish.
                if size > submission.groupBy {
                    size = max(submission.groupBy, size / 2)
                } else {
                    deferred.append((Array(rest), resources))
                    return
                }
            }
        }
    }

    /// Follows the attempts already in the log that have this backend and no final word (after `clowdr watch`).
    public func adoptUnfinished() throws {
        for (_, t) in try log.projectedTasks() {
            for a in t.attempts where (!a.state.isTerminal || a.state == .cancelled) && a.backend == backend.name {
                if let id = a.nativeID { followed[Attempt(task: t.task, attempt: a.attempt)] = id }
            }
        }
    }

    /// Follows every attempt to its end; returns how each ended. On cancellation the scheduler is asked to cancel
    /// them, and they are followed until their workers say so.
    public func follow(cancel: CancellationFlag) throws -> [String: TaskStatus] {
        var nextPoll = Date().addingTimeInterval(policy.first)
        var interval = policy.first
        var cancelled = false
        while true {
            try ingestSegments()
            let tasks = try log.projectedTasks()
            var open = unfinished(in: tasks)
            report(open, tasks: tasks)
            if open.isEmpty && deferred.isEmpty { break }
            if cancel.cancelledBecause != nil, !cancelled {
                cancelled = true
                cancelling = true
                deferred.removeAll()
                try? backend.cancel(Array(Set(open.values)))
                nextPoll = Date()
            }
            if Date() >= nextPoll {
                let started = Date()
                var changed = false
                do {
                    changed = try reconcile(open)
                    if !deferred.isEmpty {
                        let waiting = deferred
                        deferred.removeAll()
                        for d in waiting { try submitGroup(d.plans, resources: d.resources) }
                    }
                    if let since = unreachableSince {
                        onWarning?("the scheduler answers again after \(Int(Date().timeIntervalSince(since))) s")
                        unreachableSince = nil
                    }
                } catch let e as BackendError where !e.isUsageError {
                    // A scheduler away for minutes or hours: the workers go on and their segments say what happens;
                    // the scheduler is asked again at the steady interval, and nothing is guessed meanwhile.
                    if unreachableSince == nil {
                        unreachableSince = started
                        onWarning?("\(e.message); following from the workers' records and asking again every \(Int(policy.steady)) s")
                    }
                    interval = policy.steady
                }
                let cost = Date().timeIntervalSince(started)
                interval = changed ? policy.first : min(policy.steady, interval * policy.growth)
                nextPoll = Date().addingTimeInterval(max(interval, policy.costFactor * cost))
                open = unfinished(in: try log.projectedTasks())
                if open.isEmpty && deferred.isEmpty { break }
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        var results: [String: TaskStatus] = [:]
        let tasks = try log.projectedTasks()
        for (f, _) in followed {
            if let a = attempt(f, in: tasks) { results["\(f.task)/\(f.attempt)"] = a.state }
        }
        return results
    }

    /// Adds what the workers' segments gained since the last look (a segment that did not grow is not opened:
    /// with thousands of workers, most did not).
    func ingestSegments() throws {
        _ = try log.ingestNewSegments(in: layout.segments)
    }

    /// The followed attempts without a final word, with their native ids (an attempt its worker recorded as
    /// cancelled waits for the scheduler's reason, unless this controller cancelled it).
    func unfinished(in tasks: [String: TaskState]) -> [Attempt: String] {
        followed.filter { f, _ in
            guard let a = attempt(f, in: tasks) else { return true }
            if a.state == .cancelled { return !cancelling && !explained.contains(f) }
            return !a.state.isTerminal
        }
    }

    /// A followed attempt's state in the projections.
    func attempt(_ f: Attempt, in tasks: [String: TaskState]) -> AttemptState? {
        tasks[f.task]?.attempts.first { $0.attempt == f.attempt }
    }

    /// One look at the scheduler: the queue for the whole experiment, then the accounting of the attempts that
    /// left it. Returns whether anything changed.
    func reconcile(_ open: [Attempt: String]) throws -> Bool {
        let queue = try backend.queue()
        var ended: [Event] = []
        var tasks = try log.projectedTasks()
        func labels(_ task: String) -> String { TaskLabels.text(tasks[task]?.labels) }
        var gone: [Attempt] = []
        for (f, id) in open {
            switch queue[id] {
            case .unschedulable(let reason)?:
                try? backend.cancel([id])
                let final = FinalState(state: "PENDING (\(reason))", failureClass: .unschedulable)
                ended.append(endEvent(id, f, final, labels: labels(f.task)))
            case .some:
                goneSince[id] = nil
            case nil:
                if goneSince[id] == nil { goneSince[id] = Date() }
                gone.append(f)
            }
        }
        if !gone.isEmpty {
            let finals = try backend.accounting(Array(Set(gone.compactMap { open[$0] })))
            // What the workers wrote meanwhile comes first: their exit is the final word.
            try ingestSegments()
            tasks = try log.projectedTasks()
            let still = unfinished(in: tasks)
            for f in gone {
                guard let id = still[f] else { continue }
                let waited = Date().timeIntervalSince(goneSince[id] ?? Date())
                var final: FinalState?
                if let finals {
                    final = finals[id]  // absent: accounting lags; ask again, never guess
                    if final?.completed == true && waited < policy.segmentGrace { continue }  // its segment may still be on its way
                } else if waited >= policy.segmentGrace {
                    // No accounting on this cluster: what slurmstepd wrote, else an unknown end (never success).
                    final =
                        (backend as? SlurmBackend).flatMap { SlurmAccounting.fromOutput($0.output(of: id)) }
                        ?? FinalState(state: "UNKNOWN", failureClass: .unknown)
                }
                if final == nil && attempt(f, in: tasks)?.state == .cancelled && waited >= policy.segmentGrace {
                    explained.insert(f)  // the scheduler has nothing to add (its records may be purged): the worker's stands
                }
                guard let final else { continue }
                if attempt(f, in: tasks)?.state == .cancelled {
                    // The worker's exit is recorded; the scheduler only says why it was stopped.
                    explained.insert(f)
                    if [.cancelled, .unknown, .appError].contains(final.failureClass) { continue }
                }
                ended.append(endEvent(id, f, final, labels: labels(f.task)))
            }
        }
        if !ended.isEmpty { try log.append(ended) }
        return !ended.isEmpty
    }

    func endEvent(_ id: String, _ f: Attempt, _ final: FinalState, labels: String) -> Event {
        factory.make(
            task: f.task, attempt: f.attempt,
            .taskEnded(
                TaskEnded(
                    backend: backend.name, nativeID: id, state: final.state, failureClass: final.failureClass,
                    reason: SlurmAccounting.reason(task: f.task, labels: labels, final), exitCode: final.exitCode, signal: final.signal,
                    peakRSS: final.peakRSS, wallTime: final.wallTime, cpuTime: final.cpuTime)))
    }

    /// Tells `onAttemptEnd` of each attempt that ended since the last call.
    func report(_ open: [Attempt: String], tasks: [String: TaskState]) {
        guard let onAttemptEnd else { return }
        let done = followed.keys.filter { open[$0] == nil && !reported.contains($0) }.sorted {
            ($0.task.count, $0.task, $0.attempt) < ($1.task.count, $1.task, $1.attempt)
        }
        for f in done {
            reported.insert(f)
            if let a = attempt(f, in: tasks) { onAttemptEnd(f.task, f.attempt, a.state) }
        }
    }
}
