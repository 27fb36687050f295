public import EventLog

/// A row of the `tasks` view: a task's summary (its attempts are `AttemptRecord`s, read apart).
public struct TaskRow: Sendable, Equatable {
    public var task: String
    public var plannedSeq: Int64?
    public var state: TaskState
    /// The latest attempt's number (0 before the first).
    public var attempts: Int
    public var lastSeq: Int64
    /// What tells the task apart (participant, session, swept values), as compact JSON with sorted keys.
    public var labels: String?
}

/// A task's plan: a row of the `planned` view.
public struct PlanRow: Sendable, Equatable {
    public var task: String
    public var commandLine: String?
    /// The invocation, as compact JSON.
    public var invocation: String?
    /// What tells the task apart, as compact JSON.
    public var labels: String?
    public var seq: Int64
}

/// An attempt's exit: a row of the `exits` view.
public struct ExitRow: Sendable, Equatable {
    public var seq: Int64
    public var time: Timestamp
    public var task: String
    public var attempt: Int
    /// The outputs (`[{id, path, size, sha256}]`), as compact JSON; nil when the event has none.
    public var outputs: String?
}

/// The `experiment_created` event: a row of the `experiment` view.
public struct ExperimentRow: Sendable, Equatable {
    public var seq: Int64
    public var time: Timestamp
    /// The payload, as stored (JSON).
    public var payload: String
}

/// One monitor sample: a row of the `samples` view.
public struct SampleRow: Sendable, Equatable {
    public var seq: Int64
    public var time: Timestamp
    public var task: String
    public var attempt: Int
    /// Seconds, cumulative since the attempt started.
    public var cpuUser: Double?
    public var cpuSystem: Double?
    /// Bytes.
    public var rss: Int64?
    public var vms: Int64?
    public var readBytes: Int64?
    public var writeBytes: Int64?
    public var processes: Int64?
    public var threads: Int64?

    /// CPU seconds, user and system.
    public var cpuTime: Double? { cpuUser.map { $0 + (cpuSystem ?? 0) } }
}

/// An attempt's submission: a row of the `submissions` view.
public struct SubmissionRow: Sendable, Equatable {
    public var seq: Int64
    public var task: String
    public var attempt: Int
    public var backend: String?
    public var nativeID: String?
    /// What was requested (`mem`, `cpus-per-task`, `time`...), as given; nil when nothing was.
    public var resources: [String: String]?
}

/// The scheduler's final word on an attempt: a row of the `scheduler_ends` view.
public struct SchedulerEndRow: Sendable, Equatable {
    public var seq: Int64
    public var task: String
    public var attempt: Int
    /// The scheduler's own state (`TIMEOUT`, `OUT_OF_MEMORY`, `FAILED`...).
    public var state: String?
    public var failureClass: FailureClass?
    public var reason: String?
}
