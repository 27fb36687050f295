import EventLog
import Foundation
import SQLite
import TestSupport
import Testing

/// `clowdr run`, `rerun` and `status` end to end: the built binary on real processes.
@Suite("clowdr run and rerun on this machine", .serialized, .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"))
struct RunTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    /// A folder with a descriptor whose command line is `template` and one invocation.
    func project(_ template: String, inputs: String, invocation: String, outputs: String = "[]") throws -> String {
        let dir = try TestSupport.temporaryDirectory("run")
        let d =
            #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"\#(template)","inputs":\#(inputs)\#(outputs == "[]" ? "" : #","output-files":"# + outputs)}"#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try invocation.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        return dir
    }

    /// Waits (up to 30 s) until `condition` holds for the attempts of the experiment under `dir`; throws naming `what`
    /// when it does not.
    func waitFor(
        _ what: String, _ dir: String, _ condition: @escaping ([(task: Int, attempt: Int, state: String, exit: Int64?, peak: Int64?)]) -> Bool
    ) throws {
        try TestSupport.eventually(what) { condition(try attempts(dir)) }
    }

    /// The processes whose command line is `command` (its words) and that are not already being killed (no
    /// SIGKILL pending), each as "pid N, state S, parent P". Tests run side by side: each gives its own command a
    /// duration no other test uses.
    static func living(command: String) -> [String] {
        let sigkill: UInt64 = 1 << (UInt64(SIGKILL) - 1)
        var found: [String] = []
        for pid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where pid.allSatisfy(\.isNumber) {
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                cmdline.split(separator: 0).map({ String(decoding: $0, as: UTF8.self) }) == command.split(separator: " ").map(String.init),
                let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            else { continue }
            var field: [String: String] = [:]
            for line in status.split(separator: "\n") {
                let kv = line.split(separator: ":", maxSplits: 1)
                if kv.count == 2 { field[String(kv[0])] = kv[1].trimmingCharacters(in: .whitespaces) }
            }
            let pending = ["SigPnd", "ShdPnd"].compactMap { field[$0].flatMap { UInt64($0, radix: 16) } }.reduce(0, |)
            if pending & sigkill == 0 { found.append("pid \(pid), state \(field["State"] ?? "?"), parent \(field["PPid"] ?? "?")") }
        }
        return found
    }

    func attempts(_ dir: String) throws -> [(task: Int, attempt: Int, state: String, exit: Int64?, peak: Int64?)] {
        guard let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").filter({ !$0.hasSuffix(".creating") }).sorted().last else {
            throw CocoaError(.fileNoSuchFile)  // no experiment yet
        }
        let db = try Connection(path: dir + "/prov/" + exp + "/clowdr.db", mode: .readOnly)
        return try db.rows("SELECT task, attempt, state, exit_code, peak_rss FROM attempts ORDER BY CAST(task AS INTEGER), attempt").map {
            (Int($0[0].string!)!, Int($0[1].int64!), $0[2].string!, $0[3].int64, $0[4].int64)
        }
    }

    @Test("200 tasks with mixed exit codes; rerun failed and rerun incomplete select exactly the right tasks")
    func mixedExitCodes() throws {
        let codes = (0..<200).map { $0 % 7 == 3 ? 2 : 0 }
        let dir = try project(
            "exit [C]", inputs: #"[{"id":"c","name":"c","type":"Number","integer":true,"value-key":"[C]"}]"#, invocation: #"{"c":\#(codes)}"#)
        let run = try TestSupport.run(
            clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "c", "-j", "4", "-w", dir])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stdout.contains("200 attempts: 171 succeeded, 29 failed"))
        let failed = Set(codes.enumerated().filter { $0.element != 0 }.map(\.offset))
        #expect(Set(try attempts(dir).filter { $0.state == "failed" }.map(\.task)) == failed)
        let again = try TestSupport.run(clowdr, ["rerun", "failed", dir + "/prov", "-j", "4"])
        #expect(again.status == 1 && again.stdout.contains("29 attempts: 29 failed"))
        let rows = try attempts(dir)
        #expect(Set(rows.filter { $0.attempt == 2 }.map(\.task)) == failed, "only the failed tasks get a second attempt")
        #expect(rows.filter { $0.attempt == 1 }.count == 200, "first attempts stay in the log")
        let none = try TestSupport.run(clowdr, ["rerun", "incomplete", dir + "/prov"])
        #expect(none.status == 0 && none.stdout.contains("no task is incomplete: nothing to rerun"), "\(none.stdout) \(none.stderr)")
        let fsck = try TestSupport.run(
            clowdr, ["fsck", dir + "/prov/" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!)])
        #expect(fsck.status == 0)
    }

    @Test("kill -9 of the controller mid-run leaves incomplete tasks; rerun incomplete runs exactly those")
    func killController() throws {
        let dir = try project(
            "sleep [S]", inputs: #"[{"id":"s","name":"s","type":"Number","value-key":"[S]"}]"#,
            invocation: #"{"s":\#(Array(repeating: 0.31, count: 12))}"#)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: clowdr)
        p.arguments = ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "s", "-j", "2", "-w", dir, "-q"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        try waitFor("two attempts succeeded", dir) { $0.filter { $0.state == "succeeded" }.count >= 2 }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let before = try attempts(dir)
        let done = Set(before.filter { $0.state == "succeeded" }.map(\.task))
        #expect(!done.isEmpty && done.count < 12, "the kill landed mid-run: \(done.count) done")
        let status = try TestSupport.run(clowdr, ["status", "--json", dir + "/prov"])
        let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect((object?["incomplete"] as? [String])?.count == 12 - done.count, "\(status.stdout)")
        // The orphaned attempts run on without their controller: let them finish (they are still incomplete in the log).
        try TestSupport.eventually("the orphaned attempts to end") { Self.living(command: "sleep 0.31").isEmpty }
        let rerun = try TestSupport.run(clowdr, ["rerun", "incomplete", dir + "/prov", "-j", "2"])
        #expect(rerun.status == 0, "\(rerun.stdout) \(rerun.stderr)")
        let after = try attempts(dir)
        let old = Set(before.map { "\($0.task)/\($0.attempt)" })
        let launched = Set(after.filter { !old.contains("\($0.task)/\($0.attempt)") }.map(\.task))
        #expect(launched == Set(0..<12).subtracting(done), "exactly the tasks that had not succeeded")
        var latest: [Int: String] = [:]
        for row in after { latest[row.task] = row.state }  // rows are in attempt order
        #expect(latest.count == 12 && latest.values.allSatisfy { $0 == "succeeded" })
    }

    @Test("SIGTERM stops launching, ends running process groups, records cancellations, and leaves a valid log")
    func sigterm() throws {
        let dir = try project(
            "sleep 29.93 & sleep [S]", inputs: #"[{"id":"s","name":"s","type":"Number","value-key":"[S]"}]"#,
            invocation: #"{"s":[29.93,29.93,29.93,29.93]}"#)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: clowdr)
        p.arguments = ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "s", "-j", "2", "-w", dir]
        _ = FileManager.default.createFile(atPath: dir + "/stdout", contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: dir + "/stdout")
        p.standardError = FileHandle.nullDevice
        let started = Date()
        try p.run()
        try waitFor("two attempts running", dir) { $0.filter { $0.state == "running" }.count == 2 }
        // The experiment's id and log are out while its tasks run, so it can be queried or shared by id.
        let early = try String(contentsOfFile: dir + "/stdout", encoding: .utf8)
        #expect(early.hasPrefix("experiment ") && early.contains("\nlog "), "printed so far: \(early)")
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationStatus == 1)
        let summary = try String(contentsOfFile: dir + "/stdout", encoding: .utf8)
        #expect(summary.hasSuffix("2 attempts: 2 cancelled; 2 tasks not started (stopped by SIGTERM)\n"), "\(summary)")
        #expect(summary.components(separatedBy: "experiment ").count == 2, "the id is printed once")
        #expect(Date().timeIntervalSince(started) < 10, "the attempts were stopped, not waited for")
        // Two were running; two were submitted to the pool and cancelled before they started.
        let rows = try attempts(dir)
        #expect(rows.map(\.state) == ["cancelled", "cancelled", "cancelled", "cancelled"], "\(rows)")
        let exp0 = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!
        let db = try Connection(path: dir + "/prov/" + exp0 + "/clowdr.db", mode: .readOnly)
        #expect(try db.scalar("SELECT count(*) FROM events WHERE type = 'task_started'")?.int64 == 2)
        #expect(
            try db.scalar("SELECT count(*) FROM events WHERE type = 'task_ended' AND payload LIKE '%cancelled before it started%'")?.int64 == 2)
        // Signals are delivered asynchronously: give the killed processes a moment to be gone. A process with SIGKILL
        // pending is already ended (it may still be finishing an exec on a busy disk); any other is a leak.
        try TestSupport.eventually(
            "the cancelled attempts' whole process groups to end; left: \(Self.living(command: "sleep 29.93"))", timeout: 15
        ) {
            Self.living(command: "sleep 29.93").isEmpty
        }
        let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!
        #expect(try TestSupport.run(clowdr, ["fsck", dir + "/prov/" + exp]).status == 0)
        let status = try TestSupport.run(clowdr, ["status", "--json", dir + "/prov"])
        #expect(status.stdout.contains("\"cancelled\" : 4") || status.stdout.contains("\"cancelled\": 4"), "\(status.stdout)")
    }

    @Test("a task that holds 200 MB for 0.3 s: peak within 5% of the kernel's ru_maxrss")
    func peakAccuracy() throws {
        let py = "import resource,time; b=b'x'*(200<<20); time.sleep(0.3); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        let dir = try project(
            "python3 -c \\\"\(py)\\\" [N]", inputs: #"[{"id":"n","name":"n","type":"String","value-key":"[N]","optional":true}]"#, invocation: "{}")
        let run = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "-w", dir])
        #expect(run.status == 0, "\(run.stderr)")
        let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!
        let kernel =
            Double(
                try String(contentsOfFile: dir + "/prov/\(exp)/tasks/0.1.stdout", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
            * 1024
        let peak = Double(try attempts(dir)[0].peak!)
        print(
            "peak accuracy: clowdr \(Int(peak) >> 20) MiB, kernel ru_maxrss \(Int(kernel) >> 20) MiB, difference \(String(format: "%.2f", (peak - kernel) / kernel * 100))%"
        )
        #expect(abs(peak - kernel) / kernel < 0.05, "peak \(peak) vs ru_maxrss \(kernel)")
    }

    @Test("4 children each holding 50 MB: the tree's peak is at least 200 MB")
    func treePeak() throws {
        let py =
            "import os,time\nfor i in range(4):\n    if os.fork()==0:\n        b=b'x'*(50<<20); time.sleep(1.5); os._exit(0)\nfor i in range(4): os.wait()"
        let dir = try TestSupport.temporaryDirectory("tree")
        try py.write(toFile: dir + "/tree.py", atomically: true, encoding: .utf8)
        let d =
            #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"python3 [F]","inputs":[{"id":"f","name":"f","type":"File","value-key":"[F]"}]}"#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"f":"tree.py"}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let run = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "-w", dir])
        #expect(run.status == 0, "\(run.stderr)")
        let peak = try attempts(dir)[0].peak!
        print("tree peak: \(peak >> 20) MiB for 4 children of 50 MiB")
        #expect(peak >= 200 << 20, "tree peak \(peak >> 20) MB")
    }

    @Test("values with ; $( ) or backticks are never executed")
    func injection() throws {
        let values = ["; touch PWNED", "$(touch PWNED)", "`touch PWNED`", "'; touch PWNED; '"]
        let json = "[" + values.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "]"
        let dir = try project(
            "echo [S] > out.txt", inputs: #"[{"id":"s","name":"s","type":"String","value-key":"[S]"}]"#, invocation: #"{"s":\#(json)}"#)
        let run = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "s", "-w", dir])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/PWNED"))
    }

    @Test("an invalid descriptor or invocation exits 2 with a clear message and creates no experiment")
    func invalidInput() throws {
        let dir = try project(
            "exit [C]", inputs: #"[{"id":"c","name":"c","type":"Number","integer":true,"value-key":"[C]"}]"#, invocation: #"{"c": "zero"}"#)
        let bad = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("i.json: /c"))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir + "/prov")) ?? []).isEmpty)
        try #"{"name":"t"}"#.write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
        let badDescriptor = try TestSupport.run(clowdr, ["run", dir + "/bad.json", dir + "/i.json", "--provdir", dir + "/prov"])
        #expect(badDescriptor.status == 2 && badDescriptor.stderr.contains("bad.json"))
        let sweep = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "nope"])
        #expect(sweep.status == 2 && sweep.stderr.contains("no input 'nope'"))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir + "/prov")) ?? []).isEmpty)
    }

    @Test("a missing required output fails the task with 'missing output <id>'; present outputs get size and sha256")
    func outputs() throws {
        let dir = try project(
            "printf abc > [A]", inputs: #"[{"id":"n","name":"n","type":"String","value-key":"[N]"}]"#, invocation: #"{"n":"x"}"#,
            outputs: #"[{"id":"a","name":"a","value-key":"[A]","path-template":"[N].txt"},{"id":"b","name":"b","path-template":"[N].missing"}]"#)
        let run = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "-w", dir])
        #expect(run.status == 1)
        let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!
        let events = try TestSupport.run(clowdr, ["events", "--no-samples", dir + "/prov/" + exp]).stdout
        #expect(events.contains(#""failure_reason":"missing output b""#))
        #expect(events.contains(#""sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","size":3"#))
    }

    @Test("the original command line: clowdr local D I PROVDIR, then --rerun failed --run_id ID")
    func seedForm() throws {
        let dir = try project(
            "exit [C]", inputs: #"[{"id":"c","name":"c","type":"Number","integer":true,"value-key":"[C]"}]"#, invocation: #"{"c":[0,4,0]}"#)
        let run = try TestSupport.run(clowdr, ["local", dir + "/d.json", dir + "/i.json", dir + "/prov", "--sweep", "c", "-w", dir, "-V"])
        #expect(run.status == 1 && run.stdout.contains("3 attempts: 2 succeeded, 1 failed"), "\(run.stdout) \(run.stderr)")
        let id = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!
        let rerun = try TestSupport.run(clowdr, ["local", dir + "/d.json", dir + "/i.json", dir + "/prov", "-R", "failed", "--run_id", id])
        #expect(rerun.status == 1 && rerun.stdout.contains("1 attempts: 1 failed"))
        #expect(try attempts(dir).map { "\($0.task)/\($0.attempt)" } == ["0/1", "1/1", "1/2", "2/1"])
        let usage = try TestSupport.run(clowdr, ["local", dir + "/d.json", dir + "/i.json", dir + "/prov", "-R", "failed"])
        #expect(usage.status == 2 && usage.stderr.contains("--rerun needs --run_id"))
    }

    @Test("clowdr task runs planned tasks as a worker, into a segment that ingest adds once")
    func worker() throws {
        let dir = try project(
            "exit [C]", inputs: #"[{"id":"c","name":"c","type":"Number","integer":true,"value-key":"[C]"}]"#, invocation: #"{"c":[0,5]}"#)
        let setup = try TestSupport.run(
            clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "c", "--setup", "--invocation-files"])
        #expect(setup.status == 0 && setup.stdout.contains("2 tasks planned, none launched"))
        let exp = dir + "/prov/" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!)
        for t in ["0", "1"] {
            try #"{"experiment": "\#(exp)", "task": "\#(t)", "attempt": 1, "backend": "slurm", "workdir": "\#(dir)"}"#.write(
                toFile: dir + "/t\(t).json", atomically: true, encoding: .utf8)
        }
        let work = try TestSupport.run(clowdr, ["task", dir + "/t0.json", dir + "/t1.json", "--events", dir + "/seg.ndjson"])
        #expect(work.status == 1, "one of the two tasks fails: \(work.stdout) \(work.stderr)")
        #expect(work.stdout == "task 0 attempt 1: succeeded\ntask 1 attempt 1: failed\n")
        #expect(!(try TestSupport.run(clowdr, ["events", exp]).stdout.contains("task_started")), "the worker never writes the log")
        let first = try TestSupport.run(clowdr, ["ingest", exp, dir + "/seg.ndjson"])
        #expect(first.status == 0 && first.stdout.contains("0 already present"))
        #expect(try TestSupport.run(clowdr, ["ingest", exp, dir + "/seg.ndjson"]).stdout.contains("0 events added"))
        #expect(try attempts(dir).map(\.state) == ["succeeded", "failed"])
        // The worker records what it ran, not the submission: its controller records that, with the scheduler's id.
        let events = try TestSupport.run(clowdr, ["events", "--no-samples", exp]).stdout
        #expect(events.contains(#""type":"task_started""#) && !events.contains(#""type":"task_submitted""#))
        #expect(try TestSupport.run(clowdr, ["fsck", exp]).status == 0)
        try #"{"experiment": "\#(exp)", "attempt": 1}"#.write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
        let bad = try TestSupport.run(clowdr, ["task", dir + "/bad.json"])
        #expect(bad.status == 2 && bad.stderr.contains("bad.json: /task"))
    }

    /// A project whose task i exits `exits[i]`, planned (`--setup`), with a task file `t<i>.json` for each task's first
    /// attempt on `backend`, for `clowdr task`.
    func workerProject(exits: [Int], backend: String) throws -> (dir: String, experiment: String) {
        let dir = try project(
            "exit [C]", inputs: #"[{"id":"c","name":"c","type":"Number","integer":true,"value-key":"[C]"}]"#, invocation: #"{"c":\#(exits)}"#)
        let setup = try TestSupport.run(
            clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "c", "--setup", "--invocation-files"])
        try #require(setup.status == 0, "\(setup.stderr)")
        let exp = dir + "/prov/" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!)
        for t in exits.indices {
            try #"{"experiment": "\#(exp)", "task": "\#(t)", "attempt": 1, "backend": "\#(backend)", "workdir": "\#(dir)"}"#.write(
                toFile: dir + "/t\(t).json", atomically: true, encoding: .utf8)
        }
        return (dir, exp)
    }

    @Test("every command that reads an experiment first ingests what its workers wrote in its segments folder, and only what is new")
    func readersIngest() throws {
        let (dir, exp) = try workerProject(exits: [0, 5], backend: "slurm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Into DIR/segments, as workers on a cluster write.
        #expect(try TestSupport.run(clowdr, ["task", dir + "/t0.json"]).status == 0)
        let status = try TestSupport.run(clowdr, ["status", exp])
        #expect(status.status == 0 && status.stdout.contains("succeeded"), "\(status.stdout) \(status.stderr)")
        #expect(try attempts(dir).map(\.state) == ["succeeded"])
        #expect(try TestSupport.run(clowdr, ["task", dir + "/t1.json"]).status == 1)
        let query = try TestSupport.run(clowdr, ["query", "--status", "failed", "--format", "csv", exp])
        #expect(query.stdout.contains("\n1,1,failed,5,"), "\(query.stdout) \(query.stderr)")
        // Nothing new: the log is not written at all.
        let before = try Data(contentsOf: URL(fileURLWithPath: exp + "/clowdr.db"))
        for command in [["status", exp], ["query", exp], ["export", "json", exp, "-o", dir + "/e.json"], ["fsck", exp]] {
            #expect(try TestSupport.run(clowdr, command).status == 0, "\(command)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: exp + "/clowdr.db")) == before)
        let wal = (try? FileManager.default.attributesOfItem(atPath: exp + "/clowdr.db-wal"))?[.size] as? Int
        #expect((wal ?? 0) == 0, "no write-ahead log grew")
        let events = try TestSupport.run(clowdr, ["events", "--no-samples", exp]).stdout
        #expect(events.components(separatedBy: #""type":"task_exited""#).count == 3, "each exit once")
    }

    @Test("clowdr task records each tool's own peak memory, not the worker's")
    func workerPeaks() throws {
        let dir = try project(
            "python3 -c [S]", inputs: #"[{"id":"s","name":"s","type":"String","value-key":"[S]"}]"#,
            invocation: #"{"s":["import time; time.sleep(0.3)", "b = b'x' * (100 << 20)"]}"#)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let setup = try TestSupport.run(
            clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "s", "--setup", "--invocation-files"])
        #expect(setup.status == 0)
        let exp = dir + "/prov/" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!)
        for t in ["0", "1"] {
            // The 100 MiB task is often over before its first sample (0.1 s): its peak is then the kernel's, through
            // clowdr-shim, which must not carry the worker's own size.
            try #"{"experiment": "\#(exp)", "task": "\#(t)", "attempt": 1, "workdir": "\#(dir)", "sample_interval": 60}"#.write(
                toFile: dir + "/t\(t).json", atomically: true, encoding: .utf8)
        }
        #expect(try TestSupport.run(clowdr, ["task", dir + "/t0.json", dir + "/t1.json", "--events", dir + "/seg.ndjson"]).status == 0)
        #expect(try TestSupport.run(clowdr, ["ingest", exp, dir + "/seg.ndjson"]).status == 0)
        let peaks = try attempts(dir).map { $0.peak ?? 0 }
        print("peak memory (clowdr task): idle python \(peaks[0] >> 10) KiB, python with 100 MiB \(peaks[1] >> 10) KiB")
        #expect(peaks[0] > 0 && peaks[0] < 16 << 20, "an idle python recorded \(peaks[0]) bytes")
        #expect(peaks[1] > 100 << 20 && peaks[1] < peaks[0] + (104 << 20), "python holding 100 MiB recorded \(peaks[1]) bytes")
    }

    @Test("clowdr task with its task files, array map and segment named relative to the current folder")
    func workerRelativePaths() throws {
        let (dir, exp) = try workerProject(exits: [0, 3], backend: "local")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "t1.json\n".write(toFile: dir + "/m.map", atomically: true, encoding: .utf8)
        // Was: "The file doesn't exist" with no name (the segment's folder taken as ""), and the map's task files
        // looked for at the root.
        let direct = try TestSupport.run("/bin/sh", ["-c", "cd \"$0\" && exec \"$1\" task t0.json --events seg.ndjson", dir, clowdr])
        #expect(direct.status == 0, "\(direct.stderr)")
        let array = try TestSupport.run(
            "/bin/sh", ["-c", "cd \"$0\" && exec \"$1\" task --array m.map --events seg2.ndjson", dir, clowdr],
            environment: ["SLURM_ARRAY_TASK_ID": "0"])
        #expect(array.status == 1, "the element's task exits 3: \(array.stderr)")
        #expect(try TestSupport.run(clowdr, ["ingest", exp, dir + "/seg.ndjson", dir + "/seg2.ndjson"]).status == 0)
        #expect(try attempts(dir).map(\.exit) == [0, 3])
    }
}

/// A containerised task run for real with podman (`scripts/containers/make-test-image.sh`, run by `make test`,
/// installs podman and builds the busybox image).
@Suite(
    "clowdr run in a podman container",
    .enabled(
        if: TestSupport.binary("clowdr") != nil && TestSupport.hasBusyboxImage,
        "needs podman and localhost/clowdr-busybox:test: run scripts/containers/make-test-image.sh (make test does)"))
struct ContainerRunTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    @Test("the container's processes are in the task's tree; its output comes back through the working-directory mount")
    func podman() throws {
        let dir = try TestSupport.temporaryDirectory("podman")
        let d =
            #"{"name":"ct","tool-version":"1","description":"d","schema-version":"0.5","command-line":"dd if=/dev/zero bs=[MB]M count=1 2>/dev/null | (sleep 2; wc -c > [OUT])","container-image":{"type":"docker","image":"localhost/clowdr-busybox:test"},"inputs":[{"id":"mb","name":"mb","type":"Number","integer":true,"value-key":"[MB]"}],"output-files":[{"id":"out","name":"out","value-key":"[OUT]","path-template":"count_[MB].txt"}]}"#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"mb": 50}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let env = ["CONTAINERS_CONF": TestSupport.repositoryRoot + "/scripts/containers/containers.conf"]
        let run = try TestSupport.run(
            clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "-w", dir, "--container-runtime", "podman"],
            environment: env)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(try String(contentsOfFile: dir + "/count_50.txt", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "52428800")
        let exp = dir + "/prov/" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!)
        let samples = try TestSupport.run(clowdr, ["events", exp]).stdout.split(separator: "\n").filter { $0.contains(#""type":"sample""#) }
        let processes = samples.compactMap { line -> Int? in
            guard let r = line.range(of: #""processes":"#) else { return nil }
            return Int(line[r.upperBound...].prefix { $0.isNumber })
        }
        #expect((processes.max() ?? 0) >= 5, "podman, conmon and the container's processes are sampled: \(processes)")
        let db = try Connection(path: exp + "/clowdr.db", mode: .readOnly)
        let peak = try db.scalar("SELECT peak_rss FROM attempts")?.int64 ?? 0
        #expect(peak >= 50 << 20, "dd's 50 MiB buffer inside the container is in the peak: \(peak >> 20) MiB")
        #expect(try TestSupport.run(clowdr, ["events", "--no-samples", exp]).stdout.contains(#""sha256":""#))
    }

    @Test(
        "files used inside the container: a mounted dataset's by their host paths, the output through the working-directory mount, the image's own marked with the image"
    )
    func observedFiles() throws {
        let dir = (try TestSupport.temporaryDirectory("podman-files") as NSString).resolvingSymlinksInPath
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/dataset/sub-01", withIntermediateDirectories: true)
        try "data\n".write(toFile: dir + "/dataset/sub-01/in.txt", atomically: true, encoding: .utf8)
        let d =
            #"{"name":"ct","tool-version":"1","description":"d","schema-version":"0.5","command-line":"cat /data/sub-[P]/in.txt > out_[P].txt && ls /data > /dev/null","container-image":{"type":"docker","image":"localhost/clowdr-busybox:test"},"inputs":[{"id":"p","name":"p","type":"String","value-key":"[P]"}],"output-files":[{"id":"out","name":"out","path-template":"out_[P].txt"}]}"#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"p": "01"}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let env = ["CONTAINERS_CONF": TestSupport.repositoryRoot + "/scripts/containers/containers.conf"]
        let run = try TestSupport.run(
            clowdr,
            [
                "run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "-w", dir, "--container-runtime", "podman", "-v",
                dir + "/dataset:/data:ro", "--derivatives", dir + "/derivatives",
            ],
            environment: env)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        let exp = dir + "/prov/" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!)
        let table = try TestSupport.run(clowdr, ["query", exp, "--files", "0", "--format", "tsv"])
        let rows = table.stdout.split(separator: "\n").dropFirst().map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        let input = rows.first { $0[3] == dir + "/dataset/sub-01/in.txt" }
        #expect(input?[2] == "read", "\(table.stdout)")
        #expect((input?[5].count ?? 0) == 64 && input?[7] == "", "the host file, hashed: \(table.stdout)")
        #expect(rows.contains { $0[3] == dir + "/out_01.txt" && ($0[2] == "created" || $0[2] == "written") && $0[5].count == 64 }, "\(table.stdout)")
        #expect(rows.contains { $0[2] == "listed" && $0[3] == dir + "/dataset" }, "\(table.stdout)")
        #expect(rows.contains { $0[7] == "localhost/clowdr-busybox:test" && $0[2] == "executed" }, "the image's own programs: \(table.stdout)")
        #expect(!rows.contains { $0[3].hasPrefix("/data/") }, "no container path of a mounted folder: \(table.stdout)")
        // The image as podman resolved it: its id (and repository digest when it has one), shown by query --task.
        let detail = try TestSupport.run(clowdr, ["query", exp, "--task", "0", "--format", "tsv"], environment: env).stdout
        let inspected = try TestSupport.run(
            "/bin/sh", ["-c", "CONTAINERS_CONF=\(env["CONTAINERS_CONF"]!) podman image inspect --format '{{.Id}}' localhost/clowdr-busybox:test"]
        ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!inspected.isEmpty && detail.contains("image_id\t\(inspected)"), "\(detail)")
        #expect(detail.contains("image\tlocalhost/clowdr-busybox:test (podman)"), "\(detail)")
        // The crate names the image the attempt ran in: registry, name, tag and what podman resolved.
        #expect(try TestSupport.run(clowdr, ["export", "rocrate", exp, "-o", dir + "/crate"], environment: env).status == 0)
        let crate =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/crate/ro-crate-metadata.json"))) as! [String: Any]
        let entities = crate["@graph"] as! [[String: Any]]
        let image = try #require(entities.first { $0["@type"] as? String == "ContainerImage" })
        #expect(image["registry"] as? String == "localhost" && image["name"] as? String == "clowdr-busybox" && image["tag"] as? String == "test")
        // sha256: the repository digest (what `podman pull NAME@sha256:...` fetches) when the image has one; identifier: its id.
        let digests = try TestSupport.run(
            "/bin/sh",
            ["-c", "CONTAINERS_CONF=\(env["CONTAINERS_CONF"]!) podman image inspect --format '{{json .RepoDigests}}' localhost/clowdr-busybox:test"]
        ).stdout
        let sha = try #require(image["sha256"] as? String)
        #expect(digests.contains("@sha256:" + sha) || sha == inspected, "\(image) \(digests)")
        #expect(image["identifier"] as? String == inspected, "\(image)")
        let attempt = try #require(entities.first { $0["@id"] as? String == "#attempt/0/1" })
        #expect((attempt["containerImage"] as? [String: Any])?["@id"] as? String == image["@id"] as? String)
        // So does the derivatives' description: the tool's container, by its digest.
        let description =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/derivatives/dataset_description.json")))
            as! [String: Any]
        let container = ((description["GeneratedBy"] as? [[String: Any]])?.first?["Container"] as? [String: Any]) ?? [:]
        #expect(container["Type"] as? String == "docker" && container["Tag"] as? String == "localhost/clowdr-busybox:test", "\(description)")
        #expect(container["URI"] as? String == "docker://localhost/clowdr-busybox@sha256:" + sha || !digests.contains("sha256"), "\(container)")
    }
}
