import Boutiques
public import EventLog
import Foundation
public import JSON

/// `clowdr task`: runs planned tasks in this process, one after the other, writing their events to a segment
/// file instead of the experiment's log, so it can run on a worker node that must not write the SQLite file.
/// The controller ingests the segment idempotently. Depends only on the experiment's folder (descriptor copy and
/// invocations), never on the controller.
public enum Worker {
    /// The attempts of one element of a job array: line `index` of `map`, the index being `SLURM_ARRAY_TASK_ID`
    /// (or `AWS_BATCH_JOB_ARRAY_INDEX`). A map is either lines of task file paths separated by spaces (several when
    /// tasks are grouped), or a first line holding what every attempt shares (a task file without task and
    /// attempt, `{"experiment": ...}`) and then, for element i on line i + 2, either `TASK:ATTEMPT` items or a JSON
    /// array of `{"task", "attempt", "invocation"}` objects: nothing to write per attempt when ten thousand are
    /// submitted, the invocations included.
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
        if let template, lines[index].hasPrefix("[") { return try Self.items(json: lines[index], template: template, map: map, index: index) }
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

    /// An element's line in the JSON form: its attempts with their invocations.
    static func items(json line: Substring, template: JSONObject, map: String, index: Int) throws -> [TaskFile] {
        let place = "\(map): element \(index)"
        guard case .array(let items)? = try? JSONParser.parse(String(line)) else {
            throw PlanError("\(place): the line must be a JSON array of {task, attempt, invocation}", code: "task_file.array_map")
        }
        return try items.map { item in
            guard case .object(let o) = item, let task = o["task"]?.stringValue, let attempt = o["attempt"]?.int64Value, attempt >= 1,
                case .object(let invocation)? = o["invocation"]
            else {
                throw PlanError(
                    "\(place): each item must be {\"task\": string, \"attempt\": integer from 1, \"invocation\": object}",
                    code: "task_file.array_map")
            }
            var t = try TaskFile(template, source: map, task: (task, Int(attempt)))
            t.invocation = invocation
            return t
        }
    }

    /// The map of an array whose element i runs `elements[i]`, every attempt with the settings of `template`: each
    /// element's attempts as a JSON array, with their invocations (then no worker reads a file per task).
    public static func arrayMap(template: TaskFile, elements: [[(task: String, attempt: Int, invocation: JSONObject)]]) -> String {
        var bytes = Array(template.json(withAttempt: false, indent: nil).utf8)
        bytes.append(UInt8(ascii: "\n"))
        let writer = JSONWriter()
        for e in elements {
            let items = e.map {
                JSONValue.object(["task": .string($0.task), "attempt": .number(JSONNumber($0.attempt)), "invocation": .object($0.invocation)])
            }
            bytes.append(contentsOf: writer.string(.array(items)).utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Runs every attempt, one after the other; returns how each ended.
    public static func run(tasks: [TaskFile], segment: String?, cancel: CancellationFlag) throws -> [(TaskFile, TaskState)] {
        var results: [(TaskFile, TaskState)] = []
        // One clowdr-shim server starts every task of this worker.
        let supervisor = Shim.path.map(Supervisor.init)
        let files = FileBook()
        let images = ImageDigests()
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
            options.traceFiles = t.traceFiles
            options.container =
                t.insideImage
                ? nil : try ContainerChoice.options(for: d, runtime: t.containerRuntime, volumes: t.volumes, mapUser: false, imagePath: nil)
            let invocation = try t.invocation.map(JSONValue.object) ?? Self.invocationFile(t.task, in: layout)
            let rendered = try Renderer(d, workingDirectory: workdir).render(invocation, file: layout.invocation(t.task))
            let segmentPath = segment ?? layout.segments + "/\(HostInfo.hostname)-\(getpid()).ndjson"
            let segmentFolder = (segmentPath as NSString).deletingLastPathComponent  // empty: the current folder
            if !segmentFolder.isEmpty { try FileManager.default.createDirectory(atPath: segmentFolder, withIntermediateDirectories: true) }
            let writer = try writers[segmentPath] ?? SegmentWriter(path: segmentPath)
            writers[segmentPath] = writer
            var executor = AttemptExecutor(layout: layout, descriptor: d, options: options, sink: writer, factory: EventFactory())
            executor.supervisor = supervisor
            executor.files = files
            executor.images = images
            executor.backend = t.backend
            executor.recordsSubmission = !t.submitted
            let state = executor.run(task: t.task, attempt: t.attempt, rendered: rendered, cancel: cancel)
            try writer.flush()
            results.append((t, state))
            if cancel.cancelledBecause != nil { break }
        }
        // This worker writes nothing more: readers need not look at its segments again.
        for writer in writers.values { try writer.seal() }
        return results
    }

    /// A task's invocation from `tasks/<task>.json` (a task file without its invocation, the original layout).
    static func invocationFile(_ task: String, in layout: ExperimentLayout) throws -> JSONValue {
        let path = layout.invocation(task)
        guard FileManager.default.fileExists(atPath: path) else {
            throw PlanError(
                "\(path) does not exist: this experiment keeps its invocations in its log; plan it with --invocation-files for one file per task, or run the task through its array's map (clowdr task --array)",
                code: "task_file.no_invocation")
        }
        return try BoutiquesDocument.load(path)
    }
}
