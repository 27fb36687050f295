import CClowdrVersion
public import JSON

// The payloads of the event types this build knows, version 1 of each. Their fields, units and meanings are
// documented in `schema/events/<type>.schema.json`; a field never changes meaning once written: a change of
// meaning is a new version of the type, and both versions stay readable.
//
// Units: times are UTC instants (`Timestamp`), durations and CPU times are seconds (Double), sizes are bytes.

/// Which process is driving an experiment: recorded so that a dead controller can be recognised later
/// (same host and boot, pid gone or reused by another program).
public struct ControllerInfo: Codable, Sendable, Equatable {
    /// Host name of the machine the controller runs on.
    public var host: String
    /// Process id of the controller.
    public var pid: Int32
    /// Linux boot id (`/proc/sys/kernel/random/boot_id`): a pid is meaningful only within one boot.
    public var bootID: String
    /// Start time of the controller process in clock ticks since boot (`/proc/PID/stat` field 22), to tell a
    /// reused pid from the original process.
    public var startTicks: UInt64?

    public init(host: String, pid: Int32, bootID: String, startTicks: UInt64? = nil) {
        self.host = host
        self.pid = pid
        self.bootID = bootID
        self.startTicks = startTicks
    }

    enum CodingKeys: String, CodingKey {
        case host, pid
        case bootID = "boot_id"
        case startTicks = "start_ticks"
    }
}

/// `experiment_created` v1: the first event of every log. Says what is run, by whom, where and how.
public struct ExperimentCreated: Codable, Sendable, Equatable {
    /// The experiment's id (also the name of its folder).
    public var experiment: String
    /// A human name given with `--name`, if any.
    public var name: String?
    /// sha256 (hex) of the descriptor file's bytes.
    public var descriptorSHA256: String
    /// The tool's name and version as the descriptor gives them.
    public var toolName: String?
    public var toolVersion: String?
    /// The invocation files the tasks were planned from, in order.
    public var invocations: [String]
    /// The options the experiment was created with (flag name to value, as given).
    public var options: [String: String]
    /// The backend tasks run on: local, slurm or awsbatch.
    public var backend: String
    public var user: String
    public var host: String
    public var clowdrVersion: String
    /// Operating system and kernel, e.g. "Linux 6.18.0 x86_64".
    public var os: String
    public var controller: ControllerInfo?

    public init(
        experiment: String, name: String? = nil, descriptorSHA256: String, toolName: String? = nil, toolVersion: String? = nil,
        invocations: [String], options: [String: String] = [:], backend: String, user: String, host: String,
        clowdrVersion: String, os: String, controller: ControllerInfo? = nil
    ) {
        self.experiment = experiment
        self.name = name
        self.descriptorSHA256 = descriptorSHA256
        self.toolName = toolName
        self.toolVersion = toolVersion
        self.invocations = invocations
        self.options = options
        self.backend = backend
        self.user = user
        self.host = host
        self.clowdrVersion = clowdrVersion
        self.os = os
        self.controller = controller
    }

    enum CodingKeys: String, CodingKey {
        case experiment, name, invocations, options, backend, user, host, os, controller
        case descriptorSHA256 = "descriptor_sha256"
        case toolName = "tool_name"
        case toolVersion = "tool_version"
        case clowdrVersion = "clowdr_version"
    }
}

/// `task_planned` v1: a task exists, with its concrete invocation and the command line it will run.
public struct TaskPlanned: Codable, Sendable, Equatable {
    /// The concrete invocation (input id to value).
    public var invocation: JSONValue
    /// The command line, as rendered from the descriptor.
    public var commandLine: String
    /// The parameters that tell this task apart from the others (e.g. participant, session, swept values).
    public var labels: [String: String]
    /// Where the invocation came from (an invocation file, a sweep, a BIDS participant).
    public var source: String?

    public init(invocation: JSONValue, commandLine: String, labels: [String: String] = [:], source: String? = nil) {
        self.invocation = invocation
        self.commandLine = commandLine
        self.labels = labels
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case invocation, labels, source
        case commandLine = "command_line"
    }
}

/// `task_submitted` v1: an attempt was handed to a backend.
public struct TaskSubmitted: Codable, Sendable, Equatable {
    /// local, slurm or awsbatch.
    public var backend: String
    /// The backend's own id for the job (a pid, a Slurm job id like `12_3`, an AWS Batch job id).
    public var nativeID: String?
    /// What was asked of the scheduler (time, mem, cpus, partition...), when anything was.
    public var resources: [String: String]?

    public init(backend: String, nativeID: String? = nil, resources: [String: String]? = nil) {
        self.backend = backend
        self.nativeID = nativeID
        self.resources = resources
    }

    enum CodingKeys: String, CodingKey {
        case backend, resources
        case nativeID = "native_id"
    }
}

/// `task_started` v1: an attempt's process started (the envelope's time is the start time).
public struct TaskStarted: Codable, Sendable, Equatable {
    public var host: String
    /// The process id of the attempt's top process (leader of its process group).
    public var pid: Int32
    /// Linux boot id of the host, so a dead worker can be recognised.
    public var bootID: String?
    /// v2: the version of the clowdr that started it (the worker's, on a cluster or in the cloud), and the host it
    /// ran on: CPU model, logical CPUs, memory (bytes), kernel release, OS release.
    public var clowdrVersion: String?
    public var cpuModel: String?
    public var cpus: Int?
    public var memory: Int64?
    public var kernel: String?
    public var osRelease: String?
    /// v3: on an EC2 instance (AWS Batch), its type and whether it is a spot instance.
    public var instanceType: String?
    public var spot: Bool?

    public init(
        host: String, pid: Int32, bootID: String? = nil, clowdrVersion: String? = nil, cpuModel: String? = nil, cpus: Int? = nil,
        memory: Int64? = nil, kernel: String? = nil, osRelease: String? = nil, instanceType: String? = nil, spot: Bool? = nil
    ) {
        self.host = host
        self.pid = pid
        self.bootID = bootID
        self.clowdrVersion = clowdrVersion
        self.cpuModel = cpuModel
        self.cpus = cpus
        self.memory = memory
        self.kernel = kernel
        self.osRelease = osRelease
        self.instanceType = instanceType
        self.spot = spot
    }

    enum CodingKeys: String, CodingKey {
        case host, pid, cpus, memory, kernel, spot
        case instanceType = "instance_type"
        case bootID = "boot_id"
        case clowdrVersion = "clowdr_version"
        case cpuModel = "cpu_model"
        case osRelease = "os_release"
    }
}

/// `sample` v1: one reading of an attempt's whole process tree. CPU times and I/O are cumulative since the
/// attempt started; RSS and VMS are sums over the live processes of the tree at the time of the reading.
public struct Sample: Codable, Sendable, Equatable {
    /// CPU time in user mode, seconds, summed over the tree (live and reaped processes).
    public var cpuUser: Double
    /// CPU time in kernel mode, seconds.
    public var cpuSystem: Double
    /// Resident set size, bytes, summed over the live processes.
    public var rss: Int64
    /// Virtual memory size, bytes, summed over the live processes.
    public var vms: Int64
    /// Bytes read from storage (`read_bytes` of /proc/PID/io), cumulative.
    public var readBytes: Int64
    /// Bytes written to storage (`write_bytes` of /proc/PID/io), cumulative.
    public var writeBytes: Int64
    /// Live processes in the tree.
    public var processes: Int32
    /// Live threads in the tree.
    public var threads: Int32

    public init(
        cpuUser: Double, cpuSystem: Double, rss: Int64, vms: Int64, readBytes: Int64, writeBytes: Int64, processes: Int32,
        threads: Int32
    ) {
        self.cpuUser = cpuUser
        self.cpuSystem = cpuSystem
        self.rss = rss
        self.vms = vms
        self.readBytes = readBytes
        self.writeBytes = writeBytes
        self.processes = processes
        self.threads = threads
    }

    enum CodingKeys: String, CodingKey {
        case rss, vms, processes, threads
        case cpuUser = "cpu_user"
        case cpuSystem = "cpu_system"
        case readBytes = "read_bytes"
        case writeBytes = "write_bytes"
    }
}

/// One output file of an attempt, as found after it exited.
public struct OutputFile: Codable, Sendable, Equatable {
    /// The descriptor's output id.
    public var id: String
    public var path: String
    /// Size in bytes; nil when the file is missing.
    public var size: Int64?
    /// sha256 (hex) of the file's bytes; nil when missing or a directory.
    public var sha256: String?

    public init(id: String, path: String, size: Int64? = nil, sha256: String? = nil) {
        self.id = id
        self.path = path
        self.size = size
        self.sha256 = sha256
    }
}

/// `task_exited` v1: an attempt's process ended. Totals over the whole attempt.
public struct TaskExited: Codable, Sendable, Equatable {
    /// The exit status, when the process exited normally.
    public var exitCode: Int32?
    /// The signal that ended it, when it was killed.
    public var signal: Int32?
    /// Wall-clock duration, seconds, from start to exit.
    public var wallTime: Double
    /// CPU time, seconds, of the whole tree (rusage of the reaped children).
    public var cpuUser: Double
    public var cpuSystem: Double
    /// Peak resident memory of the tree, bytes: the larger of the highest summed sample and the kernel's own
    /// high-water marks.
    public var peakRSS: Int64
    public var readBytes: Int64
    public var writeBytes: Int64
    public var outputs: [OutputFile]
    /// Why the attempt failed although the exit code may be 0 (e.g. `missing output <id>`); nil on success.
    public var failureReason: String?

    public init(
        exitCode: Int32?, signal: Int32? = nil, wallTime: Double, cpuUser: Double = 0, cpuSystem: Double = 0, peakRSS: Int64 = 0,
        readBytes: Int64 = 0, writeBytes: Int64 = 0, outputs: [OutputFile] = [], failureReason: String? = nil
    ) {
        self.exitCode = exitCode
        self.signal = signal
        self.wallTime = wallTime
        self.cpuUser = cpuUser
        self.cpuSystem = cpuSystem
        self.peakRSS = peakRSS
        self.readBytes = readBytes
        self.writeBytes = writeBytes
        self.outputs = outputs
        self.failureReason = failureReason
    }

    /// True when the process exited with 0, was not signalled, and nothing else failed it.
    public var succeeded: Bool { exitCode == 0 && signal == nil && failureReason == nil }

    enum CodingKeys: String, CodingKey {
        case signal, outputs
        case exitCode = "exit_code"
        case wallTime = "wall_time"
        case cpuUser = "cpu_user"
        case cpuSystem = "cpu_system"
        case peakRSS = "peak_rss"
        case readBytes = "read_bytes"
        case writeBytes = "write_bytes"
        case failureReason = "failure_reason"
    }
}

/// `task_launch_failed` v1: an attempt could not be started (command not found, submission refused...).
public struct TaskLaunchFailed: Codable, Sendable, Equatable {
    public var reason: String
    public var backend: String?

    public init(reason: String, backend: String? = nil) {
        self.reason = reason
        self.backend = backend
    }
}

/// `task_lost` v1: an attempt's worker disappeared without a final word (dead controller, node failure).
public struct TaskLost: Codable, Sendable, Equatable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// Why an attempt ended without its worker's own exit, in one vocabulary for every backend (Slurm's states, AWS
/// Batch's status reasons): what a person, a rerun and `mem:auto` act on.
public enum FailureClass: String, Codable, Sendable, CaseIterable {
    /// Killed for using more memory than it was given.
    case oom
    /// Killed at its time limit.
    case timeout
    /// The node (or instance) it ran on failed.
    case nodeFail = "node_fail"
    /// Preempted, or its spot instance reclaimed.
    case preempted
    /// It can never start as asked (a request no node satisfies, a misconfigured queue).
    case unschedulable
    /// Cancelled by someone (scancel, a console).
    case cancelled
    /// The tool (or the worker) failed on its own: see the exit code.
    case appError = "app_error"
    /// The scheduler says nothing certain (Slurm's UNKNOWN): never taken for success.
    case unknown
}

/// `task_ended` v2 (v1 had no `ended_at`): the scheduler's final word on an attempt whose worker recorded no exit (killed for memory or
/// time, its node failed, cancelled before it started...), recorded by the controller when it reconciles. A
/// `task_exited` of the same attempt, from its worker, always wins over it.
public struct TaskEnded: Codable, Sendable, Equatable {
    public var backend: String
    public var nativeID: String
    /// The scheduler's state as it says it (Slurm: OUT_OF_MEMORY, TIMEOUT, FAILED, CANCELLED...).
    public var state: String
    public var failureClass: FailureClass
    /// What happened and what to do, for a person.
    public var reason: String
    public var exitCode: Int32?
    public var signal: Int32?
    /// The scheduler's accounting, when it has any: peak RSS (bytes), elapsed and CPU time (s).
    public var peakRSS: Int64?
    public var wallTime: Double?
    public var cpuTime: Double?
    /// When the attempt ended, as the scheduler says (v2; absent in v1, and when the scheduler does not say): the
    /// event's own time is when the controller learnt it.
    public var endedAt: Timestamp?

    public init(
        backend: String, nativeID: String, state: String, failureClass: FailureClass, reason: String, exitCode: Int32? = nil, signal: Int32? = nil,
        peakRSS: Int64? = nil, wallTime: Double? = nil, cpuTime: Double? = nil, endedAt: Timestamp? = nil
    ) {
        self.endedAt = endedAt
        self.backend = backend
        self.nativeID = nativeID
        self.state = state
        self.failureClass = failureClass
        self.reason = reason
        self.exitCode = exitCode
        self.signal = signal
        self.peakRSS = peakRSS
        self.wallTime = wallTime
        self.cpuTime = cpuTime
    }

    enum CodingKeys: String, CodingKey {
        case backend, state, reason, signal
        case nativeID = "native_id"
        case failureClass = "failure_class"
        case exitCode = "exit_code"
        case peakRSS = "peak_rss"
        case wallTime = "wall_time"
        case cpuTime = "cpu_time"
        case endedAt = "ended_at"
    }
}

/// `task_cancelled` v1: an attempt was stopped on request (Ctrl-C, SIGTERM, scancel).
public struct TaskCancelled: Codable, Sendable, Equatable {
    public var reason: String
    /// The signal sent to the attempt's process group, if one was sent.
    public var signal: Int32?

    public init(reason: String, signal: Int32? = nil) {
        self.reason = reason
        self.signal = signal
    }
}

/// `segment_refused` v1: a line of a segment that ingest did not take into the log, and why. The line is not in
/// the log; the segment was kept as it was (`kept`). Experiment-level (the envelope's task and attempt are null):
/// the line's own task and attempt, when they could be read, are in the payload.
public struct SegmentRefused: Codable, Sendable, Equatable {
    /// The segment, relative to the experiment folder when inside it.
    public var segment: String
    /// The line's number in the segment (1 for its first line), and the byte offset where it starts.
    public var line: Int
    public var offset: Int64
    /// A stable code (`segment.not_json`, `segment.version_newer`, `segment.not_submitted`...) and what it means.
    public var code: String
    public var reason: String
    /// Where a copy of the segment, as it was when the line was refused, is kept (relative to the experiment folder).
    public var kept: String
    /// Who wrote the segment, as its name says: controller, worker or imported (given to `clowdr ingest`).
    public var writer: String
    /// The scheduler's id the segment is named after (a worker's array element), and the host it says it ran on.
    public var nativeID: String?
    public var host: String?
    /// What the line said it was, when that could be read.
    public var type: String?
    public var version: Int?
    public var task: String?
    public var attempt: Int?

    public init(
        segment: String, line: Int, offset: Int64, code: String, reason: String, kept: String, writer: String, nativeID: String? = nil,
        host: String? = nil, type: String? = nil, version: Int? = nil, task: String? = nil, attempt: Int? = nil
    ) {
        self.segment = segment
        self.line = line
        self.offset = offset
        self.code = code
        self.reason = reason
        self.kept = kept
        self.writer = writer
        self.nativeID = nativeID
        self.host = host
        self.type = type
        self.version = version
        self.task = task
        self.attempt = attempt
    }

    enum CodingKeys: String, CodingKey {
        case segment, line, offset, code, reason, kept, writer, host, type, version, task, attempt
        case nativeID = "native_id"
    }
}

/// Which tasks a rerun selects.
public enum RerunMode: String, Codable, Sendable, CaseIterable {
    /// Every task.
    case all
    /// Tasks whose latest attempt failed.
    case failed
    /// Tasks that never finished: planned, submitted, running under a dead controller, lost or cancelled.
    case incomplete
}

/// `rerun_requested` v1: a rerun was asked for; the selected tasks get new attempts after this event.
public struct RerunRequested: Codable, Sendable, Equatable {
    public var mode: RerunMode
    /// The selected task ids, in task order.
    public var tasks: [String]
    /// Options changed for the rerun (flag name to value).
    public var overrides: [String: String]
    public var controller: ControllerInfo?

    public init(mode: RerunMode, tasks: [String], overrides: [String: String] = [:], controller: ControllerInfo? = nil) {
        self.mode = mode
        self.tasks = tasks
        self.overrides = overrides
        self.controller = controller
    }
}

/// The version of clowdr recorded in every experiment (and shown by `clowdr --version` and the report): what the
/// build stamped (scripts/version.sh: the release tag, else the commit and whether the tree was modified), or
/// `0.1.0-dev+unknown` for a build made without `make`.
public enum ClowdrVersion {
    public static let current: String = {
        let stamped = String(cString: clowdr_build_version())
        return stamped.isEmpty ? "0.1.0-dev+unknown" : stamped
    }()
}

extension TaskPlanned {
    /// The text of a task's invocation file, `tasks/<task>.json` (the original Clowdr's layout, and archives): the
    /// invocation, indented as bosh writes JSON.
    public static func invocationFileText(_ invocation: JSONValue) -> String { JSONWriter(indent: 4).string(invocation) + "\n" }
}
