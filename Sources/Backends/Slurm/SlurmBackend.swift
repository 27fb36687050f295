import ClowdrErrors
public import EventLog
import Foundation
import Runner

/// Runs attempts as Slurm job arrays. Every array of an experiment is named `clowdr-<experiment-id>` (or
/// `<jobname>-<experiment-id>` with `--jobname`), so one
/// `squeue --name` finds them all. Each element runs `clowdr task --array MAP` on its node, which runs the task
/// files on the element's line of the map and writes its events to `segments/slurm-<A>_<a>.ndjson` in the
/// experiment folder (on the shared file system: nodes never open the SQLite log).
///
/// Array indices stay below the cluster's MaxArraySize (which limits the index, not the count): a batch larger
/// than that is split into several arrays, each indexed from 0, and the map of each says which tasks an index
/// runs.
public final class SlurmBackend: Backend, @unchecked Sendable {
    public let name = "slurm"
    public var schedulerName: String { "Slurm" }
    public let layout: ExperimentLayout
    /// The clowdr binary the nodes run (the same path must exist there: a shared install).
    public let clowdr: String
    /// The first part of the arrays' name (`--jobname`; `clowdr` by default).
    public let jobNamePrefix: String
    public var commands: SlurmCommands
    private let lock = NSLock()
    private var maxArraySizeCache: Int?
    private var maxArraySizePrefetch: Prefetched<Int>?

    public init(layout: ExperimentLayout, clowdr: String, jobNamePrefix: String = "clowdr", commands: SlurmCommands = SlurmCommands()) {
        self.layout = layout
        self.clowdr = clowdr
        self.jobNamePrefix = jobNamePrefix
        self.commands = commands
    }

    /// The job name every array of the experiment has.
    public var jobName: String { jobNamePrefix + "-" + layout.id }
    /// Where the arrays' maps, scripts and Slurm's own output files go.
    public var folder: String { layout.directory + "/slurm" }
    /// Where the workers write their segments.
    public var segments: String { layout.segments }

    /// Starts reading the cluster's MaxArraySize now, on another thread (while an experiment is planned): the
    /// backend made `withMaxArraySize` it then does not wait for `scontrol` when it submits.
    static func prefetchMaxArraySize(_ commands: SlurmCommands = SlurmCommands()) -> Prefetched<Int> {
        Prefetched { try readMaxArraySize(commands) }
    }

    /// Uses a MaxArraySize being read already (`prefetchMaxArraySize`).
    func withMaxArraySize(_ prefetched: Prefetched<Int>?) -> SlurmBackend {
        lock.withLock { maxArraySizePrefetch = prefetched }
        return self
    }

    /// The cluster's MaxArraySize (`scontrol show config`), read once.
    public func maxArraySize() throws -> Int {
        if let cached = lock.withLock({ maxArraySizeCache }) { return cached }
        let size = try lock.withLock({ maxArraySizePrefetch }).flatMap { try? $0.value() } ?? Self.readMaxArraySize(commands)
        lock.withLock { maxArraySizeCache = size }
        return size
    }

    static func readMaxArraySize(_ commands: SlurmCommands) throws -> Int {
        let out = try commands.run("scontrol", ["show", "config"])
        guard out.status == 0 else { throw BackendError("scontrol show config failed: \(out.stderr)", code: "slurm.unreachable") }
        let line = out.stdout.split(separator: "\n").first { $0.hasPrefix("MaxArraySize") }
        return line.flatMap { Int($0.split(separator: "=").last!.trimmingCharacters(in: .whitespaces)) } ?? 1001
    }

    /// sbatch options from `--clusterargs` keys: time, mem, cpus (cpus-per-task), account, partition, qos, gres,
    /// any other key as `--key=value`.
    public static func options(_ resources: [String: String]) -> [String] {
        resources.keys.sorted().compactMap { key in
            let value = resources[key]!
            switch key {
            case "cpus", "cpus-per-task", "c": return "--cpus-per-task=\(value)"
            case "mem", "memory": return "--mem=\(value)"
            case "time", "t": return "--time=\(value)"
            default: return key.count == 1 ? "-\(key)\(value)" : "--\(key)=\(value)"
            }
        }
    }

    /// Whether sbatch takes these options (`sbatch --test-only`: checked by slurmctld, nothing submitted): an
    /// unknown option, partition, account or QOS, or resources no node has, are refused before anything is written.
    public static func checkOptions(_ resources: [String: String], commands: SlurmCommands = SlurmCommands()) throws {
        guard !resources.isEmpty else { return }
        let out = try commands.run("sbatch", ["--test-only", "--job-name=clowdr-check", "--output=/dev/null"] + options(resources) + ["--wrap=true"])
        guard out.status != 0 else { return }
        if SlurmCommands.isTransient(out) {
            throw BackendError(
                "sbatch --test-only: Slurm cannot be reached (\(out.stderr.trimmingCharacters(in: .whitespacesAndNewlines))); try again",
                code: "slurm.unreachable")
        }
        let said = out.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("Try ") }
        throw BackendError(
            "--clusterargs \(resources.keys.sorted().map { "\($0):\(resources[$0]!)" }.joined(separator: ",")): sbatch refuses them (\(said.joined(separator: "; "))); nothing was written. sbatch's options: man sbatch",
            code: "usage.clusterargs", usage: true)
    }

    public func submit(_ batch: SubmissionBatch, accepted: (Range<Int>, [String]) throws -> Void) throws {
        try makeFolder(folder)
        try makeFolder(segments)
        // Arrays of up to MaxArraySize elements.
        let parts = batch.jobs(ofAtMost: try maxArraySize())
        // Each array's files are written while the array before it is being submitted.
        var next: Prefetched<PreparedArray>? = parts.first.map { first in Prefetched { try self.prepareArray(first, of: batch) } }
        for (i, attempts) in parts.enumerated() {
            let array = try next!.value()
            next = i + 1 < parts.count ? Prefetched { try self.prepareArray(parts[i + 1], of: batch) } : nil
            do {
                let job = try submitArray(array, batch: batch)
                try accepted(attempts, attempts.map { "\(job)_\(batch.element(of: $0, in: attempts))" })
            } catch {
                (try? next?.value())?.remove()  // the next array's files, never submitted
                throw error
            }
        }
    }

    /// The files of one array, written before it is submitted.
    struct PreparedArray: Sendable {
        /// Names the array's files and goes as its comment: how a retry finds an array already accepted.
        var token: String
        var elements: Int
        var map: String
        var script: String

        func remove() {
            unlink(map)
            unlink(script)
        }
    }

    /// Writes the map and the script of an array running the attempts `attempts` of `batch`, `batch.groupBy`
    /// attempts per element: element `i` of the map runs its line `i`.
    func prepareArray(_ attempts: Range<Int>, of batch: SubmissionBatch) throws -> PreparedArray {
        let elements = batch.elementsWithInvocations(of: attempts)
        let token = "\(layout.id)-\(UUID().uuidString.prefix(8).lowercased())"
        let array = PreparedArray(token: token, elements: elements.count, map: "\(folder)/\(token).map", script: "\(folder)/\(token).sh")
        try write(Worker.arrayMap(template: batch.worker, elements: elements), to: array.map)
        let segment = "\(segments)/slurm-${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}.ndjson"
        try write(
            """
            #!/bin/sh
            # clowdr: one element of an array of experiment \(layout.id): the attempts of element $SLURM_ARRAY_TASK_ID of the map.
            exec \(Self.quote(clowdr)) task --array \(Self.quote(array.map)) --events "\(segment)" --remove-on-success "\(Self.outputPattern(folder))"

            """, to: array.script)
        chmod(array.script, 0o755)
        return array
    }

    /// Submits a prepared array; returns its job id. Before a retry it looks for the array by its token: sbatch
    /// may have been accepted even though its answer was lost.
    func submitArray(_ array: PreparedArray, batch: SubmissionBatch) throws -> String {
        let token = array.token
        var arguments = [
            "--parsable", "--job-name=\(jobName)", "--comment=\(token)",
            "--array=0-\(array.elements - 1)" + (batch.throttle > 0 ? "%\(batch.throttle)" : ""),
            "--output=\(folder)/%A_%a.out", "--chdir=\(layout.directory)",
            // Slurm's own requeue (after a node failure or a preemption) would run the element again as the same
            // attempt; instead the attempt ends with Slurm's word (node_fail, preempted) and a rerun gives a new one.
            "--no-requeue",
        ]
        arguments += Self.options(batch.resources)
        arguments.append(array.script)
        let out = try commands.run("sbatch", arguments) { try self.alreadySubmitted(token) }
        guard out.status == 0 else {
            let text = out.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            // A per-user or per-account submit limit, or the cluster's own MaxJobCount: smaller arrays, then later.
            if ["MaxSubmit", "job submit limit", "AssocMaxSubmitJobLimit", "MaxJobCount", "temporarily unable to accept job"].contains(
                where: text.contains)
            {
                throw BackendError("sbatch: \(text)", code: "slurm.submit_limit")
            }
            throw BackendError(
                "sbatch refused the array (\(array.elements) elements): \(text)", code: "slurm.submit_failed",
                usage: !SlurmCommands.isTransient(out))
        }
        guard let id = out.stdout.split(separator: ";").first?.trimmingCharacters(in: .whitespacesAndNewlines), !id.isEmpty else {
            throw BackendError("sbatch answered no job id: \(out.stdout)", code: "slurm.submit_failed")
        }
        return id
    }

    /// The array submitted under `token`, if slurmctld has it (an answer for the retry loop).
    func alreadySubmitted(_ token: String) throws -> SlurmCommands.Output? {
        let out = try commands.once("squeue", ["-h", "--name=\(jobName)", "-o", "%F|%k"])
        guard out.status == 0 else { return nil }
        for line in out.stdout.split(separator: "\n") {
            let f = line.split(separator: "|")
            if f.count == 2, f[1] == token { return SlurmCommands.Output(status: 0, stdout: String(f[0]) + "\n", stderr: "", seconds: 0) }
        }
        return nil
    }

    /// Pending reasons that mean a job can never start as asked. Not ReqNodeNotAvail: nodes drained, down or
    /// reserved for maintenance come back, and the jobs waiting for them start then.
    static let hopeless = [
        "PartitionNodeLimit", "PartitionTimeLimit", "BadConstraints", "InvalidAccount", "InvalidQOS", "QOSMaxMemoryPerJob",
        "QOSMaxCpuPerJobLimit", "QOSMaxWallDurationPerJobLimit", "AssocMaxWallDurationPerJobLimit", "AccountNotAllowed", "PartitionConfig",
        "MaxMemPerLimit", "DependencyNeverSatisfied",
    ]

    public func queue() throws -> [String: QueueState] {
        let out = try commands.run("squeue", ["-h", "-r", "--name=\(jobName)", "-o", "%i|%T|%r"])
        guard out.status == 0 else { throw BackendError("squeue failed: \(out.stderr)", code: "slurm.unreachable") }
        var states: [String: QueueState] = [:]
        for line in out.stdout.split(separator: "\n") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 3 else { continue }
            switch f[1] {
            case "PENDING":
                states[f[0]] = Self.hopeless.contains(where: { f[2].hasPrefix($0) }) ? .unschedulable(reason: f[2]) : .pending(reason: f[2])
            case "RUNNING": states[f[0]] = .running
            default: states[f[0]] = .other(f[1])
            }
        }
        return states
    }

    public func accounting(_ ids: [String]) throws -> [String: FinalState]? {
        guard !ids.isEmpty else { return [:] }
        let jobs = Array(Set(ids.map { String($0.split(separator: "_").first!) })).sorted()
        let out = try commands.run("sacct", ["-n", "-P", "-j", jobs.joined(separator: ","), "-o", SlurmAccounting.fields])
        if out.stderr.contains("accounting storage is disabled") { return nil }
        guard out.status == 0 else { throw BackendError("sacct failed: \(out.stderr)", code: "slurm.accounting_unreachable") }
        return SlurmAccounting.finals(of: ids, in: SlurmAccounting.parse(out.stdout), output: output(of:))
    }

    /// With accounting disabled: what slurmstepd wrote in the element's output (a memory or time limit).
    public func finalWithoutAccounting(_ id: String) -> FinalState? {
        SlurmAccounting.fromOutput(output(of: id))
    }

    /// An element's Slurm output, as its script names it (`--output=FOLDER/%A_%a.out`): the worker removes it when
    /// every task of the element succeeded, so a successful element leaves only its segment.
    static func outputPattern(_ folder: String) -> String { "\(folder)/${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}.out" }

    /// The end of the Slurm output file of an element (`A_T`), where slurmstepd says why it killed a job.
    public func output(of id: String) -> String {
        let path = "\(folder)/\(id).out"
        guard let h = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? h.close() }
        let size = (try? h.seekToEnd()) ?? 0
        try? h.seek(toOffset: size > 16384 ? size - 16384 : 0)
        return String(decoding: h.readDataToEndOfFile(), as: UTF8.self)
    }

    public func cancel(_ ids: [String]) throws {
        guard !ids.isEmpty else { return }
        let out = try commands.run("scancel", ids)
        if out.status != 0 { throw BackendError("scancel failed: \(out.stderr)", code: "slurm.cancel_failed") }
    }

    /// Makes a folder of the experiment if it is not there.
    func makeFolder(_ path: String) throws {
        guard mkdir(path, 0o755) != 0, errno != EEXIST else { return }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw BackendError("cannot create \(path): \(error)", code: "slurm.io")
        }
    }

    func write(_ text: String, to path: String) throws {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw BackendError("cannot write \(path): \(error)", code: "slurm.io")
        }
    }

    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
