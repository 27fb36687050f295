import ArgumentParser
import EventLog
import Foundation

/// The experiment a command reads, named the same way by every command: an experiment folder, its clowdr.db, or a
/// PROVDIR (its newest experiment); `provdir` in the current folder when not given.
struct ExperimentArgument: ParsableArguments {
    @Argument(help: "The experiment: its folder (PROVDIR/<experiment-id>), its clowdr.db, or a PROVDIR (its newest experiment).")
    var experiment = "provdir"

    /// The experiment's files; a usage error (exit 2) naming the path when there is none.
    func layout() throws -> ExperimentLayout {
        do { return try ExperimentLayout.locate(experiment) } catch { throw ValidationError("\(error)") }
    }
}
