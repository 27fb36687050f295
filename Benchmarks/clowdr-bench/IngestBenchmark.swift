import EventLog
import Foundation
import JSON

/// `clowdr-bench ingest [--segments N] [--events-per-segment E] [--dir DIR] [--keep] [--pause]`: what a cluster run's controller and its
/// readers do with the workers' segments. N segments of E events each (a task's start, samples and exit, as
/// `clowdr task` writes them) are ingested into an experiment's log, beside the event log's own append rate for the
/// same events in the same run; then `clowdr status` on that experiment when nothing is new.
func ingestBenchmark() throws {
    let segments = Int(argument("--segments", default: "100000"))!
    let perSegment = Int(argument("--events-per-segment", default: "50"))!
    let dir = argument("--dir", default: NSTemporaryDirectory() + "clowdr-bench-ingest-\(getpid())")
    try? FileManager.default.removeItem(atPath: dir)
    let experiment = dir + "/prov/2026-01-01_00-00-00-BENCHING"
    // The segments are written once to a folder of their own and hard-linked into the experiment's before each
    // ingest round: an ingest removes every sealed segment it has read to its end.
    let written = dir + "/segments-written"
    try FileManager.default.createDirectory(atPath: written, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: experiment, withIntermediateDirectories: true)
    let keep = CommandLine.arguments.contains("--keep")  // for profiling what follows
    defer { if !keep { try? FileManager.default.removeItem(atPath: dir) } }
    let total = segments * perSegment
    print("ingest benchmark: \(segments) segments of \(perSegment) events (\(total) events)")

    // The segments, and the same events as batches for append. The experiment, its plans and the controller's
    // submissions (one array: element s runs task s) are in the log before (ingest checks every line against them).
    let factory = EventFactory()
    var setup = [
        factory.make(
            .experimentCreated(
                ExperimentCreated(
                    experiment: "bench", descriptorSHA256: String(repeating: "0", count: 64), invocations: [], backend: "slurm", user: "u",
                    host: "h", clowdrVersion: "0", os: "Linux")))
    ]
    for s in 0..<segments { setup.append(factory.make(task: "\(s)", .taskPlanned(TaskPlanned(invocation: [:], commandLine: "t \(s)")))) }
    for s in 0..<segments {
        setup.append(factory.make(task: "\(s)", attempt: 1, .taskSubmitted(TaskSubmitted(backend: "slurm", nativeID: "1_\(s)"))))
    }
    var batches: [[Event]] = []
    var batch: [Event] = []
    var bytes = 0
    let writeTime = try seconds {
        for s in 0..<segments {
            let task = "\(s)"
            var events = [factory.make(task: task, attempt: 1, .taskStarted(TaskStarted(host: "node\(s % 64)", pid: Int32(1000 + s % 30000))))]
            for k in 0..<max(0, perSegment - 2) {
                events.append(
                    factory.make(
                        task: task, attempt: 1,
                        .sample(
                            Sample(
                                cpuUser: Double(k) * 0.9, cpuSystem: 0.02 * Double(k), rss: Int64(200_000_000 + k * 4096), vms: 900_000_000,
                                readBytes: Int64(k) << 16, writeBytes: Int64(k) << 12, processes: 3, threads: 9))))
            }
            events.append(
                factory.make(task: task, attempt: 1, .taskExited(TaskExited(exitCode: s % 17 == 0 ? 1 : 0, wallTime: 61.5, peakRSS: 210_000_000))))
            var text = ""
            for e in events { text += try e.raw().ndjsonLine + "\n" }
            bytes += text.utf8.count
            let path = written + "/slurm-1_\(s).ndjson"
            try text.write(toFile: path, atomically: false, encoding: .utf8)
            chmod(path, 0o444)  // sealed, as `clowdr task` leaves its segment when it ends
            batch += events
            if batch.count >= 10_000 {
                batches.append(batch)
                batch = []
            }
        }
        if !batch.isEmpty { batches.append(batch) }
    }
    print("  wrote \(segments) segments, \(bytes >> 20) MiB, in \(String(format: "%.1f", writeTime)) s")

    // The reference: the same events appended in batches of 10,000, into a log of their own; and the ingest, into
    // the experiment's log. `--rounds` of each, in turns (append first, then ingest first, ...), each into a new
    // log: this disk's speed moves from minute to minute, and each round's ratio is its own pair's.
    let rounds = max(1, Int(argument("--rounds", default: "3"))!)
    func fresh(_ path: String) throws -> EventLog {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let log = try EventLog(path: path, mode: .create)
        try log.append(setup)
        sync()
        return log
    }
    func appendRound() throws -> Double {
        let reference = try fresh(dir + "/append.db")
        return try seconds { for b in batches { try reference.append(b) } }
    }
    var log: EventLog!  // the last ingest's
    var rssBefore: Int64 = 0
    func linkSegments() throws {
        try? FileManager.default.removeItem(atPath: experiment + "/segments")
        try FileManager.default.createDirectory(atPath: experiment + "/segments", withIntermediateDirectories: false)
        for s in 0..<segments {
            let name = "/slurm-1_\(s).ndjson"
            guard link(written + name, experiment + "/segments" + name) == 0 else { fatalError("cannot link \(written + name): \(errno)") }
        }
    }
    func ingestRound() throws -> Double {
        try linkSegments()
        log = try fresh(experiment + "/clowdr.db")
        if CommandLine.arguments.contains("--pause") {  // time to attach a profiler to the ingest alone
            print("  pid \(getpid()): ingest starts in 3 s")
            fflush(nil)
            sleep(3)
        }
        rssBefore = memory().rss
        var report = EventLog.IngestReport(inserted: 0, duplicates: 0, tornLine: nil)
        let time = try seconds { report = try log.ingestNewSegments(in: experiment + "/segments") }
        try log.checkpoint()
        precondition(report.inserted == total && report.refused.isEmpty, "ingested \(report.inserted) of \(total), \(report.refused.count) refused")
        return time
    }
    var pairs: [(append: Double, ingest: Double)] = []
    for round in 0..<rounds {
        if round % 2 == 0 {
            let a = try appendRound()
            pairs.append((a, try ingestRound()))
        } else {
            let i = try ingestRound()
            pairs.append((try appendRound(), i))
        }
    }
    batches = []
    setup = []
    let ratios = pairs.map { $0.append / $0.ingest }
    let middle = pairs.indices.sorted { ratios[$0] < ratios[$1] }[rounds / 2]
    let (appendTime, ingestTime) = pairs[middle]
    let appendRate = Double(total) / appendTime
    let ingestRate = Double(total) / ingestTime
    let peak = memory().hwm
    func f(_ x: Double) -> String { String(format: "%.0f", x) }
    print("  EventLog.append (the reference):   \(f(appendRate)) events/s  (\(String(format: "%.2f", appendTime)) s)")
    print(
        "  ingest of every segment:           \(f(ingestRate)) events/s  (\(String(format: "%.2f", ingestTime)) s)  ratio to append \(String(format: "%.2f", ingestRate / appendRate)), the median of \(rounds) rounds (\(ratios.map { String(format: "%.2f", $0) }.joined(separator: " ")))  [goal >= 0.6, every line checked]"
    )
    print("  memory: \(rssBefore >> 20) MB before ingest, peak \(peak >> 20) MB (the benchmark held the \(total) events for append before)")

    // Nothing new: what every reading command does first, in-process and through the built clowdr. The ingest
    // removed the segments it read to their sealed end; they are put back (as a user who keeps them would) so that
    // the look has every file to see. The folder is left as a finished run leaves it (its last file written a while
    // ago); the first reading command remembers it.
    try linkSegments()
    var past = [timeval(tv_sec: time(nil) - 60, tv_usec: 0), timeval(tv_sec: time(nil) - 60, tv_usec: 0)]
    utimes(experiment + "/segments", &past)
    /// The best of `rounds` looks, each finding nothing pending.
    func bestLook(_ rounds: Int) throws -> Double {
        var best = Double.infinity
        for _ in 0..<rounds {
            var pending: [String] = []
            best = min(best, try seconds { pending = try log.segmentsWithNewBytes(in: experiment + "/segments") })
            precondition(pending.isEmpty, "\(pending.count) segments still pending")
        }
        return best
    }
    let full = try bestLook(3)
    print("  looking for new bytes in \(segments) segments, each file (nothing new): \(String(format: "%.1f", full * 1000)) ms")
    _ = try log.ingestNewSegments(in: experiment + "/segments")  // remembers the folder
    let look = try bestLook(5)
    print("  the same look once the folder is remembered (sealed segments not statted): \(String(format: "%.1f", look * 1000)) ms")
    let clowdr = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/clowdr"
    var status = Double.infinity
    for _ in 0..<5 {
        status = min(
            status,
            try seconds {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: clowdr)
                p.arguments = ["status", experiment]
                p.standardOutput = FileHandle.nullDevice
                try p.run()
                p.waitUntilExit()
                precondition(p.terminationStatus == 0 || p.terminationStatus == 1, "clowdr status failed")
            })
    }
    print("  clowdr status on that experiment, nothing new: \(String(format: "%.0f", status * 1000)) ms  [goal < 100 ms]")
}
