public import Boutiques
import EventLog
import Foundation
public import JSON

/// What a worker needs to run one attempt of a planned task: a small JSON file a backend writes for each task of
/// a job, e.g. `{"experiment": "/shared/prov/2026-...", "task": "12", "attempt": 2, "backend": "slurm"}`.
///
/// Optional members: `workdir` (default: the current folder), `sample_interval` (seconds, default 1),
/// `container_runtime` (docker, podman, singularity, apptainer), `volumes` (list of HOST:CONTAINER), `inside_image`
/// (true: the worker runs inside the descriptor's image already, as on AWS Batch, and starts no container),
/// `trace_files` (false: the files the attempt uses are not observed; default true), `submitted` (true: a controller
/// submitted the attempt and recorded its submission; false, the default: the worker records it, as for a task file
/// written by hand or by `run --setup`).
public struct TaskFile: Sendable {
    public var experiment: String
    public var task: String
    public var attempt: Int
    public var backend: String
    public var workdir: String?
    public var sampleInterval: Double
    public var containerRuntime: ContainerEngine?
    public var volumes: [String]
    public var insideImage = false
    /// A controller submitted the attempt and recorded `task_submitted`; otherwise its worker records it.
    public var submitted = false
    /// Observe the files the attempt's processes use (`RunOptions.traceFiles`).
    public var traceFiles = true
    /// Where the files under a local folder end up once the attempt is over (local folder to its final place, such
    /// as `s3://...`): the attempt's outputs are recorded there, not at the path they were written to. Set by the
    /// worker that moves them (AWS Batch's); never in a task file.
    public var outputPlaces: [String: String] = [:]
    /// The task's invocation, when the array's map carries it; else the worker reads `tasks/<task>.json`. Never in
    /// a task file.
    public var invocation: JSONObject?

    public init(
        experiment: String, task: String, attempt: Int, backend: String, workdir: String? = nil, sampleInterval: Double = 1,
        containerRuntime: ContainerEngine? = nil, volumes: [String] = []
    ) {
        self.experiment = experiment
        self.task = task
        self.attempt = attempt
        self.backend = backend
        self.workdir = workdir
        self.sampleInterval = sampleInterval
        self.containerRuntime = containerRuntime
        self.volumes = volumes
    }

    /// Reads and checks a task file; every problem names the file and the member.
    public init(path: String) throws {
        guard case .object(let o) = try BoutiquesDocument.load(path) else {
            throw PlanError("\(path): a task file must be a JSON object", code: "task_file.invalid")
        }
        try self.init(o, source: path)
    }

    /// A task file's members from `o` (`task` and `attempt` given apart when the object is a map's template).
    init(_ o: JSONObject, source: String, task given: (task: String, attempt: Int)? = nil) throws {
        func need(_ key: String) throws -> String {
            guard let v = o[key]?.stringValue, !v.isEmpty else {
                throw PlanError("\(source): /\(key) must be a non-empty string", code: "task_file.invalid")
            }
            return v
        }
        experiment = try need("experiment")
        if let given {
            (task, attempt) = given
        } else {
            task = try need("task")
            guard let a = o["attempt"]?.int64Value, a >= 1 else {
                throw PlanError("\(source): /attempt must be an integer from 1", code: "task_file.invalid")
            }
            attempt = Int(a)
        }
        backend = o["backend"]?.stringValue ?? "local"
        workdir = o["workdir"]?.stringValue
        sampleInterval = o["sample_interval"]?.doubleValue ?? 1
        if let r = o["container_runtime"]?.stringValue {
            guard let e = ContainerEngine(rawValue: r) else {
                throw PlanError("\(source): /container_runtime must be docker, podman, singularity or apptainer", code: "task_file.invalid")
            }
            containerRuntime = e
        }
        volumes = o["volumes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        insideImage = o["inside_image"]?.boolValue ?? false
        traceFiles = o["trace_files"]?.boolValue ?? true
        // Task files written before `submitted` existed: a controller's named its backend, which was not the local pool.
        submitted = o["submitted"]?.boolValue ?? (o["backend"] != nil && backend != "local")
    }

    /// The task file's contents (`withAttempt` false: what every attempt of a map shares, its first line).
    public func json(withAttempt: Bool = true, indent: Int? = 2) -> String {
        var o: JSONObject = ["experiment": .string(experiment), "backend": .string(backend), "sample_interval": .number(JSONNumber(sampleInterval))]
        if withAttempt {
            o["task"] = .string(task)
            o["attempt"] = .number(JSONNumber(attempt))
        }
        if let workdir { o["workdir"] = .string(workdir) }
        if let containerRuntime { o["container_runtime"] = .string(containerRuntime.rawValue) }
        if !volumes.isEmpty { o["volumes"] = .array(volumes.map { .string($0) }) }
        if insideImage { o["inside_image"] = true }
        if !traceFiles { o["trace_files"] = false }
        if submitted { o["submitted"] = true }
        return JSONWriter(indent: indent).string(.object(o))
    }

    /// The task file's contents.
    public static func json(experiment: String, task: String, attempt: Int, backend: String, workdir: String?) -> String {
        TaskFile(experiment: experiment, task: task, attempt: attempt, backend: backend, workdir: workdir).json() + "\n"
    }
}
