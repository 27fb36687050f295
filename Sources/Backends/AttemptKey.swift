/// One attempt of one task: what the controller follows, and how a run's outcomes are keyed.
public struct AttemptKey: Hashable, Sendable {
    public var task: String
    public var attempt: Int

    public init(task: String, attempt: Int) {
        self.task = task
        self.attempt = attempt
    }
}
