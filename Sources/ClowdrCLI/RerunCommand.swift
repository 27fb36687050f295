public import ArgumentParser
import Backends
import Boutiques
public import EventLog
import Foundation
import Runner

extension RerunMode: ExpressibleByArgument {}

/// `clowdr rerun all|failed|incomplete [EXPERIMENT|PROVDIR]`.
struct RerunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerun",
        abstract: "Run again the tasks of an experiment that failed, never finished, or all of them.",
        discussion: """
            The selection comes from replaying the experiment's log: failed (the latest attempt failed), incomplete \
            (planned, submitted, lost, cancelled, or running under a controller that is gone), or all. Each selected \
            task gets a new attempt; earlier attempts stay in the log.
            """)

    @Argument(help: "Which tasks: all, failed or incomplete.")
    var mode: RerunMode

    @OptionGroup var target: ExperimentArgument

    @Flag(help: "Rerun the first selected task only.")
    var dev = false

    @OptionGroup var execution: ExecutionOptions

    @OptionGroup var cluster: ClusterArguments

    func run() throws {
        let layout = try target.layout()
        try RunSession.guarded(quiet: execution.quiet, json: execution.json) { cancel, display in
            let d = try DescriptorValidator.load(layout.descriptor)
            let experiment = try EventLog(path: layout.log, mode: .readOnly).projectedState().experiment
            let kind = cluster.kind(recorded: experiment?.backend)
            var on = try cluster.options(groupBy: nil, on: kind, recorded: experiment?.options ?? [:])
            on.aws?.volumes =
                execution.volumes.isEmpty
                ? (experiment?.options[.volumes]).map { $0.split(separator: ",").map(String.init) } ?? [] : execution.volumes
            return try BackendRuns.rerun(
                layout, mode: mode, dev: dev, on: on,
                options: try execution.runOptions(for: d, on: kind),
                overrides: execution.recorded, cancel: cancel
            ) { display.started(layout, $0, verbose: execution.verbose) }
        }
    }
}
