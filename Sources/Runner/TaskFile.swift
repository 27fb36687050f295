public import Boutiques
public import EventLog
import Foundation
import JSON

/// What a worker needs to run one attempt of a planned task: a small JSON file a backend writes for each task of
/// a job, e.g. `{"experiment": "/shared/prov/2026-...", "task": "12", "attempt": 2, "backend": "slurm"}`.
///
/// Optional members: `workdir` (default: the current folder), `sample_interval` (seconds, default 1),
/// `container_runtime` (docker, podman, singularity, apptainer), `volumes` (list of HOST:CONTAINER).
public struct TaskFile: Sendable {
    public var experiment: String
    public var task: String
    public var attempt: Int
    public var backend: String
    public var workdir: String?
    public var sampleInterval: Double
    public var containerRuntime: ContainerEngine?
    public var volumes: [String]

    /// Reads and checks a task file; every problem names the file and the member.
    public init(path: String) throws {
        guard case .object(let o) = try BoutiquesDocument.load(path) else {
            throw PlanError("\(path): a task file must be a JSON object", code: "task_file.invalid")
        }
        func need(_ key: String) throws -> String {
            guard let v = o[key]?.stringValue, !v.isEmpty else {
                throw PlanError("\(path): /\(key) must be a non-empty string", code: "task_file.invalid")
            }
            return v
        }
        experiment = try need("experiment")
        task = try need("task")
        guard let a = o["attempt"]?.int64Value, a >= 1 else {
            throw PlanError("\(path): /attempt must be an integer from 1", code: "task_file.invalid")
        }
        attempt = Int(a)
        backend = o["backend"]?.stringValue ?? "local"
        workdir = o["workdir"]?.stringValue
        sampleInterval = o["sample_interval"]?.doubleValue ?? 1
        if let r = o["container_runtime"]?.stringValue {
            guard let e = ContainerEngine(rawValue: r) else {
                throw PlanError("\(path): /container_runtime must be docker, podman, singularity or apptainer", code: "task_file.invalid")
            }
            containerRuntime = e
        }
        volumes = o["volumes"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// The task file's contents.
    public static func json(experiment: String, task: String, attempt: Int, backend: String, workdir: String?) -> String {
        var o: JSONObject = [
            "experiment": .string(experiment), "task": .string(task), "attempt": .number(JSONNumber(attempt)), "backend": .string(backend),
        ]
        if let workdir { o["workdir"] = .string(workdir) }
        return JSONWriter(indent: 2).string(.object(o)) + "\n"
    }
}

/// `clowdr task`: runs planned tasks in this process, one after the other, writing their events to a segment
/// file instead of the experiment's log, so it can run on a worker node that must not write the SQLite file.
/// The controller ingests the segment idempotently. Depends only on the experiment's folder (descriptor copy and
/// invocations), never on the controller.
public enum Worker {
    /// The task files of one element of a job array: line `index` of `map` (task file paths separated by spaces,
    /// several when tasks are grouped), the index being `SLURM_ARRAY_TASK_ID` (or `AWS_BATCH_JOB_ARRAY_INDEX`).
    public static func arrayElement(map: String, index: Int) throws -> [String] {
        guard let text = try? String(contentsOfFile: map, encoding: .utf8) else {
            throw PlanError("cannot read the array map \(map)", code: "task_file.array_map")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard index >= 0, index < lines.count, !lines[index].isEmpty else {
            throw PlanError("\(map) has no line \(index) (it maps \(lines.filter { !$0.isEmpty }.count) elements)", code: "task_file.array_map")
        }
        let dir = (map as NSString).deletingLastPathComponent
        return lines[index].split(separator: " ").map { $0.hasPrefix("/") ? String($0) : dir + "/" + $0 }
    }

    /// Runs every task file; returns how each attempt ended.
    public static func run(taskFiles: [String], segment: String?, cancel: CancellationFlag) throws -> [(TaskFile, TaskStatus)] {
        var results: [(TaskFile, TaskStatus)] = []
        for path in taskFiles {
            let t = try TaskFile(path: path)
            let layout = ExperimentLayout(directory: t.experiment)
            let d = try DescriptorValidator.load(layout.descriptor)
            let workdir = URL(fileURLWithPath: t.workdir ?? FileManager.default.currentDirectoryPath).standardizedFileURL.path
            var options = RunOptions(jobs: 1, workingDirectory: workdir)
            options.sampleInterval = t.sampleInterval
            options.releaseStartupMemory = true
            options.container = try ContainerChoice.options(for: d, runtime: t.containerRuntime, volumes: t.volumes, mapUser: false, imagePath: nil)
            let rendered = try Renderer(d, workingDirectory: workdir).render(
                try BoutiquesDocument.load(layout.invocation(t.task)), file: layout.invocation(t.task))
            let segmentPath = segment ?? layout.segments + "/\(HostInfo.hostname)-\(getpid()).ndjson"
            try FileManager.default.createDirectory(atPath: (segmentPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let writer = try SegmentWriter(path: segmentPath)
            var executor = AttemptExecutor(layout: layout, descriptor: d, options: options, sink: writer, factory: EventFactory())
            executor.backend = t.backend
            executor.recordsSubmission = t.backend == "local"
            let state = executor.run(task: t.task, attempt: t.attempt, rendered: rendered, cancel: cancel)
            try writer.flush()
            results.append((t, state))
            if cancel.cancelledBecause != nil { break }
        }
        return results
    }
}
