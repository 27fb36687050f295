public import ArgumentParser
import Backends
public import Boutiques
import EventLog
import Foundation
import Runner

/// Options shared by `run`, `rerun` and `local`: how attempts run on this machine.
struct ExecutionOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Attempts to run at once (default: the number of cores).")
    var jobs: Int?

    @Option(name: [.short, .customLong("workdir")], help: "Folder the tasks run in (default: the current folder).")
    var workdir: String?

    @Option(name: [.short, .customLong("volume"), .customLong("volumes")], help: "Mount HOST:CONTAINER[:MODE] into the container (repeatable).")
    var volumes: [String] = []

    @Option(name: [.short, .long], help: "A local Singularity/Apptainer image file to run.")
    var simg: String?

    @Flag(name: [.short, .customLong("user")], help: "Run the container as the calling user.")
    var user = false

    @Option(help: "Container engine: docker, podman, singularity or apptainer (default: the first one found).")
    var containerRuntime: ContainerEngine?

    @Option(help: "Seconds between samples of a task's process tree after its first 2 s (sampled every 0.1 s).")
    var sampleInterval: Double = 1

    @Option(
        help: ArgumentHelp(
            "on (the default) or off: observe the files each attempt's processes read, write, execute, rename and delete.",
            discussion: "Where it cannot work (no seccomp user notification) attempts run unobserved, and the record says why."))
    var traceFiles: Toggle = .on

    @Flag(name: .shortAndLong, help: "No progress line and no summary.")
    var quiet = false

    @Flag(help: "The summary as one JSON object on standard output, and nothing else there (errors: {\"error\": ...}).")
    var json = false

    @Flag(name: [.customShort("V"), .long], help: "Print each attempt as it ends.")
    var verbose = false

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
        if sampleInterval <= 0 { throw ValidationError("--sample-interval must be a positive number of seconds, got \(sampleInterval)") }
        for v in volumes where v.split(separator: ":").count < 2 { throw ValidationError("--volume '\(v)' is not HOST:CONTAINER[:MODE]") }
        if let workdir, !FileManager.default.fileExists(atPath: workdir) { throw ValidationError("--workdir '\(workdir)' does not exist") }
    }

    /// How attempts run; on AWS Batch the task is inside its image already (`--volume` mounts host folders into
    /// the job's container instead), so no container engine is looked for here.
    func runOptions(for d: Descriptor, on kind: BackendKind = BackendKind.standard) throws -> RunOptions {
        if d.container?.image == nil && !kind.traits.runsInsideImage {
            let given = [!volumes.isEmpty ? "--volume" : nil, simg != nil ? "--simg" : nil, user ? "--user" : nil].compactMap { $0 }
            if !given.isEmpty {
                throw CLIError.usage(
                    "\(given.joined(separator: ", ")): the descriptor '\(d.name)' has no container image, so there is no container to "
                        + "apply \(given.count == 1 ? "it" : "them") to; leave \(given.count == 1 ? "it" : "them") out, or add \"container-image\" to the descriptor"
                )
            }
        }
        var o = RunOptions(
            jobs: jobs ?? ProcessInfo.processInfo.activeProcessorCount,
            workingDirectory: URL(fileURLWithPath: workdir ?? FileManager.default.currentDirectoryPath).standardizedFileURL.path)
        o.sampleInterval = sampleInterval
        o.traceFiles = traceFiles == .on
        if kind.traits.runsInsideImage { return o }
        o.container = try ContainerChoice.options(for: d, runtime: containerRuntime, volumes: volumes, mapUser: user, imagePath: simg)
        return o
    }

    /// The options as given, for the record.
    var recorded: [String: String] {
        var r: [String: String] = [:]
        r[.sampleInterval] = String(sampleInterval)
        r[.jobs] = jobs.map(String.init)
        r[.workdir] = workdir
        r[.volumes] = volumes.isEmpty ? nil : volumes.joined(separator: ",")
        r[.simg] = simg
        r[.user] = user ? "true" : nil
        r[.containerRuntime] = containerRuntime?.rawValue
        r[.traceFiles] = traceFiles == .off ? "off" : nil
        return r
    }
}

extension ContainerEngine: ExpressibleByArgument {}

/// on or off, as a flag's value.
enum Toggle: String, ExpressibleByArgument, CaseIterable {
    case on, off
}
