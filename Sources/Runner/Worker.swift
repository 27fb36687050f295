import Boutiques
public import EventLog
import Foundation
import JSON

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
        // One clowdr-shim server starts every task of this worker.
        let supervisor = Shim.path.map(Supervisor.init)
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
            executor.supervisor = supervisor
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
