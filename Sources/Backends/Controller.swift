public import Boutiques
import ClowdrErrors
public import EventLog
import Foundation
public import Runner

/// Drives attempts on any `Backend` (the local pool, Slurm, AWS Batch): submits them (recording `task_submitted` with the
/// backend's id once it accepted them), then follows them to their end: it reads what the workers recorded (from
/// their segments, or straight from the log for the local pool), asks the scheduler for the whole experiment at an
/// adaptive interval, and gives each attempt that the scheduler no longer holds, and whose worker recorded no exit,
/// the scheduler's final word (`task_ended`).
public final class Controller: @unchecked Sendable {
    public let layout: ExperimentLayout
    public let log: EventLog
    public let backend: any Backend
    public let factory: EventFactory
    public var policy: PollPolicy
    /// Told a line for each attempt that ends.
    public var onAttemptEnd: ((String, AttemptRecord) -> Void)?
    /// Told when the scheduler cannot be reached (after its own retries) and when it answers again: following goes
    /// on meanwhile, from the workers' segments.
    public var onWarning: ((String) -> Void)?
    /// Since when the scheduler has not answered, if it has not.
    private var unreachableSince: Date?
    /// How long the last look at the queue took.
    private var queueCost: Double?
    /// Settled final words of attempts still waiting for their worker's segment, by native id.
    private var settledFinals: [String: FinalState] = [:]

    /// Attempts followed: their native id, by attempt. Grouped attempts (`--groupby`) share one native id.
    private var followed: [AttemptKey: String] = [:]
    /// The followed attempts without a final word (kept as events arrive, never recomputed over all attempts).
    private var open: [AttemptKey: String] = [:]
    /// Followed attempts that ended since `report` last told of them.
    private var newlyEnded: [AttemptKey] = []
    /// The tasks' states, kept current from the new events.
    private var follower = TaskFollower()
    /// Counts for the progress line (read from another thread).
    private let progressLock = NSLock()
    private var progress = RunProgress(total: 0)
    private var running = Set<AttemptKey>()
    /// Attempts the scheduler would not take yet (its submit limit): submitted as earlier ones finish.
    private var deferred: [(plans: [AttemptPlan], resources: [String: String])] = []
    private var submission = Submission(groupBy: 1, throttle: 0, workdir: ".", sampleInterval: 1)
    /// When an attempt was first seen gone from the queue without a final event.
    private var goneSince: [String: Date] = [:]
    /// Attempts whose worker recorded a stop by a signal it did not ask for (the scheduler's time limit, a
    /// preemption): followed until the scheduler says why. Those it explained are not asked about again.
    private var explained = Set<AttemptKey>()
    /// Whether this controller asked the scheduler to cancel (then every stop is explained).
    private var cancelling = false
    /// What this controller submitted, with its resources, when its backend reruns reclaimed attempts: a reclaimed
    /// attempt is submitted again from it.
    private var submitted: [AttemptKey: (plan: AttemptPlan, resources: [String: String])] = [:]
    /// Attempts given automatically to tasks whose host was reclaimed, by task.
    private var reclaimRetried: [String: Int] = [:]
    /// The segment this controller records its submissions in, once it recorded one (see `submissionSink`).
    private var submissionSegment: SegmentWriter?

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
        /// Whether the workers observe the files their attempts use.
        public var traceFiles = true
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
        policy = backend.pollPolicy
    }

    /// Attempts the scheduler would not take yet (its submit limit), waiting to be submitted as earlier ones end.
    public var notSubmitted: Int { deferred.reduce(0) { $0 + $1.plans.count } }

    /// The counts so far, for a progress line.
    public var snapshot: RunProgress { progressLock.withLock { progress } }

    /// What every attempt's worker is told besides its task and attempt.
    var worker: TaskFile {
        var t = TaskFile(
            experiment: layout.directory, task: "", attempt: 1, backend: backend.name, workdir: submission.workdir,
            sampleInterval: submission.sampleInterval, containerRuntime: submission.containerRuntime, volumes: submission.volumes)
        t.traceFiles = submission.traceFiles
        t.submitted = true  // recorded by this controller once the backend accepts it
        return t
    }

    /// Submits attempts, each with its resources (attempts with the same resources go in the same arrays).
    public func submit(_ plans: [AttemptPlan], resources: (AttemptPlan) -> [String: String], how: Submission) throws {
        submission = how
        progressLock.withLock { progress.total += plans.count }
        // Groups in order of first appearance; an attempt with the resources of the one before it (the common
        // case: the same for all) joins its group without hashing them.
        var groups: [(resources: [String: String], plans: [AttemptPlan])] = []
        var index: [[String: String]: Int] = [:]
        for p in plans {
            let r = resources(p)
            if let last = groups.indices.last, groups[last].resources == r {
                groups[last].plans.append(p)
            } else if let i = index[r] {
                groups[i].plans.append(p)
            } else {
                index[r] = groups.count
                groups.append((r, [p]))
            }
        }
        for g in groups { try submitGroup(g.plans, resources: g.resources) }
    }

    /// Submits attempts with the same resources; what the scheduler's submit limit refuses waits in `deferred`.
    /// Each part the backend accepted is recorded (on another thread) while it submits the next.
    func submitGroup(_ plans: [AttemptPlan], resources: [String: String]) throws {
        var rest = plans[...]
        var size = rest.count
        while !rest.isEmpty {
            let part = Array(rest.prefix(size))
            let batch = SubmissionBatch(
                layout: layout, attempts: part, worker: worker, groupBy: submission.groupBy, resources: resources, throttle: submission.throttle)
            let recorder = PipelinedRecorder()
            var handedOver = 0
            do {
                try backend.submit(batch) { attempts, ids in
                    let plans = Array(part[attempts])
                    try recorder.add { [self] in try record(plans, ids: ids, resources: resources) }
                    handedOver = attempts.upperBound
                }
                try recorder.finish()
                rest = rest.dropFirst(part.count)
            } catch let e as BackendError where e.errorCode.hasSuffix(".submit_limit") {
                try recorder.finish()
                rest = rest.dropFirst(handedOver)
                // Smaller arrays first; when even one element is refused, wait for earlier tasks to finish.
                if size > submission.groupBy {
                    size = max(submission.groupBy, min(size, rest.count) / 2)
                } else {
                    deferred.append((Array(rest), resources))
                    return
                }
            } catch {
                try? recorder.finish()  // what was accepted is recorded, whatever failed after it
                throw error
            }
        }
    }

    /// Records the submission of attempts the backend accepted (`task_submitted` with their native ids), follows
    /// them, and lets the backend start them.
    func record(_ plans: [AttemptPlan], ids: [String], resources: [String: String]) throws {
        try submissionSink().append(
            zip(plans, ids).map { p, id in
                factory.make(
                    task: p.task, attempt: p.attempt,
                    .taskSubmitted(TaskSubmitted(backend: backend.name, nativeID: id, resources: resources.isEmpty ? nil : resources)))
            })
        for (p, id) in zip(plans, ids) {
            let f = AttemptKey(task: p.task, attempt: p.attempt)
            followed[f] = id
            open[f] = id
            if backend.reclaimRetries > 0 { submitted[f] = (p, resources) }
        }
        backend.release(ids)
    }

    /// Where submissions are recorded: the log itself when the attempts run in this process (the local pool);
    /// otherwise this controller's own segment, written like a worker's and ingested with the workers' segments
    /// (by this controller's next look, or by the next command that reads the experiment). A segment line costs a
    /// few microseconds where a row of the log, with its projection, costs some thirty: submitting 10,000 attempts
    /// then takes about as long as the scheduler takes to accept them.
    func submissionSink() throws -> any EventSink {
        guard backend.recordsThroughSegments else { return log }
        if let submissionSegment { return submissionSegment }
        do { try FileManager.default.createDirectory(atPath: layout.segments, withIntermediateDirectories: true) } catch {
            throw BackendError("cannot create \(layout.segments): \(error)", code: "backend.io")
        }
        // An id from the experiment's id source: a later controller's segment sorts after an earlier one's.
        let token = factory.ids.next(at: factory.clock.now()).text
        let segment = try SegmentWriter(path: layout.controllerSegment(token))
        submissionSegment = segment
        return segment
    }

    /// Seals this controller's segment (it records nothing more in it): readers stop looking at it once read.
    public func sealSubmissions() throws {
        try submissionSegment?.seal()
    }

    /// Follows the attempts already in the log that have this backend and no final word (after `clowdr watch`).
    public func adoptUnfinished() throws {
        for (_, t) in try log.projectedTasks() {
            for a in t.attempts where (!a.state.isTerminal || a.state == .cancelled) && a.backend == backend.name {
                if let id = a.nativeID {
                    followed[AttemptKey(task: t.task, attempt: a.attempt)] = id
                    open[AttemptKey(task: t.task, attempt: a.attempt)] = id
                }
            }
        }
        progressLock.withLock { progress.total = followed.count }
        backend.release(Array(Set(followed.values)))
    }

    /// Follows every attempt to its end; returns how each that started ended, by `task/attempt` (an attempt
    /// cancelled before it started is left out: it is counted as not started). On cancellation the scheduler is
    /// asked to cancel them, and they are followed until their workers say so.
    public func follow(cancel: CancellationFlag) throws -> [AttemptKey: AttemptState] {
        var nextPoll = Date().addingTimeInterval(policy.first)
        var interval = policy.first
        var cancelled = false
        while true {
            try look()
            report()
            if open.isEmpty && deferred.isEmpty { break }
            if cancel.cancelledBecause != nil, !cancelled {
                cancelled = true
                cancelling = true
                for (f, id) in open { update(f, id) }
                deferred.removeAll()
                try? backend.cancel(Array(Set(open.values)))
                nextPoll = Date()
            }
            if Date() >= nextPoll {
                let started = Date()
                var changed = false
                do {
                    changed = try reconcile()
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
                // What one look at the queue cost the scheduler (not the accounting of many ended attempts, nor the
                // submissions): polls never come more often than `costFactor` times that.
                let cost = queueCost ?? Date().timeIntervalSince(started)
                queueCost = nil
                interval = changed ? policy.first : min(policy.steady, interval * policy.growth)
                nextPoll = Date().addingTimeInterval(max(interval, policy.costFactor * cost))
                try look()
                report()
                if open.isEmpty && deferred.isEmpty { break }
            }
            backend.waitForChange(upTo: min(0.5, max(0.01, nextPoll.timeIntervalSinceNow)))
        }
        var results: [AttemptKey: AttemptState] = [:]
        for (f, _) in followed {
            guard let a = follower.attempt(f.attempt, of: f.task) else { continue }
            if a.state == .cancelled && a.startedAt == nil { continue }
            results[f] = a.state
        }
        return results
    }

    /// Reads what is new: the workers' segments (a segment that did not grow is not opened: with thousands of
    /// workers, most did not), then the events appended since the last look; updates the open attempts.
    func look(force: Bool = false) throws {
        if backend.recordsThroughSegments {
            do { try backend.gather(force: force) } catch let e as BackendError where !e.isUsageError {
                // Where the workers write is away (S3 down): what is here is ingested, the rest is fetched later.
                if unreachableSince == nil {
                    unreachableSince = Date()
                    onWarning?("\(e.message); following from what was fetched and trying again")
                }
            }
            _ = try log.ingestNewSegments(in: layout.segments)
        }
        for (task, attempt) in try follower.refresh(from: log) {
            let f = AttemptKey(task: task, attempt: attempt)
            if let id = followed[f] { update(f, id) }
        }
    }

    /// Whether a followed attempt still waits for a final word (an attempt its worker recorded as cancelled waits
    /// for the scheduler's reason, unless this controller cancelled it); keeps `open`, `running` and the counts.
    func update(_ f: AttemptKey, _ id: String) {
        let a = follower.attempt(f.attempt, of: f.task)
        let isOpen: Bool
        switch a?.state {
        case nil: isOpen = true
        case .cancelled?: isOpen = !cancelling && !explained.contains(f)
        case let s?: isOpen = !s.isTerminal
        }
        progressLock.withLock {
            if a?.state == .running { running.insert(f) } else { running.remove(f) }
            progress.running = running.count
            if isOpen {
                open[f] = id
            } else if open.removeValue(forKey: f) != nil {
                newlyEnded.append(f)
                switch a?.state {
                case .succeeded?: progress.succeeded += 1
                case .cancelled?: progress.cancelled += 1
                default: progress.failed += 1
                }
            }
        }
    }

    /// One look at the scheduler: the queue for the whole experiment, then the accounting of the attempts that
    /// left it. Returns whether anything changed.
    func reconcile() throws -> Bool {
        let asked = Date()
        let queue = try backend.queue()
        queueCost = Date().timeIntervalSince(asked)
        var ended: [Event] = []
        let open = self.open
        func labels(_ task: String) -> String { TaskLabels.text(follower.tasks[task]?.labels) }
        var gone: [AttemptKey] = []
        var reclaimed: [AttemptKey] = []
        var recorded = Set<String>()
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
            // A settled final word does not change: it is asked for once, then waits here for the worker's segment.
            let unknown = Set(gone.compactMap { open[$0] }).filter { settledFinals[$0] == nil }
            var finals: [String: FinalState]? = settledFinals
            if !unknown.isEmpty, let asked = try backend.accounting(Array(unknown)) {
                for (id, final) in asked {
                    if final.settled { settledFinals[id] = final }
                    finals?[id] = final
                }
            } else if !unknown.isEmpty {
                finals = nil  // the scheduler keeps no accounting
            }
            // What the workers wrote meanwhile comes first: their exit is the final word.
            try look(force: true)
            for f in gone {
                guard let id = self.open[f] else { continue }
                let waited = Date().timeIntervalSince(goneSince[id] ?? Date())
                var final: FinalState?
                if let finals {
                    final = finals[id]  // absent: accounting lags; ask again, never guess
                    if final?.completed == true && waited < policy.segmentGrace { continue }  // its segment may still be on its way
                    if final?.settled == false && waited < policy.accountingPatience { continue }  // its steps' usage is on its way
                } else if waited >= policy.segmentGrace {
                    // No accounting on this cluster: what slurmstepd wrote, else an unknown end (never success).
                    final = backend.finalWithoutAccounting(id) ?? FinalState(state: "UNKNOWN", failureClass: .unknown)
                }
                if cancelling, final?.state == FinalState.noRecord, follower.attempt(f.attempt, of: f.task)?.startedAt == nil,
                    waited >= policy.segmentGrace
                {
                    final = FinalState.notStarted  // this controller cancelled it, and it never started
                }
                let workerCancelled = follower.attempt(f.attempt, of: f.task)?.state == .cancelled
                if final == nil && workerCancelled && waited >= policy.segmentGrace {
                    explain(f, id)  // the scheduler has nothing to add (its records may be purged): the worker's stands
                }
                guard let final else { continue }
                if workerCancelled {
                    // The worker's exit is recorded; the scheduler only says why it was stopped.
                    explain(f, id)
                    if [.cancelled, .unknown, .appError].contains(final.failureClass) { continue }
                }
                ended.append(endEvent(id, f, final, labels: labels(f.task)))
                recorded.insert(id)
                if final.failureClass == .preempted { reclaimed.append(f) }
            }
        }
        if !ended.isEmpty { try log.append(ended) }
        for id in recorded { settledFinals[id] = nil }
        try retryReclaimed(reclaimed)
        return !ended.isEmpty
    }

    /// Gives each attempt that ended because its host was reclaimed a new attempt, up to `backend.reclaimRetries`
    /// per task (and not while cancelling): the provider's doing, not the task's.
    func retryReclaimed(_ reclaimed: [AttemptKey]) throws {
        guard backend.reclaimRetries > 0, !cancelling else { return }
        var again: [(AttemptPlan, [String: String])] = []
        for f in reclaimed {
            guard let earlier = submitted[f], reclaimRetried[f.task, default: 0] < backend.reclaimRetries else { continue }
            reclaimRetried[f.task, default: 0] += 1
            var plan = earlier.plan
            plan.attempt = f.attempt + 1
            again.append((plan, earlier.resources))
        }
        guard !again.isEmpty else { return }
        progressLock.withLock { progress.total += again.count }
        for (plan, resources) in again { try submitGroup([plan], resources: resources) }
    }

    func endEvent(_ id: String, _ f: AttemptKey, _ final: FinalState, labels: String) -> Event {
        // The reason names the peak the record shows: the worker's samples of the tool when it has them (the
        // scheduler's MaxRSS counts the worker too).
        var worded = final
        let measured = (try? log.projectedTask(f.task))?.attempts.first { $0.attempt == f.attempt }
        if let a = measured, a.figures != nil, a.figures != .scheduler, let peak = a.peakRSS { worded.peakRSS = peak }
        return factory.make(
            task: f.task, attempt: f.attempt,
            .taskEnded(
                TaskEnded(
                    backend: backend.name, nativeID: id, state: final.state, failureClass: final.failureClass,
                    reason: worded.reason(task: f.task, labels: labels, scheduler: backend.schedulerName), exitCode: final.exitCode,
                    signal: final.signal,
                    peakRSS: final.peakRSS, wallTime: final.wallTime, cpuTime: final.cpuTime, endedAt: final.endedAt)))
    }

    /// Marks a worker's stop as explained by the scheduler: the attempt needs no more word.
    func explain(_ f: AttemptKey, _ id: String) {
        explained.insert(f)
        update(f, id)
    }

    /// Tells `onAttemptEnd` of each attempt that ended since the last call.
    func report() {
        let done = progressLock.withLock {
            defer { newlyEnded.removeAll() }
            return newlyEnded
        }
        guard let onAttemptEnd else { return }
        for f in done.sorted(by: { ($0.task.count, $0.task, $0.attempt) < ($1.task.count, $1.task, $1.attempt) }) {
            if let a = follower.attempt(f.attempt, of: f.task) { onAttemptEnd(f.task, a) }
        }
    }
}
