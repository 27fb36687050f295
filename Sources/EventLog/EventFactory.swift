/// Makes events with times from an injected clock and ids from an injected source, so that whole logs are
/// deterministic in tests.
public struct EventFactory: Sendable {
    public let clock: any TimeSource
    public let ids: any IDSource

    public init(clock: any TimeSource = SystemClock(), ids: any IDSource = ULIDSource()) {
        self.clock = clock
        self.ids = ids
    }

    /// A new event happening now.
    public func make(task: String? = nil, attempt: Int? = nil, _ body: EventBody) -> Event {
        let t = clock.now()
        return Event(id: ids.next(at: t), time: t, task: task, attempt: attempt, body: body)
    }

    /// A new event at a given time (e.g. a sample's reading time).
    public func make(at time: Timestamp, task: String? = nil, attempt: Int? = nil, _ body: EventBody) -> Event {
        Event(id: ids.next(at: time), time: time, task: task, attempt: attempt, body: body)
    }
}
