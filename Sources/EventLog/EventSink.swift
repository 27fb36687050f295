/// Something that takes events: the experiment's log itself, or a segment file that a remote worker writes and
/// the controller later ingests.
public protocol EventSink: Sendable {
    /// Records `events`, in order. Lifecycle events are durable when this returns.
    func append(_ events: [Event]) throws
}
