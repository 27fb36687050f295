import AWS
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

    @Flag(name: .shortAndLong, help: "No progress line and no summary.")
    var quiet = false

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
    func runOptions(for d: Descriptor, on kind: BackendKind = .local) throws -> RunOptions {
        if d.container?.image == nil && kind != .awsbatch {
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
        if kind == .awsbatch { return o }
        o.container = try ContainerChoice.options(for: d, runtime: containerRuntime, volumes: volumes, mapUser: user, imagePath: simg)
        return o
    }

    /// The options as given, for the record.
    var recorded: [String: String] {
        var r: [String: String] = ["sample_interval": String(sampleInterval)]
        if let jobs { r["jobs"] = String(jobs) }
        if let workdir { r["workdir"] = workdir }
        if !volumes.isEmpty { r["volumes"] = volumes.joined(separator: ",") }
        if let simg { r["simg"] = simg }
        if user { r["user"] = "true" }
        if let containerRuntime { r["container_runtime"] = containerRuntime.rawValue }
        return r
    }
}

extension ContainerEngine: ExpressibleByArgument {}

/// `clowdr run DESCRIPTOR INVOCATION`: plans, records and runs an experiment on this machine.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Boutiques tool over invocations on this machine, monitoring and recording every task.",
        discussion: """
            INVOCATION is a JSON file or a folder of them (sorted by name, so task ids are stable). Every task is \
            validated and recorded before anything runs; nothing is created when a descriptor or invocation is \
            invalid. Exits 0 when every task succeeded, 1 when some failed, 2 on a usage error.
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
        try RunCommand.guarded(quiet: execution.quiet) { cancel, display in
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
            request.name = name
            request.warn = { FileHandle.standardError.write(Data("clowdr: warning: \($0)\n".utf8)) }
            request.recordedOptions = execution.recorded.merging(
                [
                    "dev": String(plan.dev), "setup": String(plan.setup), "bids": String(plan.bids), "sweep": plan.sweep.joined(separator: ","),
                    "groupby": plan.groupby.map(String.init) ?? "", "backend": cluster.kind().rawValue, "jobname": cluster.jobname ?? "",
                    "clusterargs": cluster.clusterargs ?? "",
                ],
                uniquingKeysWith: { a, _ in a }
            ).merging(cluster.kind() == .awsbatch ? cluster.batch.recorded : [:], uniquingKeysWith: { a, _ in a })
            var on = try cluster.options(groupBy: plan.groupby, on: cluster.kind())
            on.aws?.volumes = execution.volumes
            return try BackendRuns.start(request, on: on, cancel: cancel) {
                layout, controller in
                display.started(layout, controller, verbose: execution.verbose)
            }
        }
    }
}

/// What `run`, `rerun` and `local` share: signals, progress, the summary and the exit code.
enum RunCommand {
    /// Runs `body` with Ctrl-C and SIGTERM turned into a cancellation, then prints the summary and exits with
    /// 0 (all succeeded), 1 (some failed or were cancelled) or 2 (usage error: invalid input, nothing created).
    static func guarded(quiet: Bool, _ body: (CancellationFlag, Display) throws -> RunSummary) throws {
        let (cancel, sources) = cancellationOnSignals()
        defer { for s in sources { s.cancel() } }
        let display = Display(quiet: quiet)
        let summary: RunSummary
        do { summary = try body(cancel, display) } catch {
            display.stop()
            throw error
        }
        display.stop()
        display.announce(summary.layout)
        if !quiet || summary.launched == 0 { print(summaryLine(summary, stoppedBy: cancel.cancelledBecause)) }
        if let reason = cancel.cancelledBecause { FileHandle.standardError.write(Data("clowdr: stopped by \(reason)\n".utf8)) }
        if !summary.allSucceeded { throw ExitCode(1) }
    }
}

/// What happened, counted: the attempts that ran by how they ended, and the tasks never started.
func summaryLine(_ summary: RunSummary, stoppedBy reason: String?) -> String {
    if summary.detached > 0 {
        return "\(summary.detached) attempts submitted; follow them with: clowdr watch \(summary.layout.directory)"
    }
    if summary.launched == 0 {
        if let mode = summary.rerunMode {
            return "no task is \(mode.rawValue == "all" ? "planned" : mode.rawValue): nothing to rerun (\(summary.planned) tasks in the experiment)"
        }
        return "\(summary.planned) tasks planned, none launched"
    }
    let counts = summary.results.values.reduce(into: [TaskStatus: Int]()) { $0[$1, default: 0] += 1 }
    let parts = TaskStatus.allCases.compactMap { s in counts[s].map { "\($0) \(s.rawValue)" } }
    var line = "\(summary.results.count) attempts: \(parts.joined(separator: ", "))"
    let notStarted = summary.launched - summary.results.count
    if notStarted > 0 { line += "; \(notStarted) tasks not started\(reason.map { " (stopped by \($0))" } ?? "")" }
    return line
}

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

/// The live progress line: on a terminal only, rewritten in place on stderr.
final class Display: @unchecked Sendable {
    private let enabled: Bool
    private var timer: (any DispatchSourceTimer)?
    private let lock = NSLock()

    private var announced = false

    init(quiet: Bool) { enabled = !quiet && isatty(2) != 0 }

    /// Prints the experiment's id and log, once: as soon as it exists, so it can be queried or shared while it runs.
    func announce(_ layout: ExperimentLayout) {
        let first = lock.withLock {
            defer { announced = true }
            return !announced
        }
        guard first else { return }
        FileHandle.standardOutput.write(Data("experiment \(layout.id)\nlog \(layout.log)\n".utf8))
    }

    /// A run on any backend: the id at once, then the progress line (on a terminal), with -V a line for each
    /// attempt as its end is learnt, and the scheduler's warnings.
    func started(_ layout: ExperimentLayout, _ controller: Controller?, verbose: Bool) {
        announce(layout)
        guard let controller else { return }
        controller.onWarning = { [self] message in
            lock.withLock {
                if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                FileHandle.standardError.write(Data("clowdr: warning: \(message)\n".utf8))
            }
        }
        if verbose {
            // Each task's labels, read once from the log's projection.
            let labels = ((try? EventLog(path: layout.log, mode: .readOnly).projectedTasks()) ?? [:]).mapValues(\.labels)
            controller.onAttemptEnd = { [self] task, attempt, state in
                let name = TaskLabels.taskName(task, labels: labels[task] ?? nil)
                lock.withLock {
                    if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                    FileHandle.standardOutput.write(Data("\(name) attempt \(attempt): \(state.rawValue)\n".utf8))
                }
            }
        }
        guard enabled else { return }
        let t = DispatchSource.makeTimerSource(queue: .global())
        t.schedule(deadline: .now(), repeating: 0.25)
        t.setEventHandler { [weak self] in self?.draw(controller.snapshot.line) }
        t.resume()
        lock.withLock { timer = t }
    }

    private func draw(_ line: String) {
        lock.withLock { FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8)) }
    }

    func stop() {
        lock.withLock {
            timer?.cancel()
            timer = nil
        }
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
