public import Boutiques

/// One attempt to run: which task, which attempt number, and what it runs.
public struct AttemptPlan: Sendable {
    public var task: String
    public var attempt: Int
    public var rendered: RenderedInvocation

    public init(task: String, attempt: Int, rendered: RenderedInvocation) {
        self.task = task
        self.attempt = attempt
        self.rendered = rendered
    }
}
