import ArgumentParser
import Backends
import Boutiques
import EventLog
import Foundation
import Runner

/// `clowdr local DESCRIPTOR INVOCATION PROVDIR`: the original Clowdr's command line, on the same code as
/// `run` and `rerun`.
struct LocalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "The original Clowdr command line: run (or rerun, with -R and --run_id) on this machine.",
        discussion: """
            Same as `clowdr run DESCRIPTOR INVOCATION --provdir PROVDIR`, and with `--rerun MODE --run_id ID` the same \
            as `clowdr rerun MODE PROVDIR/ID`. PROVDIR is created when it does not exist.
            """)

    @OptionGroup var original: OriginalFormArguments

    @Option(name: [.customShort("R"), .long], help: "Rerun the tasks of --run_id: all, failed or incomplete.")
    var rerun: RerunMode?

    @Option(name: .customLong("run_id"), help: "The experiment to rerun (its folder name in PROVDIR).")
    var runID: String?

    @Option(name: [.customShort("c"), .long], help: "Submit to this scheduler instead of running here: slurm.")
    var cluster: ClusterScheduler?

    @Option(name: [.customShort("a"), .long], help: "Scheduler resources, KEY:VALUE,... (e.g. time:4:00,mem:2048,account:ABC).")
    var clusterargs: String?

    @Option(name: [.customShort("n"), .long], help: "The first part of the jobs' name on the cluster.")
    var jobname: String?

    func validate() throws {
        let provdir = original.provdir
        if rerun != nil && runID == nil { throw ValidationError("--rerun needs --run_id: the experiment (folder name in \(provdir)) to rerun") }
        if rerun == nil && runID != nil { throw ValidationError("--run_id goes with --rerun all|failed|incomplete") }
        if let runID, !FileManager.default.fileExists(atPath: provdir + "/" + runID + "/" + EventLog.fileName) {
            throw ValidationError("--run_id \(runID): no experiment \(provdir)/\(runID)")
        }
    }

    func run() throws {
        if let rerun, let runID {
            var command = try RerunCommand.parse([rerun.rawValue, original.provdir + "/" + runID])
            command.dev = original.plan.dev
            command.execution = original.execution
            command.cluster.backend = cluster?.backend
            command.cluster.clusterargs = clusterargs
            command.cluster.jobname = jobname
            try command.cluster.validate()
            return try command.run()
        }
        var command = try original.runCommand()
        if let cluster { command.cluster.backend = cluster.backend }
        command.cluster.clusterargs = clusterargs
        command.cluster.jobname = jobname
        try command.validate()
        try command.cluster.validate()
        try command.run()
    }
}
