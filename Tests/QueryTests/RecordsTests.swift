import EventLog
import Foundation
import JSON
import Query
import SQLite
import TestSupport
import Testing

/// A small experiment, made in-process with an injected clock and ids: 12 tasks ("0" to "11", so that number order
/// and text order differ), one failing then rerun and succeeding, one failing for good, one whose scheduler word
/// comes after its worker's exit, one never started; samples, outputs and labels.
struct SmallExperiment {
    let directory: String
    var log: String { directory + "/clowdr.db" }

    init() throws {
        directory = try TestSupport.temporaryDirectory("query")
        let log = try EventLog(path: directory + "/clowdr.db", mode: .create)
        let f = EventFactory(clock: SteppingClock(stepMicroseconds: 1000), ids: SequentialIDSource())
        var e: [Event] = [
            f.make(
                .experimentCreated(
                    ExperimentCreated(
                        experiment: "E", descriptorSHA256: "00", toolName: "tool", invocations: ["i.json"], backend: "local", user: "u", host: "h",
                        clowdrVersion: "0", os: "Linux")))
        ]
        for t in 0..<12 {
            e.append(
                f.make(
                    task: String(t),
                    .taskPlanned(
                        TaskPlanned(
                            invocation: ["n": .number(.init(t)), "site": .string(t < 6 ? "A" : "B")], commandLine: "tool \(t)",
                            labels: ["participant": String(format: "%02d", t)]))))
        }
        func attempt(_ t: Int, _ a: Int, code: Int32, rss: Int64, wall: Double = 1) {
            let task = String(t)
            e.append(f.make(task: task, attempt: a, .taskSubmitted(TaskSubmitted(backend: "local", nativeID: "\(t).\(a)"))))
            e.append(f.make(task: task, attempt: a, .taskStarted(TaskStarted(host: "node", pid: Int32(100 + t)))))
            for k in 1...3 {
                e.append(
                    f.make(
                        task: task, attempt: a,
                        .sample(
                            Sample(
                                cpuUser: 0.25 * Double(k), cpuSystem: 0, rss: rss * Int64(k) / 3, vms: 0, readBytes: 0, writeBytes: 0, processes: 1,
                                threads: 1))))
            }
            let outputs = code == 0 ? [OutputFile(id: "out", path: "/d/out_\(t).txt", size: 10, sha256: "ab")] : []
            e.append(
                f.make(
                    task: task, attempt: a,
                    .taskExited(TaskExited(exitCode: code, wallTime: wall, cpuUser: 0.75, peakRSS: rss, outputs: outputs))))
        }
        for t in 0..<11 where t != 7 { attempt(t, 1, code: t == 3 || t == 5 ? 1 : 0, rss: Int64(t + 1) << 20) }
        attempt(3, 2, code: 0, rss: 50 << 20, wall: 30)  // task 3: rerun, succeeds, an outlier in RAM and time
        attempt(7, 1, code: 0, rss: 8 << 20)
        // Task 7: the scheduler's word comes after the worker's exit (the attempt's last event is not its exit).
        e.append(
            f.make(
                task: "7", attempt: 1,
                .taskEnded(TaskEnded(backend: "slurm", nativeID: "7.1", state: "NODE_FAIL", failureClass: .nodeFail, reason: "the node failed"))))
        try log.append(e)
        try FileManager.default.createDirectory(atPath: ExperimentLayout(directory: directory).tasks, withIntermediateDirectories: true)
        try "first\n\nsecond\r\nthird\n".write(toFile: ExperimentLayout(directory: directory).stderr("5", 1), atomically: true, encoding: .utf8)
    }
}

/// The read model: the views' rows decoded into records, in-process, on a log made here.
@Suite("Read model: records of the views")
struct RecordsTests {
    let experiment: SmallExperiment

    init() throws { experiment = try SmallExperiment() }

    func read<R>(_ body: (ExperimentRecords) throws -> R) throws -> R { try ExperimentRecords.read(path: experiment.log, body) }

    @Test("tasks come in number order (0, 1, 2, ..., 10, 11), with their states, attempts and labels")
    func tasks() throws {
        let rows = try read { r in
            var rows: [TaskRow] = []
            try r.forEachTask { rows.append($0) }
            return rows
        }
        #expect(rows.map(\.task) == (0..<12).map(String.init))
        #expect(rows[3].state == .succeeded && rows[3].attempts == 2)
        #expect(rows[5].state == .failed && rows[11].state == .planned && rows[11].attempts == 0)
        #expect(rows[4].labels == #"{"participant":"04"}"#)
    }

    @Test("attempts decode as the projection holds them, in task order or in the order they were submitted")
    func attempts() throws {
        let projected = try EventLog(path: experiment.log, mode: .readOnly).projectedTasks()
        let (byTask, byTime) = try read { r in
            var byTask: [(String, AttemptRecord)] = []
            var byTime: [(String, AttemptRecord)] = []
            try r.forEachAttempt(.task) { byTask.append(($0, $1)) }
            try r.forEachAttempt(.time) { byTime.append(($0, $1)) }
            return (byTask, byTime)
        }
        #expect(byTask.count == 12)
        for (task, a) in byTask { #expect(projected[task]?.attempts.first { $0.attempt == a.attempt } == a) }
        #expect(byTask.map(\.0).prefix(5) == ["0", "1", "2", "3", "3"])
        #expect(byTime.last?.0 == "7", "task 7 was submitted last")
        #expect(try read { try $0.attempts(of: "3") }.map(\.state) == [.failed, .succeeded])
    }

    @Test("each task's plan; each exit, and the latest attempts' exits found by seq or, after a later event, by a scan")
    func plansAndExits() throws {
        let plan = try #require(try read { try $0.plan(of: "10") })
        #expect(plan.commandLine == "tool 10" && plan.invocation == #"{"n":10,"site":"B"}"# && plan.labels == #"{"participant":"10"}"#)
        #expect(try read { try $0.plan(of: "nope") } == nil)
        let (exits, latest, unresolved) = try read { r in
            var exits: [ExitRow] = []
            var latest: [String: String?] = [:]
            try r.forEachExit { exits.append($0) }
            let unresolved = try r.latestExits { latest[$0.task] = $0.outputs }
            return (exits, latest, unresolved)
        }
        #expect(exits.count == 12 && exits.map(\.seq) == exits.map(\.seq).sorted())
        #expect(unresolved == 1, "task 7's last event is the scheduler's")
        #expect(latest.count == 10 && latest["7"] == nil)
        #expect(latest["3"] == #"[{"id":"out","path":"/d/out_3.txt","sha256":"ab","size":10}]"#)
    }

    @Test("samples: all in log order, one task's, chosen attempts', or by task for a streaming export")
    func samples() throws {
        try read { r in
            var all: [SampleRow] = []
            try r.forEachSample(.all) { all.append($0) }
            #expect(all.count == 36 && all.map(\.seq) == all.map(\.seq).sorted())
            var three: [SampleRow] = []
            try r.forEachSample(.task("3")) { three.append($0) }
            #expect(three.map(\.attempt) == [1, 1, 1, 2, 2, 2])
            var chosen: [SampleRow] = []
            try r.forEachSample(.attempts([("3", 2), ("10", 1)])) { chosen.append($0) }
            #expect(chosen.count == 6 && Set(chosen.map(\.task)) == ["3", "10"] && chosen.allSatisfy { $0.task != "3" || $0.attempt == 2 })
            var byTask: [String] = []
            try r.forEachSample(.byTask) { byTask.append($0.task) }
            #expect(byTask.first == "0" && byTask.last == "10" && byTask.firstIndex(of: "10")! > byTask.lastIndex(of: "9")!)
            #expect(three.last?.cpuTime == 0.75 && three.last?.rss == 50 << 20)
        }
    }

    @Test("the experiment and the last event")
    func experimentRow() throws {
        let (created, last) = try read { r in (try r.experiment(), try r.lastEvent()) }
        #expect(created?.seq == 1 && created?.payload.contains(#""tool_name":"tool""#) == true)
        #expect(last.seq == 86 && last.time != nil, "1 + 12 plans + 12 attempts of 6 events + 1 scheduler word")
    }
}

@Suite("docs/query.md and the views")
struct QueryDocsTests {
    @Test("docs/query.md documents every view --sql can read, with its columns in order")
    func everyViewDocumented() throws {
        let dir = try TestSupport.temporaryDirectory("query-docs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        let doc = try String(contentsOfFile: TestSupport.repositoryRoot + "/docs/query.md", encoding: .utf8)
        try log.withConnection { db in
            try QueryViews.install(on: db)
            let views = try db.rows("SELECT name FROM sqlite_temp_master WHERE type = 'view' ORDER BY name").compactMap { $0[0].string }
            #expect(views.count >= 9, "\(views)")
            for view in views + ["events"] {
                let columns = try db.rows("SELECT name FROM pragma_table_info(?)", [.text(view)]).compactMap { $0[0].string }
                let documented = "`\(view)(\(columns.joined(separator: ", ")))`"
                let flat = doc.replacingOccurrences(of: "\n  ", with: " ")
                #expect(flat.contains(documented), "docs/query.md does not document \(documented)")
            }
        }
    }
}
