import Foundation
import JSON

/// The state of a task: its latest attempt's, or `planned` before the first.
public enum TaskState: String, Sendable, Codable, CaseIterable, Comparable {
    /// Recorded, never launched.
    case planned
    /// Handed to a backend, not started yet.
    case submitted
    /// Started, no final word yet.
    case running
    /// Exited 0 with every required output present.
    case succeeded
    /// Exited non-zero, was killed, could not be launched, or missed an output.
    case failed
    /// Its worker vanished without a final word.
    case lost
    /// Stopped on request.
    case cancelled

    /// True for the states no later event of the same attempt is expected to leave.
    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .lost || self == .cancelled }

    public static func < (a: TaskState, b: TaskState) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The state a task is in when this is its latest attempt's.
    public init(_ attempt: AttemptState) {
        self = TaskState(rawValue: attempt.rawValue)!
    }
}

/// The state of one attempt: a task's states but `planned` (an attempt exists once it is submitted or started).
public enum AttemptState: String, Sendable, Codable, CaseIterable {
    /// Handed to a backend, not started yet.
    case submitted
    /// Started, no final word yet.
    case running
    /// Exited 0 with every required output present.
    case succeeded
    /// Exited non-zero, was killed, could not be launched, or missed an output.
    case failed
    /// Its worker vanished without a final word.
    case lost
    /// Stopped on request.
    case cancelled

    /// True for the states no later event of the same attempt is expected to leave.
    public var isTerminal: Bool { TaskState(self).isTerminal }
}

/// One attempt of a task, as the events tell it.
public struct AttemptRecord: Sendable, Equatable {
    public var attempt: Int
    public var state: AttemptState
    public var submittedAt: Timestamp?
    public var startedAt: Timestamp?
    public var endedAt: Timestamp?
    public var backend: String?
    public var nativeID: String?
    public var host: String?
    public var pid: Int32?
    public var bootID: String?
    public var exitCode: Int32?
    public var signal: Int32?
    /// Seconds.
    public var wallTime: Double?
    public var cpuUser: Double?
    public var cpuSystem: Double?
    /// Bytes: the larger of the exit totals' peak and the highest sample.
    public var peakRSS: Int64?
    public var readBytes: Int64?
    public var writeBytes: Int64?
    /// Why it failed, was lost or was cancelled.
    public var failureReason: String?
    /// Samples recorded for this attempt, and the seq of the latest.
    public var samples: Int
    public var lastSampleSeq: Int64?
    /// seq of the last lifecycle event of this attempt.
    public var lastSeq: Int64

    public init(attempt: Int, state: AttemptState, lastSeq: Int64) {
        self.attempt = attempt
        self.state = state
        self.samples = 0
        self.lastSeq = lastSeq
    }
}

/// A task and the history of its attempts.
public struct TaskRecord: Sendable, Equatable {
    public var task: String
    /// seq of its `task_planned` event; nil when the log has attempts of a task it never planned.
    public var plannedSeq: Int64?
    /// Every attempt, in attempt order. Old attempts stay: a rerun adds one.
    public var attempts: [AttemptRecord]
    /// seq of the last lifecycle event about this task.
    public var lastSeq: Int64
    /// The task's labels as compact JSON with sorted keys (from `task_planned`), e.g. `{"participant":"01"}`.
    public var labels: String?

    public init(task: String, plannedSeq: Int64? = nil, attempts: [AttemptRecord] = [], lastSeq: Int64) {
        self.task = task
        self.plannedSeq = plannedSeq
        self.attempts = attempts
        self.lastSeq = lastSeq
    }

    /// Labels as compact JSON with sorted keys.
    static func labelsJSON(_ labels: [String: String]) -> String {
        "{" + labels.keys.sorted().map { "\(jsonString($0)):\(jsonString(labels[$0]!))" }.joined(separator: ",") + "}"
    }

    static func jsonString(_ s: String) -> String { JSONWriter().string(.string(s)) }

    /// The latest attempt's state, or `planned` when there is none.
    public var state: TaskState { attempts.last.map { TaskState($0.state) } ?? .planned }
    /// The latest attempt.
    public var latest: AttemptRecord? { attempts.last }
    /// The number the next attempt gets.
    public var nextAttempt: Int { (attempts.last?.attempt ?? 0) + 1 }
}

/// An event this build could not interpret: kept in the log, reported, never dropped.
public struct UnknownEvent: Sendable, Equatable {
    public var seq: Int64
    public var type: String
    public var version: Int
}

/// Everything replay derives from a log.
public struct ExperimentState: Sendable, Equatable {
    /// The `experiment_created` payload (nil for a log that lacks it, e.g. one built only from segments).
    public var experiment: ExperimentCreated?
    public var createdAt: Timestamp?
    /// Tasks by id.
    public var tasks: [String: TaskRecord] = [:]
    /// Task ids in the order they first appeared.
    public var taskOrder: [String] = []
    /// Every rerun request, in order, with its seq.
    public var reruns: [(seq: Int64, request: RerunRequested)] = []
    /// Events of types or versions this build does not know.
    public var unknownEvents: [UnknownEvent] = []
    /// Events whose payload could not be read although their type is known (seq and why).
    public var unreadableEvents: [(seq: Int64, reason: String)] = []
    /// The number of events replayed and the last seq seen.
    public var eventCount: Int64 = 0
    public var lastSeq: Int64 = 0
    /// The time of the latest event.
    public var lastEventAt: Timestamp?

    public init() {}

    public static func == (a: ExperimentState, b: ExperimentState) -> Bool {
        a.experiment == b.experiment && a.tasks == b.tasks && a.taskOrder == b.taskOrder
            && a.reruns.map(\.seq) == b.reruns.map(\.seq) && a.unknownEvents == b.unknownEvents && a.eventCount == b.eventCount
            && a.lastSeq == b.lastSeq
    }

    /// Tasks in order.
    public var orderedTasks: [TaskRecord] { taskOrder.compactMap { tasks[$0] } }

    /// How many tasks are in each state.
    public var counts: [TaskState: Int] {
        var c: [TaskState: Int] = [:]
        for t in tasks.values { c[t.state, default: 0] += 1 }
        return c
    }

    /// The tasks a rerun of this mode selects, in task order.
    ///
    /// `incomplete` takes every task that never finished: planned, submitted, lost, cancelled, and running ones
    /// for which `isAlive` says no process is still working on them (by default: none is, as after a crash).
    public func select(_ mode: RerunMode, isAlive: (TaskRecord) -> Bool = { _ in false }) -> [String] {
        orderedTasks.filter { t in
            switch mode {
            case .all: return true
            case .failed: return t.state == .failed
            case .incomplete:
                switch t.state {
                case .succeeded, .failed: return false
                case .running, .submitted: return !isAlive(t)
                case .planned, .lost, .cancelled: return true
                }
            }
        }.map(\.task)
    }
}

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

    /// What replay needs of one event: for a sample only its RSS, for anything else the decoded payload.
    public enum Input: Sendable {
        case sample(rss: Int64?)
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
    public static func input(of e: RawEvent) -> Input {
        guard let type = e.knownType else { return .unknown(type: e.type, version: e.version) }
        if type == .sample { return .sample(rss: Sample.fastRSS(e.payload)) }
        do { return .body(try EventBody.decode(type: e.type, version: e.version, payload: e.payload)) } catch {
            return .unreadable(reason: "\(e.type) v\(e.version) payload does not match its schema: \(error)")
        }
    }

    /// The replay input of a typed event (nothing to decode).
    public static func input(of e: Event) -> Input {
        switch e.body {
        case .sample(let s): .sample(rss: s.rss)
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
        case .sample(let rss):
            // The bulk of a log, kept apart from lifecycle events: passing the whole input on costs replay ~9%.
            guard let task else { return }
            update(task: task, in: &state) { applySample(seq: seq, attempt: attempt, rss: rss, to: &$0) }
        case .body(let body):
            guard let task else { return }
            update(task: task, in: &state) { apply(body, seq: seq, time: time, attempt: attempt, to: &$0) }
        }
    }

    /// Applies an event about one task to that task alone (what the projection does, task by task). Inputs that
    /// are not about a task's attempts (experiment-level, unknown or unreadable events) change nothing here.
    public static func apply(_ input: Input, seq: Int64, time: Timestamp, attempt: Int?, to task: inout TaskRecord) {
        switch input {
        case .sample(let rss): applySample(seq: seq, attempt: attempt, rss: rss, to: &task)
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

    /// Applies a sample to a task: counts it and raises the attempt's peak.
    public static func applySample(seq: Int64, attempt: Int?, rss: Int64?, to task: inout TaskRecord) {
        withAttempt(attempt, of: &task, creating: .running, seq: nil) { a in
            a.samples += 1
            a.lastSampleSeq = seq
            if let rss { a.peakRSS = max(a.peakRSS ?? 0, rss) }
        }
    }

    /// Applies a lifecycle event's payload to a task.
    public static func apply(_ body: EventBody, seq: Int64, time: Timestamp, attempt: Int?, to task: inout TaskRecord) {
        switch body {
        case .taskPlanned(let p):
            if task.plannedSeq == nil {
                task.plannedSeq = seq
                task.labels = TaskRecord.labelsJSON(p.labels)
            }
            task.lastSeq = seq
        case .taskSubmitted(let p):
            withAttempt(attempt, of: &task, creating: .submitted, seq: seq) { a in
                a.submittedAt = a.submittedAt ?? time
                a.backend = p.backend
                a.nativeID = p.nativeID ?? a.nativeID
            }
        case .taskStarted(let p):
            withAttempt(attempt, of: &task, creating: .running, seq: seq) { a in
                if !a.state.isTerminal { a.state = .running }
                a.startedAt = time
                a.host = p.host
                a.pid = p.pid
                a.bootID = p.bootID
            }
        case .taskExited(let p):
            withAttempt(attempt, of: &task, creating: .running, seq: seq) { a in
                // A cancelled attempt stays cancelled (its exit is the effect of the cancellation), but gets its totals.
                // A worker's exit read after the scheduler's word (a segment ingested late) replaces it.
                if a.state != .cancelled { a.state = p.succeeded ? .succeeded : .failed }
                a.endedAt = time
                a.exitCode = p.exitCode
                a.signal = p.signal
                a.wallTime = p.wallTime
                a.cpuUser = p.cpuUser
                a.cpuSystem = p.cpuSystem
                a.peakRSS = max(a.peakRSS ?? 0, p.peakRSS)
                a.readBytes = p.readBytes
                a.writeBytes = p.writeBytes
                if let reason = p.failureReason { a.failureReason = reason } else if a.state != .cancelled { a.failureReason = nil }
            }
        case .taskLaunchFailed(let p):
            withAttempt(attempt, of: &task, creating: .failed, seq: seq) { a in
                a.state = .failed
                a.endedAt = time
                a.failureReason = p.reason
                if let b = p.backend { a.backend = b }
            }
        case .taskLost(let p):
            withAttempt(attempt, of: &task, creating: .lost, seq: seq) { a in
                // Lost is a presumption: it never overrides a final word.
                guard !a.state.isTerminal || a.state == .lost else { return }
                a.state = .lost
                a.endedAt = time
                a.failureReason = p.reason
            }
        case .taskEnded(let p):
            withAttempt(attempt, of: &task, creating: .failed, seq: seq) { a in
                // The worker's own exit is the final word when there is one; the scheduler's fills the gap. A worker
                // stopped by a signal it could not explain (cancelled) gets the scheduler's reason: a time limit,
                // a preemption, a node failure or memory make the attempt failed, with its worker's totals kept.
                if a.state == .cancelled {
                    guard p.failureClass != .cancelled else { return }
                    a.state = .failed
                    if let rss = p.peakRSS { a.peakRSS = max(a.peakRSS ?? 0, rss) }
                    a.failureReason = p.reason
                    return
                }
                guard !a.state.isTerminal || a.state == .lost else { return }
                a.state = p.failureClass == .cancelled ? .cancelled : .failed
                a.endedAt = time
                a.exitCode = p.exitCode
                a.signal = p.signal
                if let rss = p.peakRSS { a.peakRSS = max(a.peakRSS ?? 0, rss) }
                a.wallTime = p.wallTime ?? a.wallTime
                if let cpu = p.cpuTime { a.cpuUser = cpu }
                a.failureReason = p.reason
                a.backend = p.backend
                a.nativeID = p.nativeID
            }
        case .taskCancelled(let p):
            withAttempt(attempt, of: &task, creating: .cancelled, seq: seq) { a in
                // An ended attempt keeps its state (the scheduler's reason for a stop may be read first).
                guard a.state != .succeeded && a.state != .failed else { return }
                a.state = .cancelled
                a.endedAt = a.endedAt ?? time
                a.failureReason = p.reason
                if a.signal == nil { a.signal = p.signal }
            }
        case .sample, .experimentCreated, .rerunRequested, .unknown:
            break
        }
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

extension Sample {
    /// The `rss` field of a sample payload, read without parsing the whole object (replay reads millions).
    static func fastRSS(_ payload: String) -> Int64? {
        var payload = payload
        return payload.withUTF8 { fastRSS($0) }
    }

    /// The `rss` field of a sample payload given as UTF-8 bytes.
    static func fastRSS(_ b: UnsafeBufferPointer<UInt8>) -> Int64? {
        // "rss": is 6 bytes; find it, then read the digits.
        let n = b.count
        var i = 0
        while i + 6 < n {
            if b[i] == 0x22, b[i + 1] == 0x72, b[i + 2] == 0x73, b[i + 3] == 0x73, b[i + 4] == 0x22, b[i + 5] == 0x3A {
                var j = i + 6
                var v: Int64 = 0
                var digits = 0
                while j < n, b[j] >= 0x30, b[j] <= 0x39 {
                    v = v &* 10 &+ Int64(b[j] - 0x30)
                    j += 1
                    digits += 1
                }
                return digits > 0 && digits < 19 ? v : nil
            }
            i += 1
        }
        return nil
    }
}

extension EventBody {
    /// Whether replay applies it to its task's state: samples and lifecycle events do; experiment-level events
    /// and events of unknown types do not.
    public var isAboutTask: Bool {
        switch self {
        case .experimentCreated, .rerunRequested, .unknown: false
        default: true
        }
    }
}
