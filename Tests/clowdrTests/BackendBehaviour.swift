import EventLog
import Foundation
import SQLite
import TestSupport
import Testing

/// What every backend must do, written once and run against each (as litestream runs one suite against every
/// replica): mixed exits then `rerun failed`, a cancelled run then `rerun incomplete`, and a controller killed
/// with SIGKILL then resumed. `LocalBackendTests` runs it on this machine; `SlurmTests` on the real cluster.
struct BackendBehaviour {
    /// `local`, `slurm`.
    let backend: String
    /// What the backend's runs need besides the experiment (a pool of 2, a throttle of 2...).
    let arguments: [String]
    let environment: [String: String]
    /// The native ids the backend gives (`PID-N`, `A_T`).
    let nativeID: String
    /// How many attempts the backend runs at once with `arguments` (nil: as many as it likes, as AWS Batch does).
    var runsAtOnce: Int? = 2
    /// How a run whose controller died is taken up: `watch` where the scheduler kept its attempts, else
    /// `rerun incomplete` (the local pool died with its controller).
    var resumesByWatching: Bool { backend != "local" }
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    /// A folder with a descriptor whose command line is `template` (one integer input K), an invocation sweeping K
    /// over `values`, and the tasks' working folder.
    func project(_ template: String, _ values: [Int]) throws -> String {
        let dir = try TestSupport.temporaryDirectory("backend-\(backend)")
        let d =
            #"{"name":"s","tool-version":"1","description":"d","schema-version":"0.5","command-line":"\#(template)","inputs":[{"id":"k","name":"k","type":"Number","integer":true,"value-key":"[K]"}]}"#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try "{\"k\": \(values)}".write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        return dir
    }

    func clowdr(_ arguments: [String]) throws -> TestSupport.Output {
        try TestSupport.run(clowdr, arguments, environment: environment)
    }

    func runArguments(_ dir: String) -> [String] {
        ["run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--provdir", dir + "/prov", "-w", dir, "--backend", backend] + arguments(dir)
    }

    /// The backend's arguments, `{dir}` replaced by the project's folder.
    func arguments(_ dir: String) -> [String] { arguments.map { $0.replacingOccurrences(of: "{dir}", with: dir) } }

    /// `clowdr run` in the background, for a test to act on while it runs.
    func start(_ dir: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: clowdr)
        p.arguments = runArguments(dir)
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Every attempt, in task then attempt order.
    func attempts(_ dir: String) throws -> [(task: Int, attempt: Int, state: String, nativeID: String?, exit: Int64?)] {
        try rows(dir, "SELECT task, attempt, state, native_id, exit_code FROM attempts ORDER BY CAST(task AS INTEGER), attempt").map {
            (Int($0[0].string!)!, Int($0[1].int64!), $0[2].string!, $0[3].string, $0[4].int64)
        }
    }

    /// Each task's latest attempt's state.
    func latest(_ dir: String) throws -> [Int: String] {
        var out: [Int: String] = [:]
        for a in try attempts(dir) { out[a.task] = a.state }
        return out
    }

    func rows(_ dir: String, _ sql: String) throws -> [[SQLiteValue]] {
        guard let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").filter({ !$0.hasSuffix(".creating") }).sorted().last
        else { return [] }
        return try Connection(path: dir + "/prov/" + exp + "/clowdr.db", mode: .readOnly).rows(sql)
    }

    /// Waits (at most `seconds`) until `condition` holds of the attempts; throws, naming `what` and the attempts as
    /// they stand, when it does not.
    func wait(
        _ what: String, _ dir: String, seconds: Double = 60,
        _ condition: ([(task: Int, attempt: Int, state: String, nativeID: String?, exit: Int64?)]) -> Bool
    ) throws {
        do { try TestSupport.eventually(what, timeout: seconds, poll: 0.1) { condition(try attempts(dir)) } } catch let e as TestSupport.TimedOut {
            throw TestSupport.TimedOut(what: "\(e.what); the attempts: \((try? attempts(dir)) ?? [])", seconds: e.seconds)
        }
    }

    /// The log is sound and every attempt has at most one final word.
    func checkRecord(_ dir: String, _ comment: Comment? = nil) throws {
        let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!
        let fsck = try clowdr(["fsck", dir + "/prov/" + exp])
        #expect(fsck.status == 0, "fsck: \(fsck.stdout) \(fsck.stderr)")
        let doubled = try rows(
            dir,
            """
            SELECT task, attempt, count(*) FROM events WHERE type IN ('task_exited', 'task_ended', 'task_launch_failed')
            GROUP BY task, attempt HAVING count(*) > 1
            """)
        #expect(doubled.isEmpty, "attempts with two final events: \(doubled)")
    }

    /// Mixed exit codes: each attempt submitted once with the backend's native id, each state and exit code right;
    /// then `rerun failed` runs exactly the failed tasks again (they succeed the second time).
    func mixedExitsThenRerunFailed() throws {
        let codes = (0..<12).map { $0 % 3 == 1 ? $0 % 5 + 1 : 0 }
        let dir = try project("test -e ran.[K] && exit 0; touch ran.[K]; exit $(( [K] % 3 == 1 ? [K] % 5 + 1 : 0 ))", Array(0..<12))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try clowdr(runArguments(dir))
        let failed = codes.filter { $0 != 0 }.count
        #expect(run.status == 1, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("12 attempts: \(12 - failed) succeeded, \(failed) failed"), "\(run.stdout)")
        let all = try attempts(dir)
        #expect(all.count == 12)
        for a in all {
            #expect(a.state == (codes[a.task] == 0 ? "succeeded" : "failed"), "task \(a.task)")
            #expect(a.exit == Int64(codes[a.task]), "task \(a.task) exit")
            #expect(a.nativeID?.range(of: nativeID, options: .regularExpression) != nil, "native id \(a.nativeID ?? "none")")
        }
        let submitted = try rows(dir, "SELECT count(*), count(DISTINCT task) FROM events WHERE type = 'task_submitted'")
        #expect(submitted.first?.map(\.int64) == [12, 12], "one task_submitted per task")
        try checkRecord(dir)
        let status = try clowdr(["status", dir + "/prov"]).stdout
        #expect(status.contains("backend \(backend)") && status.contains("failed: task 1 (k=1) attempt 1: exit 2"), "\(status)")

        // No --backend: a rerun runs where the experiment ran.
        let rerun = try clowdr(["rerun", "failed", dir + "/prov", "-w", dir] + arguments(dir))
        #expect(rerun.status == 0 && rerun.stdout.contains("\(failed) attempts: \(failed) succeeded"), "\(rerun.stdout) \(rerun.stderr)")
        let after = try attempts(dir)
        #expect(Set(after.filter { $0.attempt == 2 }.map(\.task)) == Set(codes.indices.filter { codes[$0] != 0 }), "exactly the failed tasks")
        #expect(after.allSatisfy { $0.nativeID?.range(of: nativeID, options: .regularExpression) != nil }, "on the same backend: \(after)")
        #expect(try latest(dir).values.allSatisfy { $0 == "succeeded" })
        try checkRecord(dir)
    }

    /// SIGTERM to the controller while two attempts run and two wait: all four end cancelled (never started ones
    /// too), the controller exits 1; then `rerun incomplete` runs exactly those four, which succeed.
    func cancelThenRerunIncomplete() throws {
        let dir = try project("test -e fast && exit 0; sleep 6[K]", [0, 1, 2, 3])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try start(dir)
        try wait("\(runsAtOnce.map(String.init) ?? "some") attempts running, the others waiting", dir) { rows in
            let n = rows.filter { $0.state == "running" }.count
            return rows.count == 4 && (runsAtOnce.map { n == $0 } ?? (n >= 1))
        }
        let stopped = Date()
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationStatus == 1)
        #expect(Date().timeIntervalSince(stopped) < 45, "stopped, not waited for")
        let ended = try attempts(dir)
        #expect(ended.map(\.state) == ["cancelled", "cancelled", "cancelled", "cancelled"], "\(ended)")
        try checkRecord(dir)

        _ = FileManager.default.createFile(atPath: dir + "/fast", contents: nil)
        let rerun = try clowdr(["rerun", "incomplete", dir + "/prov", "-w", dir, "--backend", backend] + arguments(dir))
        #expect(rerun.status == 0 && rerun.stdout.contains("4 attempts: 4 succeeded"), "\(rerun.stdout) \(rerun.stderr)")
        #expect(try latest(dir) == [0: "succeeded", 1: "succeeded", 2: "succeeded", 3: "succeeded"])
        try checkRecord(dir)
    }

    /// The controller killed with SIGKILL while attempts run, then resumed: every task ends with its right state,
    /// nothing lost or doubled; resuming again records nothing.
    func controllerKilledThenResumed() throws {
        let dir = try project("sleep 2; exit [K]", [0, 3, 0, 0])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try start(dir)
        try wait("all submitted, some running", dir) { rows in
            rows.count == 4 && rows.allSatisfy { $0.nativeID != nil } && rows.contains { $0.state == "running" }
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        if resumesByWatching {
            // The scheduler still holds what was running: status and rerun agree, and both name watch.
            let status = try clowdr(["status", dir + "/prov"])
            if status.stdout.contains("no controller follows them") {
                #expect(status.stdout.contains("clowdr watch"), "\(status.stdout)")
                let rerun = try clowdr(["rerun", "incomplete", dir + "/prov", "-w", dir, "--backend", backend] + arguments(dir))
                // (Unless the attempts ended in between: then nothing is incomplete either. Never run twice.)
                #expect(
                    rerun.status == 0 && !rerun.stdout.contains("submitted")
                        && (rerun.stdout.contains("clowdr watch") || rerun.stdout.contains("no task is incomplete")),
                    "\(rerun.stdout) \(rerun.stderr)")
            }
        }
        let resume =
            resumesByWatching
            ? ["watch", dir + "/prov"] : ["rerun", "incomplete", dir + "/prov", "-w", dir, "--backend", backend] + arguments(dir)
        let resumed = try clowdr(resume)
        #expect(resumed.stdout.range(of: #"[1-4] attempts: "#, options: .regularExpression) != nil, "\(resumed.stdout) \(resumed.stderr)")
        let final = try attempts(dir)
        #expect(try latest(dir) == [0: "succeeded", 1: "failed", 2: "succeeded", 3: "succeeded"], "\(final)")
        try checkRecord(dir)
        let events = try rows(dir, "SELECT count(*) FROM events")
        let again = try clowdr(resume)
        // Nothing left to rerun; a watch, with nothing left to follow, tells how the experiment's attempts ended.
        #expect(
            resumesByWatching ? again.status == 1 && again.stdout.contains("4 attempts: 3 succeeded, 1 failed") : again.status == 0,
            "nothing left to follow or rerun: \(again.stdout) \(again.stderr)")
        #expect(try rows(dir, "SELECT count(*) FROM events").first?.first?.int64 == events.first?.first?.int64, "nothing recorded")
    }
}

/// The shared backend behaviour on this machine's pool.
@Suite("the local backend: the behaviour every backend shares", .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"))
struct LocalBackendTests {
    let behaviour = BackendBehaviour(backend: "local", arguments: ["-j", "2"], environment: [:], nativeID: #"^[0-9]+-[0-9]+$"#)

    @Test("mixed exits, then rerun failed") func mixed() throws { try behaviour.mixedExitsThenRerunFailed() }
    @Test("SIGTERM cancels running and waiting attempts, then rerun incomplete") func cancel() throws { try behaviour.cancelThenRerunIncomplete() }
    @Test("the controller killed with SIGKILL, then rerun incomplete") func killed() throws { try behaviour.controllerKilledThenResumed() }
}
