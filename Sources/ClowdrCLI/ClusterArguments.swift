public import ArgumentParser
public import Backends
import EventLog
import Foundation
import Runner

extension BackendKind: ExpressibleByArgument {}

/// Options shared by `run`, `rerun` and `watch` for attempts that run on a cluster.
struct ClusterArguments: ParsableArguments {
    @Option(
        help:
            "Where the tasks run: local (this machine), slurm (job arrays on a Slurm cluster) or awsbatch (array jobs on AWS Batch). Default: local; for rerun, where the experiment ran."
    )
    var backend: BackendKind?

    @Option(
        help: """
            Resources and scheduler options, KEY:VALUE,...: time, mem, cpus, account, partition, qos, gres, or any sbatch \
            option (e.g. time:4:00,mem:2048,account:ABC). mem:auto and time:auto ask, per task, for what the record \
            says it needs.
            """)
    var clusterargs: String?

    @Option(help: "At most N elements of a job array running at once (0: no limit).")
    var throttle = 0

    @Flag(help: "Return once the tasks are submitted; `clowdr watch` follows them later.")
    var detach = false

    @Option(help: "The first part of the jobs' name on the cluster (default clowdr): <jobname>-<experiment-id>.")
    var jobname: String?

    @OptionGroup(title: "AWS Batch (--backend awsbatch)") var batch: AWSBatchArguments

    /// What a run records of these options, so that watch, rerun and sync find the backend again.
    var recorded: [String: String] {
        let kind = kind()
        var r: [String: String] = kind.traits.usesAWS ? batch.recorded : [:]
        r[.backend] = kind.rawValue
        r[.jobname] = jobname ?? ""
        r[.clusterargs] = clusterargs ?? ""
        return r
    }

    func validate() throws {
        if throttle < 0 { throw ValidationError("--throttle must be 0 (no limit) or more, got \(throttle)") }
        if let backend { try checkClusterFlags(for: backend) }
        if let jobname, jobname.isEmpty || jobname.contains(where: { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            throw ValidationError("--jobname '\(jobname)': use letters, digits, - and _ only")
        }
        if let clusterargs { _ = try BackendRuns.parseResources(clusterargs) }
    }

    /// Refuses the cluster-only flags on this machine's pool.
    func checkClusterFlags(for kind: BackendKind) throws {
        if !kind.traits.takesClusterFlags && (clusterargs != nil || detach || throttle > 0 || jobname != nil) {
            throw CLIError.usage(
                "--clusterargs, --throttle, --detach and --jobname go with --backend \(BackendKind.listed { $0.takesClusterFlags })")
        }
        if !kind.traits.usesAWS && (batch.s3 != nil || batch.image != nil) {
            throw CLIError.usage("--s3 and --image go with --backend \(BackendKind.listed { $0.usesAWS })")
        }
    }

    /// The backend given, else `recorded` (where the experiment ran, for a rerun), else this machine.
    func kind(recorded: String? = nil) -> BackendKind {
        backend ?? recorded.flatMap(BackendKind.init(rawValue:)) ?? BackendKind.standard
    }

    /// The options for the runs on `kind`, with this clowdr binary as the nodes' worker; `recorded`: the
    /// experiment's recorded options (a rerun finds AWS again from them).
    func options(groupBy: Int?, on kind: BackendKind, recorded: [String: String] = [:]) throws -> BackendRuns.Options {
        try checkClusterFlags(for: kind)
        var o = BackendRuns.Options(backend: kind, clowdr: Installation.executable)
        o.resources = try clusterargs.map(BackendRuns.parseResources) ?? [:]
        o.groupBy = groupBy ?? 1
        o.throttle = throttle
        o.detach = detach
        o.jobName = jobname
        if kind.traits.usesAWS { o.aws = try batch.with(recorded: recorded).batchSettings() }
        return o
    }
}
