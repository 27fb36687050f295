import BackendTesting
import Backends
import EventLog
import Foundation
import SQLite
import TestSupport
import Testing

/// The Slurm backend on a real Slurm (slurm-wlm with slurmdbd on localhost, started by `make test` through
/// scripts/slurm/setup.sh). The controller asks the scheduler every 2 s here (CLOWDR_POLL_SECONDS).
@Suite(
    "clowdr on a real Slurm", .serialized,
    .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"),
    .enabled(
        if: (try? TestSupport.run("/usr/bin/env", ["scontrol", "ping"]))?.stdout.contains("UP") == true,
        "needs a Slurm cluster: make test starts one (scripts/slurm/setup.sh)"))
struct SlurmTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"
    static let environment = ["CLOWDR_POLL_SECONDS": "2"]

    /// A folder with a descriptor whose command line is `template` (one integer input K) and an invocation
    /// sweeping K over `values`.
    func project(_ template: String, _ values: [Int]) throws -> String {
        try behaviour.project(template, values)
    }

    func clowdr(_ arguments: [String]) throws -> TestSupport.Output {
        try TestSupport.run(clowdr, arguments, environment: Self.environment)
    }

    /// `clowdr run` of the project in `dir` on Slurm, in the background (for a test to act on while it runs).
    func startRun(_ dir: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: clowdr)
        p.arguments = ["run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--backend", "slurm", "--provdir", dir + "/prov"]
        p.environment = ProcessInfo.processInfo.environment.merging(Self.environment) { $1 }
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// task -> (state, native id, failure reason) of each task's latest attempt.
    func attempts(_ dir: String) throws -> [Int: (state: String, nativeID: String?, reason: String?, attempt: Int)] {
        let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!
        let db = try Connection(path: dir + "/prov/" + exp + "/clowdr.db", mode: .readOnly)
        var out: [Int: (String, String?, String?, Int)] = [:]
        for r in try db.rows("SELECT task, state, native_id, failure_reason, attempt FROM attempts ORDER BY attempt") {
            out[Int(r[0].string!)!] = (r[1].string!, r[2].string, r[3].string, Int(r[4].int64!))
        }
        return out
    }

    /// The behaviour every backend shares (`BackendBehaviour`), on Slurm: arrays throttled to 2, so that some
    /// elements wait while others run.
    var behaviour: BackendBehaviour {
        BackendBehaviour(backend: "slurm", arguments: ["--throttle", "2"], environment: Self.environment, nativeID: #"^[0-9]+_[0-9]+$"#)
    }

    @Test("shared: mixed exits as a job array, native ids A_T, then rerun failed") func mixed() throws { try behaviour.mixedExitsThenRerunFailed() }
    @Test("shared: SIGTERM cancels running and pending elements, then rerun incomplete") func cancel() throws {
        try behaviour.cancelThenRerunIncomplete()
    }
    @Test("shared: the controller killed with SIGKILL, then clowdr watch: nothing lost or doubled") func killed() throws {
        try behaviour.controllerKilledThenResumed()
    }

    @Test(
        "a task over its --mem is killed by the cluster, recorded as oom with a reason, its figures from its worker's samples and its end the scheduler's; rerun failed with mem:auto keeps its time limit and succeeds"
    )
    func memoryKill() throws {
        let dir = try project("python3 -c \\\"import time; b=b'x'*([K]<<20); time.sleep(3)\\\"", [150])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try clowdr([
            "run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--backend", "slurm", "--clusterargs", "mem:80M,time:10", "--provdir",
            dir + "/prov", "-V",
        ])
        #expect(run.status == 1, "\(run.stdout) \(run.stderr)")
        let first = try attempts(dir)[0]!
        #expect(first.state == "failed" && first.reason?.contains("killed for exceeding its 80.0 MiB memory request") == true, "\(first)")
        // -V says why, in the words status uses.
        #expect(run.stdout.contains("attempt 1: failed: signal 9 (task 0 (k=150): killed for exceeding its 80.0 MiB"), "\(run.stdout)")
        let events = try clowdr(["events", "--no-samples", dir + "/prov"]).stdout
        #expect(events.contains(#""failure_class":"oom""#) && events.contains(#""ended_at":""#), "\(events)")
        // One source for every figure: the worker's samples (the tool's own peak, below sacct's MaxRSS, which counts
        // the worker too), and the attempt's end as the scheduler says it, not when the controller learnt it.
        let figures = try rows(
            dir,
            """
            SELECT a.figures, a.peak_rss, (SELECT max(json_extract(payload, '$.rss')) FROM events WHERE type = 'sample'),
                   a.ended_at - a.started_at, a.wall_time, (SELECT time FROM events WHERE type = 'task_ended') - a.ended_at,
                   (SELECT json_extract(payload, '$.peak_rss') FROM events WHERE type = 'task_ended')
            FROM attempts a
            """)[0]
        let (source, peak, samplesPeak, span, wall, lag, maxRSS) = (
            figures[0].string, figures[1].int64 ?? 0, figures[2].int64 ?? -1, figures[3].int64 ?? 0, figures[4].double ?? 0, figures[5].int64 ?? 0,
            figures[6].int64 ?? 0
        )
        #expect(source == "samples", "\(figures)")
        #expect(peak == samplesPeak && peak < maxRSS, "peak from the samples, below sacct's MaxRSS: \(figures)")
        let spanSeconds = Double(span) / 1e6
        #expect(span < 6_000_000 && abs(wall - spanSeconds) < 0.001, "wall time from start to the scheduler's end: \(figures)")
        #expect(lag >= 0, "the end is never after the controller learnt it: \(figures)")
        let top = try clowdr(["query", "--top", "ram", "--format", "tsv", dir + "/prov"]).stdout
        #expect(top.hasPrefix("task\tattempt\tstate\texit\tduration\tpeak_ram\tcpu\tparams\tfigures\n") && top.contains("\tsamples\n"), "\(top)")
        let rerun = try clowdr(["rerun", "failed", dir + "/prov", "--backend", "slurm", "--clusterargs", "mem:auto"])
        #expect(rerun.status == 0 && rerun.stdout.contains("1 attempts: 1 succeeded"), "\(rerun.stdout) \(rerun.stderr)")
        // The rerun keeps what the first attempt asked (time:10), mem:auto over it, and says what it asks.
        #expect(rerun.stdout.contains("task 0 (k=150) asks mem:") && rerun.stdout.contains(",time:10"), "\(rerun.stdout)")
        let asked = try rows(dir, "SELECT json_extract(payload, '$.resources.time') FROM events WHERE type = 'task_submitted' ORDER BY seq")
        #expect(asked.map { $0[0].string } == ["10", "10"], "\(asked)")
        let second = try attempts(dir)[0]!
        #expect(second.attempt == 2 && second.state == "succeeded")
        // At least twice what it was given (its recorded peak, worker included, times the margin may ask for more).
        let memories = try clowdr(["events", "--no-samples", dir + "/prov"]).stdout.split(separator: "\n").filter {
            $0.contains(#""type":"task_submitted""#)
        }
        .compactMap { line -> Int? in
            guard let r = line.range(of: #""mem":"[0-9]+M""#, options: .regularExpression) else { return nil }
            return Int(line[r].dropFirst(7).dropLast(2))
        }
        #expect(memories.count == 2 && memories[0] == 80 && memories[1] >= 160, "\(memories)")
    }

    @Test(
        "mistakes: options sbatch refuses are refused before anything is written (exit 2); a scheduler clowdr does not run on is named alone; reruns (and the original -R form) keep what the task asked, KEY: removes a key"
    )
    func mistakes() throws {
        let dir = try project("exit [K]", [0, 3])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let typo = try clowdr([
            "run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--backend", "slurm", "--clusterargs", "mme:140M", "--provdir", dir + "/prov",
        ])
        #expect(
            typo.status == 2 && typo.stderr.contains("unrecognized option '--mme=140M'") && typo.stderr.contains("nothing was written"),
            "\(typo.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir + "/prov")) ?? []).isEmpty, "no experiment made")
        let sge = try clowdr(["cluster", dir + "/d.json", dir + "/i.json", dir + "/prov", "sge"])
        #expect(sge.status == 2 && sge.stderr.contains("'slurm'") && !sge.stderr.contains("'local'"), "\(sge.stderr)")
        let run = try clowdr([
            "run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--backend", "slurm", "--clusterargs", "time:5", "--provdir", dir + "/prov",
        ])
        #expect(run.status == 1, "\(run.stdout) \(run.stderr)")
        let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!
        let local = try clowdr([
            "local", dir + "/d.json", dir + "/i.json", dir + "/prov", "-R", "failed", "--run_id", exp, "-c", "slurm", "-a", "mem:50M",
        ])
        #expect(local.status == 1 && local.stdout.contains("task 1 (k=3) asks mem:50M,time:5"), "\(local.stdout) \(local.stderr)")
        let dropped = try clowdr(["rerun", "failed", dir + "/prov", "--clusterargs", "time:"])
        #expect(dropped.status == 1 && dropped.stdout.contains("task 1 (k=3) asks mem:50M\n"), "\(dropped.stdout) \(dropped.stderr)")
        let asked = try rows(
            dir, "SELECT task, attempt, json(json_extract(payload, '$.resources')) FROM events WHERE type = 'task_submitted' ORDER BY seq")
        #expect(
            asked.map { "\($0[0].string ?? "")/\($0[1].int64 ?? 0) \($0[2].string ?? "")" } == [
                #"0/1 {"time":"5"}"#, #"1/1 {"time":"5"}"#, #"1/2 {"mem":"50M","time":"5"}"#, #"1/3 {"mem":"50M"}"#,
            ], "\(asked)")
        try refusedAfterRecording()
    }

    /// sbatch takes the options in its test but refuses the submission itself (through a wrapper that passes only
    /// `--test-only` on to the real sbatch, as an account wrong for the partition would): exit 1, the experiment
    /// recorded, the command that continues named; that command then runs every task.
    func refusedAfterRecording() throws {
        let dir = try project("exit [K]", [0, 3])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let real = try #require(path.split(separator: ":").map { "\($0)/sbatch" }.first { FileManager.default.isExecutableFile(atPath: $0) })
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        try """
        #!/bin/sh
        case " $* " in *" --test-only "*) exec \(real) "$@" ;; esac
        echo "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified" >&2
        exit 1

        """.write(toFile: dir + "/bin/sbatch", atomically: true, encoding: .utf8)
        chmod(dir + "/bin/sbatch", 0o755)
        let refused = try TestSupport.run(
            clowdr,
            ["run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--backend", "slurm", "--clusterargs", "time:5", "--provdir", dir + "/prov"],
            environment: Self.environment.merging(["PATH": dir + "/bin:" + path]) { $1 })
        let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last ?? "none"
        #expect(refused.status == 3 && refused.stderr.contains("Invalid account"), "\(refused.stderr)")
        #expect(refused.stderr.contains("submit it with: clowdr rerun incomplete \(dir)/prov/\(exp) --backend slurm"), "\(refused.stderr)")
        let resumed = try clowdr(["rerun", "incomplete", dir + "/prov"])
        #expect(
            resumed.stdout.contains("2 attempts: 1 succeeded, 1 failed") && resumed.stdout.contains("2 tasks (0, 1) ask time:5"),
            "\(resumed.stdout) \(resumed.stderr)")
    }

    @Test(
        "a segment no worker of the run wrote, dropped in while a controller follows: its lines refused and kept aside, the run ends as its workers say; status warns, fsck counts"
    )
    func refusedSegment() throws {
        let dir = try project("sleep 2; exit [K]", [0, 3, 0])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try startRun(dir)
        var segments = ""
        try TestSupport.eventually("the experiment's segments folder", timeout: 30, poll: 0.1) {
            let exp = ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/prov")) ?? []).sorted().last
            segments = exp.map { dir + "/prov/" + $0 + "/segments" } ?? ""
            return !segments.isEmpty && FileManager.default.fileExists(atPath: segments)
        }
        let forged = try EventFactory().make(task: "1", attempt: 7, .taskExited(TaskExited(exitCode: 0, wallTime: 1, peakRSS: 1))).raw().ndjsonLine
        try "not JSON at all\n\(forged)\n".write(toFile: segments + "/forged.ndjson", atomically: true, encoding: .utf8)
        run.waitUntilExit()
        #expect(run.terminationStatus == 1, "task 1 exits 3")
        let status = try clowdr(["status", dir + "/prov"]).stdout
        #expect(status.contains("failed: task 1 (k=3) attempt 1: exit 3") && status.contains("2 succeeded"), "\(status)")
        #expect(status.contains("warning: 2 segment lines refused by ingest") && status.contains("segments/forged.ndjson:2"), "\(status)")
        let exp = (try FileManager.default.contentsOfDirectory(atPath: dir + "/prov")).sorted().last!
        #expect(FileManager.default.fileExists(atPath: dir + "/prov/" + exp + "/refused/forged.ndjson"))
        let fsck = try clowdr(["fsck", dir + "/prov"])
        #expect(fsck.status == 0 && fsck.stdout.contains("segment lines refused by ingest (kept aside, not in the record): 2"), "\(fsck.stdout)")
    }

    @Test("a task that can never start (its dependency failed) is cancelled and reported as unschedulable within a poll or two")
    func unschedulable() throws {
        let failed = try TestSupport.run(
            "/usr/bin/env", ["sbatch", "--parsable", "--job-name", "clowdr-test-dep", "--output", "/dev/null", "--wrap", "exit 1"])
        let dependency = try #require(failed.stdout.split(separator: ";").first.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) })
        try TestSupport.eventually("the dependency job \(dependency) to leave the queue", timeout: 20, poll: 0.2) {
            try !TestSupport.run("/usr/bin/env", ["squeue", "-h", "-j", dependency]).stdout.contains(dependency)
        }
        let dir = try project("exit [K]", [0, 0])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let started = Date()
        let run = try clowdr([
            "run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--backend", "slurm", "--clusterargs", "dependency:afterok:\(dependency)",
            "--provdir", dir + "/prov",
        ])
        let took = Date().timeIntervalSince(started)
        #expect(run.status == 1, "\(run.stdout) \(run.stderr)")
        #expect(took < 30, "reported after \(took) s, not waited on")
        let ended = try attempts(dir)
        for task in [0, 1] {
            #expect(ended[task]?.state == "failed", "\(String(describing: ended[task]))")
            #expect(
                ended[task]?.reason?.contains("can never start as asked (PENDING (DependencyNeverSatisfied") == true,
                "\(String(describing: ended[task]))")
        }
        #expect(try rows(dir, "SELECT count(*) FROM events WHERE type = 'task_ended' AND payload LIKE '%unschedulable%'").first?.first?.int64 == 2)
        let left = try TestSupport.run(
            "/usr/bin/env", ["squeue", "-h", "-n", "clowdr-" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!)])
        #expect(left.stdout.isEmpty, "its elements were cancelled: \(left.stdout)")
    }

    @Test("scancel of a running element: the attempt is cancelled, and the others finish")
    func scancel() throws {
        let dir = try project("sleep [K]", [30, 1])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try startRun(dir)
        var id: String?
        try TestSupport.eventually("task 0 running", timeout: 30, poll: 0.1) {
            if let a = try attempts(dir)[0], a.state == "running" { id = a.nativeID }
            return id != nil
        }
        let nativeID = try #require(id)
        #expect(try TestSupport.run("/usr/bin/env", ["scancel", nativeID]).status == 0)
        p.waitUntilExit()
        let rows = try attempts(dir)
        #expect(rows[0]?.state == "cancelled", "\(String(describing: rows[0]))")
        #expect(rows[1]?.state == "succeeded")
    }

    @Test("a node failure (the node set down mid-run): the attempts end as node_fail with a reason, not requeued; rerun failed succeeds")
    func nodeFailure() throws {
        let dir = try project("true", [1, 2])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Each task sleeps, until the marker beside the project exists (for the rerun). The shell is replaced by the
        // sleep: a shell left behind when the sleep is killed would go on to the echo and exit 0.
        try
            #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"test -e \#(dir)/again || exec sleep 30; echo [K]","inputs":[{"id":"k","name":"k","type":"Number","integer":true,"value-key":"[K]"}]}"#
            .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        let nodes = try TestSupport.run("/usr/bin/env", ["sinfo", "-h", "-N", "-o", "%N"]).stdout.split(separator: "\n")
        let node = String(try #require(nodes.first))  // listed once per partition
        defer { _ = try? TestSupport.run("/usr/bin/env", ["scontrol", "update", "nodename=\(node)", "state=resume"]) }
        let p = try startRun(dir)
        try TestSupport.eventually("both tasks running", timeout: 30, poll: 0.2) {
            try attempts(dir).values.filter { $0.state == "running" }.count == 2
        }
        let down = try TestSupport.run("/usr/bin/env", ["scontrol", "update", "nodename=\(node)", "state=down", "reason=clowdr-test"])
        #expect(down.status == 0, "\(down.stderr)")
        p.waitUntilExit()
        #expect(p.terminationStatus != 0)
        #expect(try attempts(dir).count == 2)
        for (task, a) in try attempts(dir) {
            #expect(a.state == "failed" && a.attempt == 1, "task \(task): \(a)")
            #expect(a.reason?.contains("its node failed (NODE_FAIL)") == true, "task \(task): \(String(describing: a.reason))")
        }
        _ = try? TestSupport.run("/usr/bin/env", ["scontrol", "update", "nodename=\(node)", "state=resume"])
        try TestSupport.eventually("the node back", timeout: 60, poll: 0.5) {
            try TestSupport.run("/usr/bin/env", ["sinfo", "-h", "-N", "-o", "%t"]).stdout.contains("idle")
        }
        try "".write(toFile: dir + "/again", atomically: true, encoding: .utf8)
        let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!
        let rerun = try clowdr(["rerun", "failed", dir + "/prov/" + exp])
        #expect(rerun.status == 0, "\(rerun.stdout)\(rerun.stderr)")
        #expect(try attempts(dir).count == 2)
        for (task, a) in try attempts(dir) { #expect(a.state == "succeeded" && a.attempt == 2, "task \(task): \(a)") }
    }

    @Test("a preemption (a job of a higher-tier partition needs the node): the attempt ends as preempted with a reason")
    func preemption() throws {
        let cpus = try TestSupport.run("/usr/bin/env", ["sinfo", "-h", "-p", "urgent", "-o", "%c"]).stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        try #require(Int(cpus) != nil, "needs the test cluster's partition urgent (scripts/slurm/slurm.conf.in), PreemptType partition_prio")
        let dir = try project("sleep 30 && echo [K]", [1])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: clowdr)
        p.arguments = behaviour.runArguments(dir) + ["--clusterargs", "cpus-per-task:\(cpus)"]
        p.environment = ProcessInfo.processInfo.environment.merging(Self.environment) { $1 }
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        try TestSupport.eventually("the task running", timeout: 30, poll: 0.2) { try attempts(dir)[0]?.state == "running" }
        // The whole node, asked for in the higher tier: Slurm cancels the running job to make room.
        let urgent = try TestSupport.run(
            "/usr/bin/env",
            ["sbatch", "--parsable", "-p", "urgent", "--cpus-per-task=\(cpus)", "--output=/dev/null", "--job-name=clowdr-test-urgent", "--wrap=true"])
        #expect(urgent.status == 0, "\(urgent.stderr)")
        defer { _ = try? TestSupport.run("/usr/bin/env", ["scancel", "--name=clowdr-test-urgent"]) }
        p.waitUntilExit()
        #expect(p.terminationStatus != 0)
        let a = try #require(try attempts(dir)[0])
        #expect(a.state == "failed" && a.attempt == 1, "\(a)")  // what `rerun failed`, as the reason says, selects
        #expect(a.reason?.contains("preempted by the scheduler; rerun failed runs it again") == true, "\(String(describing: a.reason))")
    }

    /// 7 tasks of `commandLine` run on Slurm with --groupby 3 (elements 0, 1, 2 run tasks 0-2, 3-5 and 6); the
    /// project's folder (the caller removes it) and clowdr's output.
    func runGroupedBy3(_ commandLine: String) throws -> (dir: String, run: TestSupport.Output) {
        let dir = try project(commandLine, Array(0..<7))
        let run = try clowdr([
            "run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--backend", "slurm", "--groupby", "3", "--provdir", dir + "/prov",
        ])
        return (dir, run)
    }

    @Test("--groupby 3: 7 tasks in 3 elements, run one after another in each")
    func groupBy() throws {
        let (dir, run) = try runGroupedBy3("true [K]")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        let rows = try attempts(dir)
        #expect(rows.values.allSatisfy { $0.state == "succeeded" })
        #expect(Set(rows.values.compactMap(\.nativeID)).count == 3, "\(rows.values.map(\.nativeID))")
        // The workers observed each attempt's files (the shell's loader and libraries, nothing undeclared).
        let traced = try self.rows(dir, "SELECT count(*) FROM events WHERE type = 'task_files' AND json_extract(payload, '$.traced') = 1")
        #expect(traced.first?.first?.int64 == 7, "\(traced)")
        #expect(try self.rows(dir, "SELECT count(*) FROM attempts WHERE undeclared = 0").first?.first?.int64 == 7)
    }

    @Test(
        "no file per task on the shared filesystem: invocations travel in the map, a successful element's Slurm output is removed, a failed one's kept"
    )
    func filesOnTheSharedFilesystem() throws {
        let (dir, run) = try runGroupedBy3("test [K] -ne 4")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(run.status == 1, "\(run.stdout) \(run.stderr)")
        let rows = try attempts(dir)
        #expect(rows.filter { $0.value.state == "succeeded" }.count == 6 && rows[4]?.state == "failed", "\(rows)")
        let experiment = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!
        let folder = dir + "/prov/" + experiment
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/tasks").isEmpty, "a file per task")
        let slurm = try FileManager.default.contentsOfDirectory(atPath: folder + "/slurm")
        // The failed element (tasks 3, 4, 5) keeps its output; the others' are gone. One map and one script.
        let outputs = slurm.filter { $0.hasSuffix(".out") }
        #expect(outputs.count == 1 && outputs.first?.hasSuffix("_1.out") == true, "\(slurm)")
        #expect(slurm.filter { $0.hasSuffix(".map") }.count == 1 && slurm.filter { $0.hasSuffix(".sh") }.count == 1, "\(slurm)")
        // Each element's segment is removed once its events are in the log and its worker sealed it (by the run, or
        // by the next command that reads the log); the controller's segment stays.
        let status = try clowdr(["status", folder])
        #expect(status.stdout.contains("succeeded"), "\(status.stdout) \(status.stderr)")
        let segments = try FileManager.default.contentsOfDirectory(atPath: folder + "/segments")
        #expect(segments.count == 1 && segments[0].hasPrefix("controller-"), "\(segments)")
        #expect(try attempts(dir).count == 7, "the events of the removed segments are in the log")
    }

    /// One SELECT over the latest experiment's log in `dir`.
    func rows(_ dir: String, _ sql: String) throws -> [[SQLiteValue]] {
        let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!
        return try Connection(path: dir + "/prov/" + exp + "/clowdr.db", mode: .readOnly).rows(sql)
    }

    /// sacct's MaxRSS of an element's batch step, in bytes (accounting lags the job's end by seconds, more when the
    /// machine is busy).
    func sacctMaxRSS(_ nativeID: String) throws -> Int64? {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        for _ in 0..<150 {
            let out = try TestSupport.run("/usr/bin/env", ["sacct", "-n", "-P", "-j", nativeID, "-o", "JobID,MaxRSS"]).stdout
            for line in out.split(separator: "\n") {
                let f = line.split(separator: "|", omittingEmptySubsequences: false)
                if f.count == 2, f[0].hasSuffix(".batch"), let unit = f[1].last.flatMap({ units[$0] }), let n = Double(f[1].dropLast()) {
                    return Int64(n * Double(unit))
                }
            }
            usleep(200_000)
        }
        return nil
    }

    @Test(
        "beside a TIMEOUT (time:1 on a longer task): 100 MB held measured alike by clowdr and sacct (within 10%), --efficiency, a throttle never exceeded; then the TIMEOUT recorded as such"
    )
    func timeoutAlongside() throws {
        let slow = try project("sleep [K]", [600])
        defer { try? FileManager.default.removeItem(atPath: slow) }
        let detached = try clowdr([
            "run", slow + "/d.json", slow + "/i.json", "--sweep", "k", "--backend", "slurm", "--clusterargs", "time:1", "--detach", "--provdir",
            slow + "/prov",
        ])
        try #require(detached.status == 0, "\(detached.stdout) \(detached.stderr)")

        // 100 MB held for 3 s beside nothing held: what the tool used, by clowdr and by sacct, agrees within 10%, as
        // the difference between the two elements and as raw figures.
        let hold = try project("python3 -c \\\"import time; b=b'x'*([K]<<20); time.sleep(3)\\\"", [0, 100])
        defer { try? FileManager.default.removeItem(atPath: hold) }
        let run = try clowdr([
            "run", hold + "/d.json", hold + "/i.json", "--sweep", "k", "--backend", "slurm", "--clusterargs", "mem:400M,time:5", "--provdir",
            hold + "/prov",
        ])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        let measured = try rows(hold, "SELECT peak_rss, native_id FROM attempts ORDER BY CAST(task AS INTEGER)").map {
            (peak: $0[0].int64 ?? 0, sacct: try sacctMaxRSS($0[1].string ?? "") ?? 0)
        }
        try #require(measured.count == 2 && measured.allSatisfy { $0.sacct > 0 }, "sacct has MaxRSS for both: \(measured)")
        let byClowdr = measured[1].peak - measured[0].peak
        let bySlurm = measured[1].sacct - measured[0].sacct
        #expect(byClowdr > 95 << 20, "clowdr: \(measured)")
        #expect(abs(Double(bySlurm - byClowdr)) <= 0.1 * Double(byClowdr), "100 MB held: clowdr \(byClowdr) B, sacct \(bySlurm) B (\(measured))")
        // Raw, sacct also counts the worker and the shim between it and the command: 4.4-4.7 MB beside the tool's
        // 117 MB with a release build (3.7-4.0% in 26 runs, on a quiet machine and under load; the worker hands back
        // the code it touched to start and to sample, the shim its own at start), about 6 MB with the debug build
        // the tests run (5.1-5.2%). Before they did: 5.5-9.5 MB (release), 13.8 MB once in CI.
        let held = measured[1]
        print(
            "Slurm: 100 MB held: clowdr's peak \(held.peak >> 10) KiB, sacct's MaxRSS \(held.sacct >> 10) KiB (\(String(format: "%.1f", 100 * Double(held.sacct - held.peak) / Double(held.peak)))% apart)"
        )
        #expect(abs(Double(held.sacct - held.peak)) <= 0.1 * Double(held.peak), "100 MB held, raw: clowdr \(held.peak) B, sacct \(held.sacct) B")
        // seff for the experiment: what was asked beside what was used.
        let eff = try clowdr(["query", "--efficiency", "--format", "json", hold + "/prov"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(eff.stdout.utf8)) as? [[String: Any]], "\(eff.stdout) \(eff.stderr)")
        #expect(json.count == 2 && json[1]["mem_requested"] as? Int == 400 << 20 && json[1]["time_limit"] as? Double == 300, "\(json)")
        let used = json[1]["mem_used"] as? Double ?? 0
        #expect(abs(used - 100 * Double(measured[1].peak) / Double(400 << 20)) < 0.01, "\(json)")
        #expect(json[1]["cpu_efficiency"] as? Double != nil && json[1]["time_used"] as? Double != nil, "\(json)")
        let table = try clowdr(["query", "--efficiency", "--format", "table", hold + "/prov"]).stdout
        #expect(table.contains("2 tasks: memory: median "), "\(table)")
        #expect(table.contains("% of the request used (max \(Int(used.rounded()))%)"), "\(table)")

        // A throttle of 2 over 8 elements: never more than 2 at once, by the record's start and end times.
        let many = try project("sleep 2; exit [K]", Array(repeating: 0, count: 8))
        defer { try? FileManager.default.removeItem(atPath: many) }
        let throttled = try clowdr([
            "run", many + "/d.json", many + "/i.json", "--sweep", "k", "--backend", "slurm", "--throttle", "2", "--provdir", many + "/prov",
        ])
        #expect(throttled.stdout.contains("8 attempts: 8 succeeded"), "\(throttled.stdout) \(throttled.stderr)")
        let spans = try rows(many, "SELECT started_at, ended_at FROM attempts").map { ($0[0].int64 ?? 0, $0[1].int64 ?? 0) }
        let most = spans.map { s in spans.filter { $0.0 <= s.0 && s.0 < $0.1 }.count }.max() ?? 0
        #expect(most == 2, "at most 2 at once, and 2 at some point: \(most)")

        // The TIMEOUT: followed to its end by watch, recorded with its class and a reason to act on.
        let watch = try clowdr(["watch", slow + "/prov", "--json"])
        #expect(watch.status == 1, "\(watch.stdout) \(watch.stderr)")
        // --json: the summary alone on stdout.
        let followed = try JSONSerialization.jsonObject(with: Data(watch.stdout.utf8)) as? [String: Any]
        #expect(followed?["all_succeeded"] as? Bool == false && (followed?["attempts"] as? [String: Int])?["failed"] == 1, "\(watch.stdout)")
        let ended = try clowdr(["events", "--no-samples", slow + "/prov"]).stdout
        #expect(ended.contains(#""failure_class":"timeout""#) && ended.contains(#""state":"TIMEOUT""#), "\(ended)")
        #expect(try attempts(slow)[0]?.reason?.contains("killed at its time limit of 60 s; rerun with --clusterargs time:auto") == true)
    }

    /// How many events of `type` the workers' segments of the experiment under `dir` hold.
    static func eventsInSegments(_ dir: String, type: String) -> Int {
        let fm = FileManager.default
        let experiments = (try? fm.contentsOfDirectory(atPath: dir + "/prov")) ?? []
        var count = 0
        for e in experiments {
            let segments = dir + "/prov/" + e + "/segments"
            for name in (try? fm.contentsOfDirectory(atPath: segments)) ?? [] {
                let text = (try? String(contentsOfFile: segments + "/" + name, encoding: .utf8)) ?? ""
                count += text.split(separator: "\n").filter { $0.contains("\"type\":\"\(type)\"") }.count
            }
        }
        return count
    }

    @Test("the Backend contract, in-process, on the real Slurm: arrays handed over in order, ended jobs gone from squeue, sacct's answers, scancel")
    func contract() throws {
        let folder = try TestSupport.temporaryDirectory("slurm-contract")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let clowdr = clowdr
        try BackendContract(name: "slurm", folder: folder, patience: 90) { layout, _, _ in SlurmBackend(layout: layout, clowdr: clowdr) }.check()
    }

    /// The PID file of the test cluster's slurmctld (scripts/slurm/setup.sh).
    static let slurmctldPID = (ProcessInfo.processInfo.environment["SLURM_STATE"] ?? "/var/lib/clowdr-slurm") + "/slurmctld.pid"

    @Test(
        "slurmctld stopped in the middle of a run until its jobs have ended, then started again: the controller waits it out, the record complete and exact"
    )
    func slurmctldStopped() throws {
        let dir = try project("sleep 4; exit [K]", [0, 0, 2, 0, 0, 0])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try startRun(dir)
        try TestSupport.eventually("6 attempts submitted, their workers started", timeout: 60, poll: 0.1) {
            let rows = try attempts(dir)
            return rows.count == 6 && rows.values.allSatisfy { $0.nativeID != nil } && Self.eventsInSegments(dir, type: "task_started") == 6
        }
        let pid = try #require(Int32(try String(contentsOfFile: Self.slurmctldPID, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(pid, SIGTERM) == 0)
        var restarted = false
        defer { if !restarted { _ = try? TestSupport.run("/usr/sbin/slurmctld", []) } }  // the cluster back for the next test, whatever happens
        try TestSupport.eventually("slurmctld to stop", poll: 0.1) { kill(pid, 0) != 0 }
        // The jobs run on without slurmctld: stopped until every worker has written its exit (the scheduler away for
        // the whole end of the run), with the controller still waiting.
        try TestSupport.eventually("the 6 workers' exits in their segments", timeout: 60, poll: 0.2) {
            Self.eventsInSegments(dir, type: "task_exited") == 6
        }
        #expect(p.isRunning, "the controller waits for slurmctld")
        let started = try TestSupport.run("/usr/sbin/slurmctld", [])
        restarted = true
        #expect(started.status == 0, "\(started.stderr)")
        p.waitUntilExit()
        #expect(p.terminationStatus == 1, "one task exits 2")
        let rows = try attempts(dir)
        #expect(rows.count == 6 && rows[2]?.state == "failed" && [0, 1, 3, 4, 5].allSatisfy { rows[$0]?.state == "succeeded" }, "\(rows)")
        let events = try clowdr(["events", "--no-samples", dir + "/prov"]).stdout.split(separator: "\n")
        #expect(events.filter { $0.contains(#""type":"task_exited""#) }.count == 6, "one exit per attempt")
        #expect(events.filter { $0.contains(#""type":"task_submitted""#) }.count == 6, "one submission per attempt")
        #expect(!events.contains { $0.contains(#""type":"task_ended""#) }, "the workers' own exits, no guess")
        let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!
        #expect(try clowdr(["fsck", dir + "/prov/" + exp]).status == 0)
    }

    /// Restarts the test cluster with other settings for `body`, then as `make test` started it.
    func withCluster(_ environment: [String: String], _ body: () throws -> Void) throws {
        // Output to a file and no pipe read to its end: the daemons it starts keep what they inherit open.
        let setup = TestSupport.repositoryRoot + "/scripts/slurm/setup.sh"
        let log = try TestSupport.temporaryDirectory("slurm-setup") + "/setup.log"
        func start(_ environment: [String: String]) throws -> Int32 {
            // posix_spawn and waitpid: the daemons outlive the script, and only the script is waited for.
            let assignments = environment.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            let line = "\(assignments) '\(setup)' >'\(log)' 2>&1 </dev/null"
            var pid: pid_t = 0
            let words: [String] = ["/bin/sh", "-c", line]
            let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
            defer { for p in argv { free(p) } }
            guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0 else { return -1 }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return (status >> 8) & 0xff
        }
        let restarted = try start(environment)
        defer { _ = try? start([:]) }
        try #require(restarted == 0, "the cluster did not restart: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        try body()
    }

    @Test("a small cluster: no accounting at all and MaxArraySize 5; 12 tasks in arrays indexed below 5, the record complete")
    func smallCluster() throws {
        let dir = try project("sleep 1; exit [K]", (0..<12).map { $0 == 4 ? 3 : 0 })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let oom = try project("python3 -c \\\"import time; b=b'x'*([K]<<20); time.sleep(3)\\\"", [150])
        defer { try? FileManager.default.removeItem(atPath: oom) }
        try withCluster(["SLURM_DBD": "0", "SLURM_MAX_ARRAY": "5"]) {
            #expect(try TestSupport.run("/usr/bin/env", ["sacct"]).stderr.contains("accounting storage is disabled"))
            let run = try clowdr(["run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--backend", "slurm", "--provdir", dir + "/prov"])
            #expect(run.stdout.contains("12 attempts: 11 succeeded, 1 failed"), "\(run.stdout) \(run.stderr)")
            let ids = try attempts(dir).values.compactMap(\.nativeID)
            #expect(ids.count == 12 && ids.allSatisfy { Int($0.split(separator: "_")[1])! < 5 }, "\(ids)")
            #expect(Set(ids.map { $0.split(separator: "_")[0] }).count == 3, "12 elements in arrays of at most 5: \(ids)")
            // Killed for memory with no accounting: the scheduler's own message in the job's output says so.
            let killed = try clowdr([
                "run", oom + "/d.json", oom + "/i.json", "--sweep", "k", "--backend", "slurm", "--clusterargs", "mem:80M", "--provdir", oom + "/prov",
            ])
            #expect(killed.status == 1)
            let reason = try attempts(oom)[0]?.reason ?? "none"
            #expect(reason.contains("killed for exceeding its 80.0 MiB memory request"), "\(reason)")
        }
    }

    @Test(
        "a per-user submit limit (MaxSubmitJobs 4, enforced) and MaxArraySize 3: 10 tasks all run once, the rest submitted as earlier ones end, never more than 4 held"
    )
    func submitLimit() throws {
        let dir = try project("sleep 2; exit [K]", Array(repeating: 0, count: 10))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The first array of 3 is accepted and the second refused: the first is recorded and never submitted again.
        try withCluster(["SLURM_ENFORCE": "limits", "SLURM_MAX_ARRAY": "3"]) {
            let limit = try TestSupport.run("/usr/bin/env", ["sacctmgr", "-i", "modify", "user", "where", "name=root", "set", "MaxSubmitJobs=4"])
            try #require(limit.status == 0, "\(limit.stdout) \(limit.stderr)")
            defer { _ = try? TestSupport.run("/usr/bin/env", ["sacctmgr", "-i", "modify", "user", "where", "name=root", "set", "MaxSubmitJobs=-1"]) }
            let refused = try TestSupport.run("/usr/bin/env", ["sbatch", "--array=0-9", "--wrap=true", "--output=/dev/null"])
            try #require(refused.status != 0, "the limit is enforced: \(refused.stdout)")
            let run = try clowdr(["run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--backend", "slurm", "--provdir", dir + "/prov"])
            #expect(run.stdout.contains("10 attempts: 10 succeeded"), "\(run.stdout) \(run.stderr)")
            let spans = try rows(dir, "SELECT submitted_at, ended_at FROM attempts").map { ($0[0].int64 ?? 0, $0[1].int64 ?? 0) }
            let most = spans.map { s in spans.filter { $0.0 <= s.0 && s.0 < $0.1 }.count }.max() ?? 0
            #expect(spans.count == 10 && most <= 4, "at most 4 submitted and not ended at once: \(most)")
            let once = try rows(
                dir, "SELECT task, sum(type = 'task_submitted'), sum(type = 'task_started') FROM events GROUP BY task HAVING task IS NOT NULL")
            #expect(once.count == 10 && once.allSatisfy { $0[1].int64 == 1 && $0[2].int64 == 1 }, "each task submitted and run once: \(once)")
            // Detached, what the limit refuses is said, not dropped: rerun incomplete submits it once watch has
            // followed the rest to their end.
            let detached = try clowdr([
                "run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--backend", "slurm", "--provdir", dir + "/prov2", "--detach",
            ])
            let said = detached.stdout.split(separator: "\n")
            func count(_ words: String) -> Int { said.first { $0.contains(words) }.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0 }
            let (submitted, waiting) = (count("attempts submitted"), count("attempts not submitted"))
            #expect(
                detached.status == 0 && submitted > 0 && waiting > 0 && submitted + waiting == 10 && said.last?.contains("rerun incomplete") == true,
                "\(detached.stdout) \(detached.stderr)")
            #expect(try clowdr(["watch", dir + "/prov2"]).stdout.contains("\(submitted) attempts: \(submitted) succeeded"))
            let rest = try clowdr(["rerun", "incomplete", dir + "/prov2", "--backend", "slurm", "-w", dir])
            #expect(rest.stdout.contains("\(waiting) attempts: \(waiting) succeeded"), "\(rest.stdout) \(rest.stderr)")
        }
    }

    @Test(
        "a descriptor with a container image runs through the node's engine (--container-runtime podman), with exits, outputs and peaks recorded",
        .enabled(if: TestSupport.hasBusyboxImage, "needs podman and localhost/clowdr-busybox:test (make test builds it)"))
    func container() throws {
        let dir = try TestSupport.temporaryDirectory("slurm-container")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let d =
            #"{"name":"ct","tool-version":"1","description":"d","schema-version":"0.5","command-line":"dd if=/dev/zero bs=[MB]M count=1 2>/dev/null | (sleep 2; wc -c > [OUT]); exit [E]","container-image":{"type":"docker","image":"localhost/clowdr-busybox:test"},"inputs":[{"id":"mb","name":"mb","type":"Number","integer":true,"value-key":"[MB]"},{"id":"e","name":"e","type":"Number","integer":true,"value-key":"[E]"}],"output-files":[{"id":"out","name":"out","value-key":"[OUT]","path-template":"count_[MB].txt"}]}"#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/inv", withIntermediateDirectories: true)
        try #"{"mb": 50, "e": 0}"#.write(toFile: dir + "/inv/a.json", atomically: true, encoding: .utf8)
        try #"{"mb": 20, "e": 3}"#.write(toFile: dir + "/inv/b.json", atomically: true, encoding: .utf8)
        let run = try TestSupport.run(
            clowdr,
            ["run", dir + "/d.json", dir + "/inv", "--backend", "slurm", "--provdir", dir + "/prov", "-w", dir, "--container-runtime", "podman"],
            environment: Self.environment.merging(["CONTAINERS_CONF": TestSupport.repositoryRoot + "/scripts/containers/containers.conf"]) { $1 })
        #expect(run.status == 1 && run.stdout.contains("2 attempts: 1 succeeded, 1 failed"), "\(run.stdout) \(run.stderr)")
        #expect(try String(contentsOfFile: dir + "/count_50.txt", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "52428800")
        let measured = try rows(dir, "SELECT exit_code, peak_rss, native_id FROM attempts ORDER BY CAST(task AS INTEGER)")
        #expect(measured.map { $0[0].int64 ?? -1 } == [0, 3], "\(measured)")
        #expect((measured[0][1].int64 ?? 0) >= 50 << 20, "dd's 50 MiB buffer inside the container is in the peak: \(measured)")
        #expect(measured.allSatisfy { $0[2].string?.contains("_") == true }, "run as array elements: \(measured)")
    }

    @Test("the original forms (local -c slurm -a -n, cluster ... slurm --jobname), and --detach then watch")
    func originalForms() throws {
        let dir = try project("echo [K]; exit [K]", [0, 1, 0])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let local = try clowdr([
            "local", dir + "/d.json", dir + "/i.json", dir + "/prov", "-c", "slurm", "-a", "mem:500M", "-n", "myjob", "--sweep", "k",
        ])
        #expect(local.status == 1 && local.stdout.contains("3 attempts: 2 succeeded, 1 failed"), "\(local.stdout) \(local.stderr)")
        #expect(try clowdr(["events", "--no-samples", dir + "/prov"]).stdout.contains(#""resources":{"mem":"500M"}"#))
        let detached = try clowdr([
            "cluster", dir + "/d.json", dir + "/i.json", dir + "/prov2", "slurm", "--jobname", "lab", "--sweep", "k", "--detach",
        ])
        #expect(
            detached.status == 0 && detached.stdout.contains("3 attempts submitted; follow them with: clowdr watch"),
            "\(detached.stdout) \(detached.stderr)")
        let names =
            try TestSupport.run("/usr/bin/env", ["squeue", "-h", "-o", "%j"]).stdout
            + (try TestSupport.run("/usr/bin/env", ["sacct", "-n", "-X", "-P", "-o", "JobName"]).stdout)
        #expect(names.contains("lab-"), "the jobs are named after --jobname: \(names)")
        let watch = try clowdr(["watch", dir + "/prov2"])
        #expect(watch.status == 1 && watch.stdout.contains("3 attempts: 2 succeeded, 1 failed"), "\(watch.stdout) \(watch.stderr)")
    }

    @Test("rerun incomplete while a detached experiment's elements still wait or run: Slurm holds them, nothing is run twice")
    func rerunWhileHeld() throws {
        let dir = try project("sleep 6; exit [K]", [0, 0, 0])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let detached = try clowdr([
            "run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--backend", "slurm", "--throttle", "1", "--provdir", dir + "/prov", "--detach",
        ])
        #expect(detached.status == 0, "\(detached.stdout) \(detached.stderr)")
        // The controller is gone; Slurm holds the three (one running, two waiting behind the throttle). status and
        // rerun agree, and both name watch.
        let status = try clowdr(["status", dir + "/prov"])
        #expect(status.stdout.contains("incomplete: 3 tasks (no controller follows them: clowdr watch "), "\(status.stdout)")
        let rerun = try clowdr(["rerun", "incomplete", dir + "/prov", "--backend", "slurm", "-w", dir])
        #expect(rerun.status == 0 && !rerun.stdout.contains("submitted"), "\(rerun.stdout) \(rerun.stderr)")
        #expect(
            rerun.stdout.contains(
                "nothing to rerun: 3 tasks are still held by the scheduler (queued or running) and left to it; follow them with: clowdr watch"),
            "\(rerun.stdout)")
        let watch = try clowdr(["watch", dir + "/prov"])
        #expect(watch.status == 0 && watch.stdout.contains("3 attempts: 3 succeeded"), "\(watch.stdout) \(watch.stderr)")
        #expect(try attempts(dir).values.allSatisfy { $0.attempt == 1 && $0.state == "succeeded" }, "one attempt each")
    }
}
