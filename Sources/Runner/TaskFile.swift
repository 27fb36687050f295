public import Boutiques
public import EventLog
import Foundation
import JSON

/// What a worker needs to run one attempt of a planned task: a small JSON file a backend writes for each task of
/// a job, e.g. `{"experiment": "/shared/prov/2026-...", "task": "12", "attempt": 2, "backend": "slurm"}`.
///
/// Optional members: `workdir` (default: the current folder), `sample_interval` (seconds, default 1),
/// `container_runtime` (docker, podman, singularity, apptainer), `volumes` (list of HOST:CONTAINER), `inside_image`
/// (true: the worker runs inside the descriptor's image already, as on AWS Batch, and starts no container).
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
    /// Where the files under a local folder end up once the attempt is over (local folder to its final place, such
    /// as `s3://...`): the attempt's outputs are recorded there, not at the path they were written to. Set by the
    /// worker that moves them (AWS Batch's); never in a task file.
    public var outputPlaces: [String: String] = [:]

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
        return JSONWriter(indent: indent).string(.object(o))
    }

    /// The task file's contents.
    public static func json(experiment: String, task: String, attempt: Int, backend: String, workdir: String?) -> String {
        TaskFile(experiment: experiment, task: task, attempt: attempt, backend: backend, workdir: workdir).json() + "\n"
    }
}

/// `clowdr task`: runs planned tasks in this process, one after the other, writing their events to a segment
/// file instead of the experiment's log, so it can run on a worker node that must not write the SQLite file.
/// The controller ingests the segment idempotently. Depends only on the experiment's folder (descriptor copy and
/// invocations), never on the controller.
public enum Worker {
    /// The attempts of one element of a job array: line `index` of `map`, the index being `SLURM_ARRAY_TASK_ID`
    /// (or `AWS_BATCH_JOB_ARRAY_INDEX`). A map is either lines of task file paths separated by spaces (several when
    /// tasks are grouped), or a first line holding what every attempt shares (a task file without task and
    /// attempt, `{"experiment": ...}`) and then, for element i on line i + 2, `TASK:ATTEMPT` items: nothing to
    /// write per attempt when ten thousand are submitted.
    public static func arrayElement(map: String, index: Int) throws -> [TaskFile] {
        guard let text = try? String(contentsOfFile: map, encoding: .utf8) else {
            throw PlanError("cannot read the array map \(map)", code: "task_file.array_map")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var template: JSONObject?
        if let first = lines.first, first.hasPrefix("{") {
            guard case .object(let o) = try? JSONParser.parse(String(first)) else {
                throw PlanError("\(map): line 1 must be a JSON object (what every attempt shares)", code: "task_file.array_map")
            }
            template = o
            lines.removeFirst()
        }
        guard index >= 0, index < lines.count, !lines[index].isEmpty else {
            throw PlanError("\(map) has no element \(index) (it maps \(lines.filter { !$0.isEmpty }.count) elements)", code: "task_file.array_map")
        }
        let items = lines[index].split(separator: " ")
        guard let template else {
            // Task files named relative to the map's folder (the current one when the map is named without one).
            let dir = (map as NSString).deletingLastPathComponent
            return try items.map { try TaskFile(path: $0.hasPrefix("/") || dir.isEmpty ? String($0) : dir + "/" + $0) }
        }
        return try items.map { item in
            guard let colon = item.lastIndex(of: ":"), let attempt = Int(item[item.index(after: colon)...]), attempt >= 1 else {
                throw PlanError("\(map): element \(index): '\(item)' is not TASK:ATTEMPT", code: "task_file.array_map")
            }
            return try TaskFile(template, source: map, task: (String(item[..<colon]), attempt))
        }
    }

    /// The map of an array whose element i runs `elements[i]` (attempts as `TASK:ATTEMPT` items), every attempt
    /// with the settings of `template`.
    public static func arrayMap(template: TaskFile, elements: [[(task: String, attempt: Int)]]) -> String {
        var bytes = Array(template.json(withAttempt: false, indent: nil).utf8)
        bytes.append(UInt8(ascii: "\n"))
        for e in elements {
            for (i, item) in e.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: " ")) }
                bytes.append(contentsOf: item.task.utf8)
                bytes.append(UInt8(ascii: ":"))
                bytes.append(contentsOf: String(item.attempt).utf8)
            }
            bytes.append(UInt8(ascii: "\n"))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Runs every attempt, one after the other; returns how each ended.
    public static func run(tasks: [TaskFile], segment: String?, cancel: CancellationFlag) throws -> [(TaskFile, TaskState)] {
        var results: [(TaskFile, TaskState)] = []
        var writers: [String: SegmentWriter] = [:]
        var descriptors: [String: Descriptor] = [:]
        for t in tasks {
            let layout = ExperimentLayout(directory: t.experiment)
            let d = try descriptors[layout.descriptor] ?? DescriptorValidator.loadPlanned(layout.descriptor)
            descriptors[layout.descriptor] = d
            let workdir = URL(fileURLWithPath: t.workdir ?? FileManager.default.currentDirectoryPath).standardizedFileURL.path
            var options = RunOptions(jobs: 1, workingDirectory: workdir)
            options.sampleInterval = t.sampleInterval
            options.releaseCodePages = true
            options.outputPlaces = t.outputPlaces
            options.container =
                t.insideImage
                ? nil : try ContainerChoice.options(for: d, runtime: t.containerRuntime, volumes: t.volumes, mapUser: false, imagePath: nil)
            let rendered = try Renderer(d, workingDirectory: workdir).render(
                try BoutiquesDocument.load(layout.invocation(t.task)), file: layout.invocation(t.task))
            let segmentPath = segment ?? layout.segments + "/\(HostInfo.hostname)-\(getpid()).ndjson"
            let segmentFolder = (segmentPath as NSString).deletingLastPathComponent  // empty: the current folder
            if !segmentFolder.isEmpty { try FileManager.default.createDirectory(atPath: segmentFolder, withIntermediateDirectories: true) }
            let writer = try writers[segmentPath] ?? SegmentWriter(path: segmentPath)
            writers[segmentPath] = writer
            var executor = AttemptExecutor(layout: layout, descriptor: d, options: options, sink: writer, factory: EventFactory())
            executor.backend = t.backend
            executor.recordsSubmission = t.backend == "local"
            let state = executor.run(task: t.task, attempt: t.attempt, rendered: rendered, cancel: cancel)
            try writer.flush()
            results.append((t, state))
            if cancel.cancelledBecause != nil { break }
        }
        // This worker writes nothing more: readers need not look at its segments again.
        for writer in writers.values { try writer.seal() }
        return results
    }
}
