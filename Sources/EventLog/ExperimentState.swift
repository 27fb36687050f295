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
    /// Segment lines ingest did not take (`segment_refused`), in log order: shown as warnings, never replayed.
    public var refusedLines: [(seq: Int64, refusal: SegmentRefused)] = []
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
            && a.reruns.map(\.seq) == b.reruns.map(\.seq) && a.unknownEvents == b.unknownEvents
            && a.refusedLines.map(\.seq) == b.refusedLines.map(\.seq) && a.eventCount == b.eventCount
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
