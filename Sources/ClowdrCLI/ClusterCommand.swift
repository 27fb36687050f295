import ArgumentParser
import Backends
import Foundation
import Runner

/// `clowdr cluster DESCRIPTOR INVOCATION PROVDIR slurm`: the original Clowdr's cluster command line.
struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "The original Clowdr cluster command line: run the tasks as jobs on a Slurm cluster.",
        discussion: """
            Same as `clowdr run DESCRIPTOR INVOCATION --provdir PROVDIR --backend slurm`, with --account and \
            --jobname as the original took them. See docs/slurm.md.
            """)

    @OptionGroup var original: OriginalFormArguments

    @Argument(
        help: "The scheduler: slurm (of the schedulers the original Clowdr named, the one clowdr runs on; SGE, PBS and others are not supported).")
    var scheduler: ClusterScheduler

    @Option(help: "The account to charge (sbatch --account).")
    var account: String?

    @Option(name: [.customShort("n"), .long], help: "The first part of the jobs' name on the cluster.")
    var jobname: String?

    @Option(name: [.customShort("a"), .long], help: "Scheduler resources, KEY:VALUE,... (e.g. time:4:00,mem:2048).")
    var clusterargs: String?

    @Flag(help: "Return once the tasks are submitted; `clowdr watch` follows them later.")
    var detach = false

    func run() throws {
        var command = try original.runCommand()
        command.cluster.backend = scheduler.backend
        command.cluster.jobname = jobname
        command.cluster.detach = detach
        let resources = [clusterargs, account.map { "account:\($0)" }].compactMap { $0 }.joined(separator: ",")
        command.cluster.clusterargs = resources.isEmpty ? nil : resources
        try command.validate()
        try command.cluster.validate()
        try command.run()
    }
}

/// The schedulers the original Clowdr's `cluster` and `local -c` forms name that clowdr runs on.
enum ClusterScheduler: String, ExpressibleByArgument, CaseIterable {
    case slurm

    var backend: BackendKind {
        switch self {
        case .slurm: .slurm
        }
    }
}
