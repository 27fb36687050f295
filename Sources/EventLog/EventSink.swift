/// Something that takes events: the experiment's log itself, or a segment file that a remote worker writes and
/// the controller later ingests.
public protocol EventSink: Sendable {
    /// Records `events`, in order. Lifecycle events are durable when this returns.
    func append(_ events: [Event]) throws
}

/// Something that takes events without making the caller wait for each one: `post` queues or writes them, `flush`
/// returns once everything posted is durable (or throws the first failure).
public protocol QueuedEventSink: Sendable {
    func post(_ events: [Event])
    func flush() throws
}
