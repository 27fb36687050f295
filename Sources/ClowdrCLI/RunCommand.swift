import AWS
import ArgumentParser
import Backends
import Boutiques
import EventLog
import Foundation
import Runner

/// `clowdr run DESCRIPTOR INVOCATION`: plans, records and runs an experiment, on this machine, a Slurm cluster or AWS
/// Batch (`--backend`).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a Boutiques tool over invocations (here, on Slurm or on AWS Batch), monitoring and recording every task.",
        discussion: """
            INVOCATION is a JSON file or a folder of them (sorted by name, so task ids are stable). Every task is \
            validated and recorded before anything runs; nothing is created when a descriptor or invocation is \
            invalid. Exits 0 when every task succeeded, 1 when some failed, 2 on a usage error, 3 when clowdr itself failed.
            """)

    @Argument(help: "The Boutiques descriptor (JSON file).")
    var descriptor: String

    @Argument(help: "An invocation (JSON file), or a folder of them.")
    var invocation: String

    @Option(help: "Where experiments are kept: each in PROVDIR/<experiment-id>/.")
    var provdir = "provdir"

    @OptionGroup var plan: PlanArguments

    @Option(help: "A name for the experiment.")
    var name: String?

    @OptionGroup var execution: ExecutionOptions

    @OptionGroup var cluster: ClusterArguments

    func validate() throws {
        if !FileManager.default.fileExists(atPath: descriptor) { throw ValidationError("descriptor '\(descriptor)' does not exist") }
        if S3Location(invocation) == nil && !FileManager.default.fileExists(atPath: invocation) {
            throw ValidationError("invocation '\(invocation)' does not exist: give a JSON file or a folder of them")
        }
    }

    func run() throws {
        let fetched = NSTemporaryDirectory() + "clowdr-invocations-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: fetched) }
        try RunSession.guarded(quiet: execution.quiet, json: execution.json) { cancel, display in
            let d = try DescriptorValidator.load(descriptor)
            var request = RunRequest(
                descriptorPath: descriptor, invocationPath: try cluster.batch.aws.localInvocation(invocation, fetchingInto: fetched),
                provdir: provdir,
                options: try execution.runOptions(for: d, on: cluster.kind()))
            request.remoteDataset = { [aws = cluster.batch.aws] value in
                try S3Location(value).flatMap { _ in try S3Dataset.tree(value, s3: S3Client(configuration: try aws.configuration())) }
            }
            request.sweeps = plan.sweep
            request.bids = plan.bids
            request.dev = plan.dev
            request.setupOnly = plan.setup
            request.invocationFiles = plan.invocationFiles
            request.name = name
            request.warn = { FileHandle.standardError.write(Data("clowdr: warning: \($0)\n".utf8)) }
            // What the record keeps of the command line: each group of options says what it records.
            request.recordedOptions = [execution.recorded, plan.recorded, cluster.recorded].reduce(into: [:]) {
                $0.merge($1, uniquingKeysWith: { a, _ in a })
            }
            var on = try cluster.options(groupBy: plan.groupby, on: cluster.kind())
            on.aws?.volumes = execution.volumes
            return try BackendRuns.start(request, on: on, cancel: cancel) {
                layout, controller in
                display.started(layout, controller, verbose: execution.verbose)
            }
        }
    }
}
