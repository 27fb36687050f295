import Backends
import Boutiques
import EventLog
import Foundation
import JSON
import Query
import Runner
import SQLite

/// A synthetic experiment of N tasks with S samples each, then `query --top ram -n 10` (in-process and through the
/// built `clowdr`), beside a naive GROUP BY over the samples through the sqlite3 shell, in the same run.
func queryBenchmark() throws {
    let n = Int(argument("--tasks", default: "100000"))!
    let perTask = Int(argument("--samples", default: "50"))!
    let dir = argument("--dir", default: NSTemporaryDirectory() + "clowdr-querybench-\(getpid())")
    try? FileManager.default.removeItem(atPath: dir)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { if argument("--keep", default: "no") == "no" { try? FileManager.default.removeItem(atPath: dir) } }
    let factory = EventFactory(clock: SteppingClock(stepMicroseconds: 1000), ids: SequentialIDSource())
    let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
    var rng = SplitMix64(seed: 7)
    let t0 = DispatchTime.now().uptimeNanoseconds
    var batch: [Event] = []
    for t in 0..<n {
        let task = String(t)
        batch.append(
            factory.make(
                task: task,
                .taskPlanned(
                    TaskPlanned(
                        invocation: ["participant_label": [.string(String(format: "%06d", t))]], commandLine: "app \(t)",
                        labels: ["participant": String(format: "%06d", t)]))))
        batch.append(factory.make(task: task, attempt: 1, .taskSubmitted(TaskSubmitted(backend: "local"))))
        batch.append(factory.make(task: task, attempt: 1, .taskStarted(TaskStarted(host: "vm", pid: 1000))))
        var peak: Int64 = 0
        for k in 0..<perTask {
            let rss = Int64(100 << 20) + Int64(rng.next() % (400 << 20))
            peak = max(peak, rss)
            batch.append(
                factory.make(
                    task: task, attempt: 1,
                    .sample(
                        Sample(
                            cpuUser: Double(k), cpuSystem: 0.1, rss: rss, vms: rss * 3, readBytes: Int64(k) << 12, writeBytes: 0, processes: 2,
                            threads: 4))))
        }
        batch.append(
            factory.make(
                task: task, attempt: 1,
                .taskExited(TaskExited(exitCode: t % 50 == 0 ? 1 : 0, wallTime: Double(perTask), cpuUser: Double(perTask), peakRSS: peak))))
        if batch.count >= 20_000 {
            try log.append(batch)
            batch.removeAll(keepingCapacity: true)
        }
    }
    try log.append(batch)
    let built = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    let events = try log.count()
    print("query benchmark: \(n) tasks x \(perTask) samples = \(events) events (written in \(String(format: "%.1f", built)) s)")

    func best(_ times: Int, _ body: () throws -> Void) rethrows -> Double {
        var b = Double.infinity
        for _ in 0..<times {
            let s = DispatchTime.now().uptimeNanoseconds
            try body()
            b = min(b, Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6)
        }
        return b
    }
    var top: ResultTable?
    let inProcess = try best(5) { top = try ExperimentQuery(path: dir + "/clowdr.db").top(.ram, n: 10, allAttempts: false) }
    print("  query --top ram -n 10, in process (open + query): \(String(format: "%.1f", inProcess)) ms  [goal < 50 ms]")
    let clowdr = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/clowdr"
    if FileManager.default.isExecutableFile(atPath: clowdr) {
        // Ten runs in one shell loop, so the launcher's own cost is not counted.
        let cli =
            try best(3) {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/sh")
                p.arguments = [
                    "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do '\(clowdr)' query --top ram -n 10 --raw --format tsv '\(dir)' >/dev/null; done",
                ]
                try p.run()
                p.waitUntilExit()
            } / 10
        print("  clowdr query --top ram -n 10 (the whole command, process start included): \(String(format: "%.1f", cli)) ms")
    }
    let naive = try best(1) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = [
            dir + "/clowdr.db",
            "SELECT task, max(json_extract(payload, '$.rss')) AS m FROM events WHERE type = 'sample' GROUP BY task ORDER BY m DESC LIMIT 10",
        ]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
    }
    print("  naive GROUP BY over the samples (sqlite3 shell): \(String(format: "%.0f", naive)) ms = \(String(format: "%.0f", naive / inProcess))x")
    if let first = top?.rows.first { print("  top task: \(first[0]) with \(first[5]) bytes") }
    if FileManager.default.isExecutableFile(atPath: clowdr), FileManager.default.isExecutableFile(atPath: "/usr/bin/time") {
        for flag in ["", "--samples"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/time")
            p.arguments = ["-f", "%e %M", clowdr, "export", "json", dir, "-o", dir + "/export.json"] + (flag.isEmpty ? [] : [flag])
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            let fields =
                String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").last?.split(separator: " ")
                ?? []
            let size = ((try? FileManager.default.attributesOfItem(atPath: dir + "/export.json"))?[.size] as? NSNumber)?.int64Value ?? 0
            if fields.count == 2 {
                print(
                    "  clowdr export json \(flag): \(fields[0]) s, peak RSS \((Int(fields[1]) ?? 0) / 1024) MiB, \(size >> 20) MiB written  [goal: memory < 200 MB]"
                )
            }
        }
        let prov = try best(1) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: clowdr)
            p.arguments = ["export", "prov", dir, "-o", dir + "/export.prov.json"]
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
        }
        print(
            "  clowdr export prov of \(n) tasks: \(String(format: "%.2f", prov / 1000)) s = "
                + "\(String(format: "%.2f", prov / 1000 * 10_000 / Double(n))) s per 10,000 tasks  [goal: 10,000 tasks < 2 s]")
    }
}
