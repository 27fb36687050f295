import ArgumentParser
import Backends
import EventLog
import Foundation

/// `clowdr sync EXPERIMENT`: pulls what an AWS Batch experiment's workers wrote to S3.
struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Pull an AWS Batch experiment's event segments and output streams from S3 into its folder, and record them.",
        discussion: """
            For an experiment run with --detach, or whose controller stopped: fetches only what is new (segments grow; \
            what is here is not fetched again) and ingests it. Nothing is recorded twice, however often it runs. \
            `clowdr watch` also follows the jobs to their end.
            """)

    @OptionGroup var target: ExperimentArgument

    @OptionGroup(title: "AWS (what the experiment recorded, unless given)") var batch: AWSBatchArguments

    func run() throws {
        let layout = try target.layout(ingesting: false)
        let report = try BackendRuns.sync(layout, aws: { try batch.with(recorded: $0).batchSettings() })
        print("\(layout.id): \(report.inserted) events added, \(report.duplicates) already present\(IngestCommand.refusedNote(report))")
    }
}
