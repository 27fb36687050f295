import ArgumentParser
import EventLog
import Foundation
import Runner

/// `clowdr task TASKFILE... [--events FILE]`: the worker side of cluster and cloud backends.
struct Task: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run planned tasks in this process, writing their events to a segment file (for worker nodes).",
        discussion: """
            Each TASKFILE is a JSON object {"experiment": DIR, "task": ID, "attempt": N} (optionally "backend", \
            "workdir", "sample_interval", "container_runtime", "volumes"). The tasks run one after the other; their \
            events go to --events (default: DIR/segments/<host>-<pid>.ndjson), which `clowdr ingest DIR FILE` adds \
            to the experiment's log. Exits 0 when every task succeeded, 1 otherwise, 2 on a usage error.
            """)

    @Argument(help: "Task files.")
    var taskFiles: [String]

    @Option(help: "The segment file to write the events to.")
    var events: String?

    func validate() throws {
        if taskFiles.isEmpty { throw ValidationError("give at least one task file") }
        for f in taskFiles where !FileManager.default.fileExists(atPath: f) { throw ValidationError("task file '\(f)' does not exist") }
    }

    func run() throws {
        let (cancel, sources) = cancellationOnSignals()
        defer { for s in sources { s.cancel() } }
        let results: [(TaskFile, TaskStatus)]
        do { results = try Worker.run(taskFiles: taskFiles, segment: events, cancel: cancel) } catch let e as PlanError {
            throw CLIError.usage(e.message)
        }
        for (t, state) in results { print("task \(t.task) attempt \(t.attempt): \(state.rawValue)") }
        if results.count < taskFiles.count || !results.allSatisfy({ $0.1 == .succeeded }) { throw ExitCode(1) }
    }
}
