import Foundation
import JSON

/// Replay: a pure function from events, in log order, to the state of every task.
///
/// The same reducer maintains the projection tables at append time and rebuilds them in `fsck`, so the two can
/// never disagree by construction; `fsck` checks that they do not disagree in fact.
public enum Replay {
    /// Replays `events` (in seq order) from an empty state.
    public static func run(_ events: some Sequence<RawEvent>) -> ExperimentState {
        var state = ExperimentState()
        for e in events { apply(e, to: &state) }
        return state
    }

    /// Applies one stored event.
    public static func apply(_ e: RawEvent, to state: inout ExperimentState) {
        apply(seq: e.seq ?? state.lastSeq + 1, time: e.time, task: e.task, attempt: e.attempt, input(of: e), to: &state)
    }

    /// What replay needs of one event: for a sample only its figures, for anything else the decoded payload.
    public enum Input: Sendable {
        case sample(SampleFigures)
        case body(EventBody)
        case unknown(type: String, version: Int)
        case unreadable(reason: String)

        /// Whether the event changes its task's state (samples and lifecycle events); experiment-level, unknown
        /// and unreadable events do not.
        public var isAboutTask: Bool {
            switch self {
            case .sample: true
            case .body(let body): body.isAboutTask
            case .unknown, .unreadable: false
            }
        }
    }

    /// The replay input of a stored event (decodes its payload unless it is a sample).
    public static func input(of e: borrowing RawEvent) -> Input {
        guard let type = e.knownType else { return .unknown(type: e.type, version: e.version) }
        if type == .sample { return .sample(Sample.fastFigures(e.payload)) }
        do { return .body(try EventBody.decode(type: e.type, version: e.version, payload: e.payload)) } catch {
            return .unreadable(reason: "\(e.type) v\(e.version) payload does not match its schema: \(error)")
        }
    }

    /// The replay input of a typed event (nothing to decode).
    public static func input(of e: Event) -> Input {
        switch e.body {
        case .sample(let s): .sample(SampleFigures(s))
        case .unknown(let type, let version, _): .unknown(type: type, version: version)
        default: .body(e.body)
        }
    }

    /// Applies one event given by its envelope and replay input.
    public static func apply(seq: Int64, time: Timestamp, task: String?, attempt: Int?, _ input: Input, to state: inout ExperimentState) {
        state.eventCount += 1
        state.lastSeq = max(state.lastSeq, seq)
        if let last = state.lastEventAt { if time > last { state.lastEventAt = time } } else { state.lastEventAt = time }
        switch input {
        case .unknown(let type, let version):
            state.unknownEvents.append(UnknownEvent(seq: seq, type: type, version: version))
        case .unreadable(let reason):
            state.unreadableEvents.append((seq, reason))
        case .body(.experimentCreated(let p)):
            if state.experiment == nil {
                state.experiment = p
                state.createdAt = time
            }
        case .body(.rerunRequested(let p)):
            state.reruns.append((seq, p))
        case .body(.segmentRefused(let p)):
            state.refusedLines.append((seq, p))
        case .sample(let figures):
            // The bulk of a log, kept apart from lifecycle events: passing the whole input on costs replay ~9%.
            guard let task else { return }
            update(task: task, in: &state) { applySample(seq: seq, time: time, attempt: attempt, figures, to: &$0) }
        case .body(let body):
            guard let task else { return }
            update(task: task, in: &state) { apply(body, seq: seq, time: time, attempt: attempt, to: &$0) }
        }
    }

    /// Applies an event about one task to that task alone (what the projection does, task by task). Inputs that
    /// are not about a task's attempts (experiment-level, unknown or unreadable events) change nothing here.
    public static func apply(_ input: Input, seq: Int64, time: Timestamp, attempt: Int?, to task: inout TaskRecord) {
        switch input {
        case .sample(let figures): applySample(seq: seq, time: time, attempt: attempt, figures, to: &task)
        case .body(let body): apply(body, seq: seq, time: time, attempt: attempt, to: &task)
        case .unknown, .unreadable: break
        }
    }

    static func update(task: String, in state: inout ExperimentState, _ body: (inout TaskRecord) -> Void) {
        // One hash lookup for a task already seen (the common case: samples), then an in-place change.
        if let i = state.tasks.index(forKey: task) {
            body(&state.tasks.values[i])
        } else {
            var t = TaskRecord(task: task, lastSeq: 0)
            body(&t)
            state.tasks[task] = t
            state.taskOrder.append(task)
        }
    }

    /// Applies a sample to a task: counts it and raises the attempt's peak. Until its worker records the exit, the
    /// samples are the attempt's figures (CPU and I/O are cumulative: the latest sample's); a scheduler's figures
    /// read before them give way.
    public static func applySample(seq: Int64, time: Timestamp, attempt: Int?, _ s: SampleFigures, to task: inout TaskRecord) {
        withAttempt(attempt, of: &task, creating: .running, seq: nil) { a in
            a.samples += 1
            a.lastSampleSeq = seq
            a.lastSampleAt = max(a.lastSampleAt ?? time, time)
            if a.figures == .scheduler { (a.peakRSS, a.cpuUser, a.cpuSystem, a.readBytes, a.writeBytes) = (nil, nil, nil, nil, nil) }
            if let rss = s.rss { a.peakRSS = max(a.peakRSS ?? 0, rss) }
            guard a.figures != .exit else { return }
            // Ended by the scheduler's word (read before this sample, or sampled in its last second): the end is
            // no earlier than the sample.
            if a.figures == .scheduler || (a.figures == .samples && a.endedAt != nil) { endAtLastSample(&a) }
            a.figures = .samples
            if let v = s.cpuUser { a.cpuUser = max(a.cpuUser ?? 0, v) }
            if let v = s.cpuSystem { a.cpuSystem = max(a.cpuSystem ?? 0, v) }
            if let v = s.readBytes { a.readBytes = max(a.readBytes ?? 0, v) }
            if let v = s.writeBytes { a.writeBytes = max(a.writeBytes ?? 0, v) }
        }
    }

    /// Applies a lifecycle event's payload to a task: each type to the attempt it names, by a step of its own.
    public static func apply(_ body: EventBody, seq: Int64, time: Timestamp, attempt: Int?, to task: inout TaskRecord) {
        switch body {
        case .taskPlanned(let p):
            if task.plannedSeq == nil {
                task.plannedSeq = seq
                task.labels = TaskRecord.labelsJSON(p.labels)
            }
            task.lastSeq = seq
        case .taskSubmitted(let p): withAttempt(attempt, of: &task, creating: .submitted, seq: seq) { applySubmitted(p, time: time, to: &$0) }
        case .taskStarted(let p): withAttempt(attempt, of: &task, creating: .running, seq: seq) { applyStarted(p, time: time, to: &$0) }
        case .taskExited(let p): withAttempt(attempt, of: &task, creating: .running, seq: seq) { applyExited(p, time: time, to: &$0) }
        case .taskLaunchFailed(let p):
            withAttempt(attempt, of: &task, creating: .failed, seq: seq) { applyLaunchFailed(p, time: time, to: &$0) }
        case .taskLost(let p): withAttempt(attempt, of: &task, creating: .lost, seq: seq) { applyLost(p, time: time, to: &$0) }
        case .taskEnded(let p): withAttempt(attempt, of: &task, creating: .failed, seq: seq) { applyEnded(p, time: time, to: &$0) }
        case .taskCancelled(let p):
            withAttempt(attempt, of: &task, creating: .cancelled, seq: seq) { applyCancelled(p, time: time, to: &$0) }
        case .taskFiles(let p):
            withAttempt(attempt, of: &task, creating: .running, seq: seq) { $0.undeclared = p.traced ? (p.undeclared?.count ?? 0) : nil }
        case .sample, .experimentCreated, .rerunRequested, .segmentRefused, .imageResolved, .unknown:
            break
        }
    }

    static func applySubmitted(_ p: TaskSubmitted, time: Timestamp, to a: inout AttemptRecord) {
        a.submittedAt = a.submittedAt ?? time
        a.backend = p.backend
        a.nativeID = p.nativeID ?? a.nativeID
    }

    static func applyStarted(_ p: TaskStarted, time: Timestamp, to a: inout AttemptRecord) {
        if !a.state.isTerminal { a.state = .running }
        a.startedAt = time
        a.host = p.host
        a.pid = p.pid
        a.bootID = p.bootID
    }

    /// The worker's exit: its totals are the attempt's figures.
    static func applyExited(_ p: TaskExited, time: Timestamp, to a: inout AttemptRecord) {
        // A cancelled attempt stays cancelled (its exit is the effect of the cancellation), but gets its totals.
        // A worker's exit read after the scheduler's word (a segment ingested late) replaces it.
        if a.state != .cancelled { a.state = p.succeeded ? .succeeded : .failed }
        a.endedAt = time
        a.exitCode = p.exitCode
        a.signal = p.signal
        a.wallTime = p.wallTime
        a.cpuUser = p.cpuUser
        a.cpuSystem = p.cpuSystem
        // The samples' peak stands beside the exit's (both the worker's); a scheduler's does not.
        a.peakRSS = a.figures == .scheduler ? p.peakRSS : max(a.peakRSS ?? 0, p.peakRSS)
        a.readBytes = p.readBytes
        a.writeBytes = p.writeBytes
        a.figures = .exit
        if let reason = p.failureReason { a.failureReason = reason } else if a.state != .cancelled { a.failureReason = nil }
    }

    static func applyLaunchFailed(_ p: TaskLaunchFailed, time: Timestamp, to a: inout AttemptRecord) {
        a.state = .failed
        a.endedAt = time
        a.failureReason = p.reason
        if let b = p.backend { a.backend = b }
    }

    static func applyLost(_ p: TaskLost, time: Timestamp, to a: inout AttemptRecord) {
        // Lost is a presumption: it never overrides a final word.
        guard !a.state.isTerminal || a.state == .lost else { return }
        a.state = .lost
        a.endedAt = time
        a.failureReason = p.reason
    }

    /// The scheduler's final word.
    static func applyEnded(_ p: TaskEnded, time: Timestamp, to a: inout AttemptRecord) {
        // The worker's own exit is the final word when there is one; the scheduler's fills the gap. A worker
        // stopped by a signal it could not explain (cancelled) gets the scheduler's reason: a time limit,
        // a preemption, a node failure or memory make the attempt failed, with its worker's totals kept.
        if a.state == .cancelled {
            guard p.failureClass != .cancelled else { return }
            a.state = .failed
            a.failureReason = p.reason
            return
        }
        guard !a.state.isTerminal || a.state == .lost else { return }
        a.state = p.failureClass == .cancelled ? .cancelled : .failed
        // When the attempt ended (the scheduler's word), not when the controller learnt it.
        a.endedAt = p.endedAt ?? time
        a.exitCode = p.exitCode
        a.signal = p.signal
        applySchedulerFigures(p, to: &a)
        a.failureReason = p.reason
        a.backend = p.backend
        a.nativeID = p.nativeID
    }

    static func applyCancelled(_ p: TaskCancelled, time: Timestamp, to a: inout AttemptRecord) {
        // An ended attempt keeps its state (the scheduler's reason for a stop may be read first).
        guard a.state != .succeeded && a.state != .failed else { return }
        a.state = .cancelled
        a.endedAt = a.endedAt ?? time
        a.failureReason = p.reason
        if a.signal == nil { a.signal = p.signal }
    }

    /// An attempt's figures at the scheduler's final word: the worker's samples when it sampled the tool (the wall
    /// time running to the scheduler's end), the scheduler's accounting only when the worker reported nothing.
    static func applySchedulerFigures(_ p: TaskEnded, to a: inout AttemptRecord) {
        if a.figures == .samples {
            endAtLastSample(&a)
            return
        }
        guard a.figures == nil || a.figures == .scheduler else { return }
        guard p.peakRSS != nil || p.wallTime != nil || p.cpuTime != nil else { return }
        a.figures = .scheduler
        a.peakRSS = p.peakRSS
        a.wallTime = p.wallTime
        a.cpuUser = p.cpuTime
        a.cpuSystem = nil
    }

    /// An attempt measured by its samples and ended by the scheduler: it ended no earlier than its last sample (Slurm
    /// says its end to the second, cut down), and its wall time runs from its start to that end.
    static func endAtLastSample(_ a: inout AttemptRecord) {
        if let last = a.lastSampleAt, let end = a.endedAt, last > end { a.endedAt = last }
        if let start = a.startedAt, let end = a.endedAt { a.wallTime = max(0, end.seconds - start.seconds) }
    }

    /// Runs `body` on the attempt numbered `number` (the latest, or 1, when nil), creating it with `initial` state.
    static func withAttempt(
        _ number: Int?, of task: inout TaskRecord, creating initial: AttemptState, seq: Int64?, _ body: (inout AttemptRecord) -> Void
    ) {
        let n = number ?? task.attempts.last?.attempt ?? 1
        let index: Int
        if let i = task.attempts.lastIndex(where: { $0.attempt == n }) {
            index = i
        } else {
            let insertAt = task.attempts.firstIndex { $0.attempt > n } ?? task.attempts.endIndex
            task.attempts.insert(AttemptRecord(attempt: n, state: initial, lastSeq: seq ?? 0), at: insertAt)
            index = insertAt
        }
        body(&task.attempts[index])
        if let seq {
            task.attempts[index].lastSeq = seq
            task.lastSeq = seq
        }
    }
}

extension EventBody {
    /// Whether replay applies it to its task's state: samples and lifecycle events do; experiment-level events
    /// and events of unknown types do not.
    public var isAboutTask: Bool {
        switch self {
        case .experimentCreated, .rerunRequested, .segmentRefused, .unknown: false
        default: true
        }
    }
}
