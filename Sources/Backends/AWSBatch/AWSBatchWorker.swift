public import AWS
import Boutiques
import ClowdrErrors
public import EventLog
import Foundation
import JSON
public import Runner

/// The worker side of AWS Batch: `clowdr task --array s3://.../arrays/<sha>.map --events s3://.../segments/` inside
/// a child of an array job. It copies what its element needs from S3 into a scratch folder (the map, the descriptor,
/// its tasks' invocations, and the `s3://` inputs they name), runs the attempts exactly as a local run does, and
/// uploads its segment every few seconds and at exit, then each attempt's stdout and stderr (`streams/`) and the
/// files its task wrote (`outputs/<task>/`). It needs no aws CLI in the image.
public struct AWSBatchWorker: Sendable {
    public var s3: S3Client
    /// Where the element's scratch folder goes.
    public var scratch: String
    /// Seconds between uploads of the segment while attempts run.
    public var uploadInterval = 5.0
    /// How long the uploads at the end (segment, streams, outputs) keep trying while S3 cannot be reached: what an
    /// attempt recorded is not given up after the client's own few retries.
    public var patience = 600.0

    /// `scratch` nil: a folder of this process under the temporary folder.
    public init(configuration: AWSConfiguration, scratch: String? = nil) {
        s3 = S3Client(configuration: configuration)
        self.scratch = scratch ?? NSTemporaryDirectory() + "clowdr-worker-\(getpid())"
    }

    /// The element of an array job this container runs: AWS_BATCH_JOB_ARRAY_INDEX, else the `:<index>` suffix of
    /// AWS_BATCH_JOB_ID (moto sets only that), else 0 (a job of one element); and a name for its segment.
    public static func element(_ env: [String: String]) -> (index: Int, name: String) {
        let id = env["AWS_BATCH_JOB_ID"] ?? "job-\(getpid())"
        let index = env["AWS_BATCH_JOB_ARRAY_INDEX"].flatMap(Int.init) ?? id.split(separator: ":").dropFirst().first.flatMap { Int($0) } ?? 0
        return (index, "batch-" + id.replacingOccurrences(of: ":", with: "_"))
    }

    /// Runs element `index` of the map; returns how each attempt ended.
    public func run(map: S3Location, segments: S3Location, index: Int, segmentName: String, cancel: CancellationFlag) throws
        -> [(TaskFile, TaskState)]
    {
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }  // all of it is on S3 by then
        let localMap = scratch + "/array.map"
        let mapText = String(decoding: try s3.get(bucket: map.bucket, key: map.key), as: UTF8.self)
        let parsed = try BatchArrayMap.parse(mapText, source: map.description)
        try Data(parsed.map.utf8).write(to: URL(fileURLWithPath: localMap))
        var tasks = try Worker.arrayElement(map: localMap, index: index)
        guard let first = tasks.first, let root = S3Location(first.experiment) else {
            throw BackendError("\(map): its element \(index) names no experiment on S3", code: "task_file.array_map")
        }
        let layout = ExperimentLayout(directory: scratch + "/" + (root.key as NSString).lastPathComponent)
        let segment = layout.segments + "/" + segmentName + ".ndjson"
        let remote = segments.appending(segmentName + ".ndjson")
        let destinations: [String: [(local: String, remote: S3Location)]]
        do { destinations = try prepare(&tasks, root: root, layout: layout, map: parsed) } catch {
            // Nothing ran: each attempt's record says why, in this element's segment, before the worker exits.
            try? recordLaunchFailure(of: tasks, reason: "\(error)", segment: segment, remote: remote)
            throw error
        }
        let uploader = PeriodicUpload(s3: s3, file: segment, to: remote, every: uploadInterval, patience: patience)
        uploader.start()
        let results: [(TaskFile, TaskState)]
        do { results = try Worker.run(tasks: tasks, segment: segment, cancel: cancel) } catch {
            uploader.stop()
            throw error
        }
        uploader.stop()
        for (t, _) in results {
            try persistently { try uploadResults(of: t, layout: layout, root: root) }
            for d in destinations[t.task] ?? [] { try persistently { try s3.upload(folder: d.local, to: d.remote) } }
        }
        return results
    }

    /// Fetches what the element's tasks need (the descriptor, their invocations and `s3://` inputs) and gives each
    /// a working folder; returns each task's destinations on S3.
    func prepare(
        _ tasks: inout [TaskFile], root: S3Location, layout: ExperimentLayout,
        map parsed: (map: String, bundle: S3Location?, ranges: [String: ClosedRange<Int>])
    ) throws -> [String: [(local: String, remote: S3Location)]] {
        try FileManager.default.createDirectory(atPath: layout.tasks, withIntermediateDirectories: true)
        try s3.download(root.appending("descriptor.json"), to: layout.descriptor)
        let descriptor = try DescriptorValidator.loadPlanned(layout.descriptor)
        var destinations: [String: [(local: String, remote: S3Location)]] = [:]
        for i in tasks.indices {
            let bytes = try invocation(of: tasks[i].task, root: root, bundle: parsed.bundle, range: parsed.ranges[tasks[i].task])
            destinations[tasks[i].task] = try localizeInvocation(bytes, of: tasks[i].task, descriptor: descriptor, into: layout)
            tasks[i].experiment = layout.directory
            // The working folder asked for when the job mounts it (a shared file system), else one of the task's own
            // whose files are uploaded at the end.
            // Outputs are recorded where they end up on S3, not at the container's scratch paths.
            for d in destinations[tasks[i].task] ?? [] { tasks[i].outputPlaces[d.local] = d.remote.description }
            if let w = tasks[i].workdir, FileManager.default.fileExists(atPath: w) { continue }
            tasks[i].workdir = scratch + "/work/" + tasks[i].task
            try FileManager.default.createDirectory(atPath: tasks[i].workdir!, withIntermediateDirectories: true)
            tasks[i].outputPlaces[tasks[i].workdir!] = root.appending("outputs/\(tasks[i].task)").description
        }
        return destinations
    }

    /// Writes `task_launch_failed` for each attempt of the element, with the worker's own words, and sends the
    /// segment to S3: the controller records why, instead of Batch's bare FAILED.
    func recordLaunchFailure(of tasks: [TaskFile], reason: String, segment: String, remote: S3Location) throws {
        try FileManager.default.createDirectory(atPath: (segment as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let writer = try SegmentWriter(path: segment)
        let factory = EventFactory()
        try writer.append(
            tasks.map { factory.make(task: $0.task, attempt: $0.attempt, .taskLaunchFailed(TaskLaunchFailed(reason: reason, backend: $0.backend))) })
        try writer.flush()
        try writer.seal()
        try persistently { try s3.upload(file: segment, to: remote) }
    }

    /// The task's invocation, with every `s3://` value replaced by a local path: an input (a file, or a folder; of a
    /// BIDS dataset only the top-level files and the task's `sub-<participant_label>` folders) is fetched into the
    /// scratch folder; a destination (an input the descriptor's output paths are made from, such as a BIDS app's
    /// `output_dir`) starts empty and is sent back to S3 when the task ends. Returns the destinations.
    func localizeInvocation(
        _ data: Data, of task: String, descriptor d: Descriptor, into layout: ExperimentLayout
    ) throws -> [(local: String, remote: S3Location)] {
        guard case .object(let invocation) = try JSONParser.parse([UInt8](data)) else {
            throw BackendError("the invocation of task \(task) must be a JSON object", code: "task_file.invalid")
        }
        let destinations = S3Use.destinations(of: d)
        let participants = Self.labels(invocation["participant_label"]).map { Set($0) }
        var local = JSONObject()
        var sendBack: [(local: String, remote: S3Location)] = []
        for (id, value) in invocation {
            if destinations.contains(id), let l = value.stringValue.flatMap(S3Location.init) {
                let path = "\(scratch)/outputs/\(task)/\(id)"
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                sendBack.append((path, l))
                local[id] = .string(path)
            } else {
                local[id] = try localized(value, participants: participants)
            }
        }
        try Data((JSONWriter(indent: 2).string(.object(local)) + "\n").utf8).write(
            to: URL(fileURLWithPath: layout.invocation(task)), options: .atomic)
        return sendBack
    }

    /// A task's invocation: its bytes in the submission's bundle, else (a map without ranges) `tasks/<task>.json`.
    func invocation(of task: String, root: S3Location, bundle: S3Location?, range: ClosedRange<Int>?) throws -> Data {
        if let bundle, let range { return try s3.getRange(bundle, Int64(range.lowerBound)...Int64(range.upperBound)) }
        let name = ExperimentLayout.tasksFolder + "/" + ExperimentLayout.invocationName(task)
        return try s3.get(bucket: root.bucket, key: root.appending(name).key)
    }

    /// `participant_label` as BIDS apps take it (one string or a list, with or without `sub-`).
    static func labels(_ v: JSONValue?) -> [String]? {
        guard let v else { return nil }
        let all = v.arrayValue?.compactMap(\.stringValue) ?? v.stringValue.map { $0.split(separator: " ").map(String.init) } ?? []
        return all.isEmpty ? nil : all.map { $0.hasPrefix("sub-") ? String($0.dropFirst(4)) : $0 }
    }

    func localized(_ v: JSONValue, participants: Set<String>?) throws -> JSONValue {
        switch v {
        case .string(let s):
            guard let l = S3Location(s) else { return v }
            return .string(try fetch(l, participants: participants))
        case .array(let a): return .array(try a.map { try localized($0, participants: participants) })
        default: return v
        }
    }

    /// Fetches an object, or the objects under a prefix, into `inputs/<bucket>/<key>`; returns the local path. Of a
    /// BIDS dataset (a prefix holding `dataset_description.json`), only what `participants` need is fetched.
    func fetch(_ l: S3Location, participants: Set<String>?) throws -> String {
        let path = "\(scratch)/inputs/\(l.bucket)/\(l.key)"
        if !l.key.hasSuffix("/"), try s3.head(bucket: l.bucket, key: l.key) != nil {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: path) { try s3.download(l, to: path) }
            return path
        }
        var objects = try s3.list(bucket: l.bucket, prefix: l.folderPrefix).filter { !$0.key.split(separator: "/").contains("..") }
        guard !objects.isEmpty else { throw BackendError("input \(l) names no object and no folder on S3", code: "aws.input_missing") }
        let relative = { (o: S3Object) in String(o.key.dropFirst(l.folderPrefix.count)) }
        if let participants, objects.contains(where: { relative($0) == "dataset_description.json" }) {
            objects = objects.filter { o in
                let r = relative(o)
                guard let slash = r.firstIndex(of: "/") else { return true }
                let top = r[..<slash]
                return !top.hasPrefix("sub-") || participants.contains(String(top.dropFirst(4)))
            }
        }
        try S3Client.parallel(objects.count, width: 8) { [s3, scratch, objects] i in
            let target = "\(scratch)/inputs/\(l.bucket)/\(objects[i].key)"
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: target) { try s3.download(S3Location(bucket: l.bucket, key: objects[i].key), to: target) }
        }
        return path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// Runs `body` until it succeeds, for at most `patience` seconds (S3 away for a while); usage errors at once.
    func persistently(_ body: () throws -> Void) throws {
        try PeriodicUpload.persistently(for: patience, body)
    }

    /// The attempt's stdout and stderr, and every file its task wrote in its working folder.
    func uploadResults(of t: TaskFile, layout: ExperimentLayout, root: S3Location) throws {
        for path in [layout.stdout(t.task, t.attempt), layout.stderr(t.task, t.attempt)] where FileManager.default.fileExists(atPath: path) {
            try s3.upload(file: path, to: root.appending("streams/" + (path as NSString).lastPathComponent))
        }
        guard let workdir = t.workdir, workdir.hasPrefix(scratch + "/work/"), let files = FileManager.default.enumerator(atPath: workdir) else {
            return
        }
        for case let relative as String in files {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: workdir + "/" + relative, isDirectory: &isFolder), !isFolder.boolValue else { continue }
            try s3.upload(file: workdir + "/" + relative, to: root.appending("outputs/\(t.task)/\(relative)"))
        }
    }
}

/// Uploads a growing file: its first change at once (the controller learns promptly that the attempt started), then
/// at most every `interval` seconds while it changes, and once more when stopped.
final class PeriodicUpload: @unchecked Sendable {
    let s3: S3Client
    let file: String
    let remote: S3Location
    let interval: Double
    private let done = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private var uploadedSize: Int64 = -1
    private var uploadedAt = Date.distantPast

    let patience: Double

    init(s3: S3Client, file: String, to remote: S3Location, every interval: Double, patience: Double) {
        self.s3 = s3
        self.file = file
        self.remote = remote
        self.interval = interval
        self.patience = patience
    }

    /// Runs `body` until it succeeds, pausing 2 s between tries, for at most `seconds`; a usage error at once.
    static func persistently(for seconds: Double, _ body: () throws -> Void) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            do { return try body() } catch let e as AWSError where !e.isUsageError && Date() < deadline {
                FileHandle.standardError.write(Data("clowdr: \(e.message); trying again\n".utf8))
                Thread.sleep(forTimeInterval: 2)
            }
        }
    }

    func start() {
        Thread.detachNewThread { [self] in
            while done.wait(timeout: .now() + min(0.5, interval)) == .timedOut {
                if Date().timeIntervalSince(uploadedAt) >= interval || uploadedSize <= 0 { try? uploadIfChanged() }
            }
            finished.signal()
        }
    }

    /// Stops the periodic uploads and uploads the file's last state (retried by the client; an error is told).
    func stop() {
        done.signal()
        finished.wait()
        do { try Self.persistently(for: patience) { try uploadIfChanged() } } catch {
            FileHandle.standardError.write(Data("clowdr: cannot upload \(file) to \(remote): \(error)\n".utf8))
        }
    }

    func uploadIfChanged() throws {
        guard let size = ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.int64Value, size != uploadedSize else {
            return
        }
        try s3.upload(file: file, to: remote)
        uploadedSize = size
        uploadedAt = Date()
    }
}
