import ArgumentParser
import Backends
import EventLog
import Foundation
import Runner

/// `clowdr watch EXPERIMENT`: follows a cluster experiment's unfinished attempts again.
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow a cluster experiment again: after --detach, or after its controller died, from any login.",
        discussion: """
            Picks up every attempt the log shows submitted and not ended, ingests what their workers wrote, asks the \
            scheduler about the rest, and records its final word for attempts that ended without their worker's exit. \
            Nothing is lost or recorded twice, however often it is run. Exits 0 when every followed attempt succeeded.
            """)

    @OptionGroup var target: ExperimentArgument

    @Flag(name: [.customShort("V"), .long], help: "Print each attempt as it ends.")
    var verbose = false

    @Flag(help: "The summary as one JSON object on standard output, and nothing else there.")
    var json = false

    @OptionGroup(title: "AWS Batch (what the experiment recorded, unless given)") var batch: AWSBatchArguments

    func run() throws {
        let layout = try target.layout(ingesting: false)
        try RunSession.guarded(quiet: false, json: json) { cancel, display in
            return try BackendRuns.watch(layout, cancel: cancel, aws: { try batch.with(recorded: $0).batchSettings() }) {
                display.started(layout, $0, verbose: verbose)
            }
        }
    }
}
