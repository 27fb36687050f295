import AWS
import ArgumentParser
import Backends
import EventLog
import Foundation
import Runner

/// `clowdr task TASKFILE... [--events FILE]`: the worker side of cluster and cloud backends.
struct TaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task",
        abstract: "Run planned tasks in this process, writing their events to a segment file (for worker nodes).",
        discussion: """
            Each TASKFILE is a JSON object {"experiment": DIR, "task": ID, "attempt": N} (optionally "backend", \
            "workdir", "sample_interval", "container_runtime", "volumes"). The tasks run one after the other; their \
            events go to --events (default: DIR/segments/<host>-<pid>.ndjson), which `clowdr ingest DIR FILE` adds \
            to the experiment's log. Exits 0 when every task succeeded, 1 otherwise, 2 on a usage error, 3 when clowdr itself failed.
            """)

    @Argument(help: "Task files.")
    var taskFiles: [String] = []

    @Option(help: "The segment file to write the events to (with an s3:// map: the S3 folder of the segments).")
    var events: String?

    @Option(
        help: """
            A job array's map: run the attempts of element SLURM_ARRAY_TASK_ID (or AWS_BATCH_JOB_ARRAY_INDEX): its \
            line of task files, or, in a map whose first line holds what every attempt shares, its attempts (TASK:ATTEMPT \
            items, or a JSON array of them with their invocations). \
            An s3:// map (AWS Batch) brings its inputs from S3 and sends its events, streams and outputs back there.
            """)
    var array: String?

    @Option(
        help: ArgumentHelp(
            "A file to remove once every task succeeded: the scheduler's output of this job, which then holds nothing to keep.",
            discussion: "The events are the record; a job that failed keeps its output (the scheduler says there why it stopped it).",
            visibility: .hidden))
    var removeOnSuccess: String?

    func validate() throws {
        if taskFiles.isEmpty && array == nil { throw ValidationError("give at least one task file, or --array MAP") }
        for f in taskFiles where !FileManager.default.fileExists(atPath: f) { throw ValidationError("task file '\(f)' does not exist") }
    }

    func run() throws {
        let (cancel, sources) = cancellationOnSignals()
        defer { for s in sources { s.cancel() } }
        if let array, let map = S3Location(array) {
            // A child of an AWS Batch array job: everything comes from S3 and goes back there.
            guard let events else { throw ValidationError("an s3:// --array map needs --events s3://BUCKET/.../segments/") }
            let segments = try S3Location.parse(events, what: "--events")
            let env = ProcessInfo.processInfo.environment
            let element = AWSBatchWorker.element(env)
            HostInfo.instance = InstanceMetadata.read(env).map { ($0.instanceType, $0.spot) }
            let worker = AWSBatchWorker(configuration: try AWSConfiguration.resolve())
            let results = try worker.run(map: map, segments: segments, index: element.index, segmentName: element.name, cancel: cancel)
            return try report(results, expected: results.count)
        }
        var tasks = try taskFiles.map(TaskFile.init(path:))
        if let array {
            let env = ProcessInfo.processInfo.environment
            guard let index = (env["SLURM_ARRAY_TASK_ID"] ?? env["AWS_BATCH_JOB_ARRAY_INDEX"]).flatMap(Int.init) else {
                throw ValidationError(
                    "--array needs SLURM_ARRAY_TASK_ID or AWS_BATCH_JOB_ARRAY_INDEX in the environment (it runs inside a job array)")
            }
            tasks += try Worker.arrayElement(map: array, index: index)
        }
        try report(try Worker.run(tasks: tasks, segment: events, cancel: cancel), expected: tasks.count)
    }

    /// A line per attempt; exit 1 unless every attempt ran and succeeded.
    func report(_ results: [(TaskFile, TaskState)], expected: Int) throws {
        for (t, state) in results { print("task \(t.task) attempt \(t.attempt): \(state.rawValue)") }
        if results.count < expected || !results.allSatisfy({ $0.1 == .succeeded }) { throw ExitCode(1) }
        if let removeOnSuccess { unlink(removeOnSuccess) }
    }
}
