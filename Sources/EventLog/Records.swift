import JSON

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
    /// When the latest sample was taken.
    public var lastSampleAt: Timestamp?
    /// Where its peak, CPU, I/O and wall time come from: one source for all of them.
    public var figures: Figures?
    /// How many paths it used outside its declared inputs, outputs and working folder (`task_files`); nil when its
    /// files were not observed.
    public var undeclared: Int?
    /// seq of the last lifecycle event of this attempt.
    public var lastSeq: Int64

    public init(attempt: Int, state: AttemptState, lastSeq: Int64) {
        self.attempt = attempt
        self.state = state
        self.samples = 0
        self.lastSeq = lastSeq
    }
}

/// Where an attempt's figures (peak memory, CPU time, I/O, wall time) come from. One rule: the worker's own measure
/// of the tool when it has one, the scheduler's only when the worker could not report.
public enum Figures: String, Sendable, Equatable {
    /// The worker's exact totals at the tool's exit (with the peak of its samples).
    case exit
    /// The worker's samples: the tool was stopped (with its worker) before its exit was recorded; the wall time runs
    /// to the scheduler's end.
    case samples
    /// The scheduler's accounting (Slurm's sacct, AWS Batch's job times): the worker reported nothing. Slurm's
    /// MaxRSS counts clowdr's worker beside the tool.
    case scheduler
}

extension AttemptRecord {
    /// How an attempt that did not succeed ended, in the one wording `status`, `-V`, `query`, the report and the
    /// exports share: how it ended (exit code, signal, or its state), the reason clowdr or the scheduler recorded, and
    /// the last line the tool wrote to stderr, e.g. `exit 3: sub-07: simulated failure (corrupt events)` or
    /// `signal 9 (task 4: killed for exceeding its 140.0 MiB memory request, peak 169.8 MiB; ...)`. Nil for an attempt
    /// that succeeded or has not ended.
    public func failureText(lastStderrLine: String) -> String? {
        guard state.isTerminal, state != .succeeded else { return nil }
        let how = exitCode.map { "exit \($0)" } ?? signal.map { "signal \($0)" } ?? (state == .failed ? "no exit" : state.rawValue)
        return how + (failureReason.map { " (\($0))" } ?? "") + (lastStderrLine.isEmpty ? "" : ": \(lastStderrLine)")
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
