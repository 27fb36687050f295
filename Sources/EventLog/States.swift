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
        switch attempt {
        case .submitted: self = .submitted
        case .running: self = .running
        case .succeeded: self = .succeeded
        case .failed: self = .failed
        case .lost: self = .lost
        case .cancelled: self = .cancelled
        }
    }
}

/// The state of one attempt: a task's states but `planned` (an attempt exists once it is submitted or started),
/// each meaning what it means for a task (`TaskState`).
public enum AttemptState: String, Sendable, Codable, CaseIterable {
    case submitted, running, succeeded, failed, lost, cancelled

    /// True for the states no later event of the same attempt is expected to leave.
    public var isTerminal: Bool { TaskState(self).isTerminal }
}
