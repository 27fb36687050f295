import ArgumentParser
import EventLog
import Foundation
import JSON

/// `clowdr-testkit append-worker`: a writer process for the event log's concurrency and kill -9 tests.
struct AppendWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append-worker",
        abstract: "Append a realistic mix of events in batches, printing \"ACK <id> ...\" once each batch is committed.",
        discussion: "Tasks are named wK-tJ for stream K. Prints DONE at the end. Each line is written unbuffered.")

    @Option(help: "The log to append to (created when missing).")
    var log = "clowdr.db"

    @Option(help: "This writer's stream number K (tasks wK-tJ).")
    var stream: UInt16 = 1

    @Option(help: "Events to append.")
    var events = 10_000

    @Option(help: "Events per append.")
    var batch = 100

    func validate() throws {
        if events < 1 || batch < 1 { throw ValidationError("--events and --batch must be at least 1") }
    }

    func run() throws {
        let log = try EventLog(path: log, mode: .create)
        let all = Self.workerEvents(stream: stream, count: events, factory: EventFactory())
        var i = 0
        while i < all.count {
            let slice = Array(all[i..<min(i + batch, all.count)])
            try log.append(slice)
            emit("ACK " + slice.map(\.id.text).joined(separator: " "))
            i += batch
        }
        emit("DONE")
    }

    /// The events worker K appends: per task, planned, submitted, started, 7 samples, exited (11 events).
    static func workerEvents(stream: UInt16, count: Int, factory: EventFactory) -> [Event] {
        var out: [Event] = []
        out.reserveCapacity(count)
        var t = 0
        while out.count < count {
            let task = "w\(stream)-t\(t)"
            out.append(factory.make(task: task, .taskPlanned(TaskPlanned(invocation: ["n": .number(.init(t))], commandLine: "work \(t)"))))
            out.append(factory.make(task: task, attempt: 1, .taskSubmitted(TaskSubmitted(backend: "local", nativeID: "\(t)"))))
            out.append(factory.make(task: task, attempt: 1, .taskStarted(TaskStarted(host: "vm", pid: Int32(1000 + t)))))
            for k in 0..<7 {
                out.append(
                    factory.make(
                        task: task, attempt: 1,
                        .sample(
                            Sample(
                                cpuUser: Double(k) * 0.1, cpuSystem: 0.01, rss: Int64(1_000_000 * (k + 1)), vms: 9_000_000, readBytes: 0,
                                writeBytes: 0,
                                processes: 1, threads: 1))))
            }
            out.append(factory.make(task: task, attempt: 1, .taskExited(TaskExited(exitCode: t % 5 == 0 ? 1 : 0, wallTime: 0.7, peakRSS: 7_000_000))))
            t += 1
        }
        return Array(out.prefix(count))
    }
}
