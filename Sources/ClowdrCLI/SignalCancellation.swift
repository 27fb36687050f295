import Foundation
import Runner

/// A cancellation flag that Ctrl-C (SIGINT) and SIGTERM set, instead of killing clowdr: running attempts are then
/// stopped cleanly and recorded. Keep the returned sources alive while it matters.
func cancellationOnSignals() -> (CancellationFlag, [any DispatchSourceSignal]) {
    let cancel = CancellationFlag()
    var sources: [any DispatchSourceSignal] = []
    for sig in [SIGINT, SIGTERM] {
        signal(sig, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        s.setEventHandler { cancel.cancel(sig == SIGINT ? "SIGINT" : "SIGTERM") }
        s.resume()
        sources.append(s)
    }
    return (cancel, sources)
}
