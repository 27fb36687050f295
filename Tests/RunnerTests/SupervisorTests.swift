import Backends
import EventLog
import Foundation
import Runner
import TestSupport
import Testing

/// The clowdr-shim server that starts every attempt: small while it waits, and its faults: killed mid-attempt, the
/// attempt ends by its samples, marked as such, none of its processes is left, and later attempts run.
@Suite("The attempts' supervisor (clowdr-shim)", .serialized, .enabled(if: Shim.path != nil, "clowdr-shim was not built: run swift build"))
struct SupervisorTests {
    /// A process as /proc shows it.
    struct Proc {
        var pid: Int32
        var parent: Int32
        var name: String
        var commandLine: String
    }

    static func processes() -> [Proc] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
            else { return nil }
            let rest = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            guard rest.count > 2, let parent = Int32(rest[1]) else { return nil }
            let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))).map {
                String(decoding: $0.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            }
            return Proc(pid: pid, parent: parent, name: String(stat[stat.index(after: open)..<close]), commandLine: cmdline ?? "")
        }
    }

    /// Resident KiB of a process.
    static func rss(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return line.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? -1
    }

    /// Runs `command` for the values 0..<count at -j 1 in a thread of its own, calls `during` while the first attempt
    /// runs (its marker's process found), and returns the experiment's replayed state.
    func run(_ command: String, count: Int, marker: String, during: (_ server: Proc, _ tool: Proc) throws -> Void) throws
        -> ExperimentState
    {
        let dir = try TestSupport.temporaryDirectory("supervisor")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let descriptor = """
            {"name":"s","tool-version":"1","description":"d","schema-version":"0.5","command-line":"\(command)",
             "inputs":[{"id":"n","name":"n","type":"Number","integer":true,"value-key":"[N]"}]}
            """
        try descriptor.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try "{\"n\": [\((0..<count).map(String.init).joined(separator: ","))]}".write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        var options = RunOptions(jobs: 1, workingDirectory: dir)
        (options.denseInterval, options.sampleInterval) = (0.05, 0.05)
        var request = RunRequest(descriptorPath: dir + "/d.json", invocationPath: dir + "/i.json", provdir: dir + "/prov", options: options)
        request.sweeps = ["n"]
        let planned = request
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<RunSummary, any Error>?
        Thread.detachNewThread {
            outcome = Result { try BackendRuns.start(planned, on: .init(backend: .local), cancel: CancellationFlag()) }
            done.signal()
        }
        var found: (Proc, Proc)?
        try TestSupport.eventually("the first attempt's tool runs under the server") {
            let all = Self.processes()
            let byPID = Dictionary(all.map { ($0.pid, $0) }, uniquingKeysWith: { a, _ in a })
            guard let tool = all.first(where: { $0.commandLine.hasPrefix("sleep \(marker)") }) else { return false }
            // Up from the tool (through its shell) to the server.
            var server = byPID[tool.parent]
            while let a = server, a.name != "clowdr-shim" { server = byPID[a.parent] }
            guard let server else { return false }
            found = (server, tool)
            return true
        }
        let (server, tool) = try #require(found)
        #expect(server.parent == getpid(), "the server is this process's child")
        try during(server, tool)
        done.wait()
        let summary = try #require(try outcome?.get())
        return try EventLog(path: summary.layout.log, mode: .readOnly).replay()
    }

    @Test("while a command runs, the server holds under 1 MB resident")
    func small() throws {
        let state = try run("sleep 1.[N]", count: 1, marker: "1.0") { server, _ in
            usleep(300_000)
            let resident = Self.rss(server.pid)
            print("clowdr-shim while a command runs: \(resident) KiB resident")
            // Before it handed its code back: 1,656 KiB, counted by a scheduler's sum as the task's.
            #expect(resident > 0 && resident < 1024)
        }
        #expect(state.tasks["0"]?.latest?.state == .succeeded)
    }

    @Test("the server killed with SIGKILL mid-attempt: the attempt ends by its samples, its processes are stopped, later attempts run")
    func serverKilled() throws {
        var toolPID: Int32 = 0
        let state = try run("if [ [N] = 0 ]; then sleep 3.07 & sleep 3.08; wait; fi", count: 2, marker: "3.08") { server, tool in
            toolPID = tool.pid
            usleep(200_000)
            #expect(kill(server.pid, SIGKILL) == 0)
        }
        let first = try #require(state.tasks["0"]?.latest)
        #expect(first.state == .failed)
        #expect(first.figures == .samples, "figures from \(first.figures?.rawValue ?? "nothing")")
        #expect(first.failureReason?.contains("clowdr-shim") == true, "\(first.failureReason ?? "no reason")")
        #expect((first.peakRSS ?? 0) > 0)
        // Gone, or a zombie waiting for whichever ancestor reaps orphans here: not running.
        let toolState = (try? String(contentsOfFile: "/proc/\(toolPID)/stat", encoding: .utf8))?.split(separator: ")").last?.split(separator: " ")
            .first
        #expect(toolState == nil || toolState == "Z", "the attempt's tool (pid \(toolPID)) outlived it: state \(toolState ?? "?")")
        let left = Self.processes().filter { $0.commandLine.hasPrefix("sleep 3.07") || $0.commandLine.hasPrefix("sleep 3.08") }
        #expect(left.isEmpty, "left behind: \(left.map(\.commandLine))")
        let second = try #require(state.tasks["1"]?.latest)
        #expect(second.state == .succeeded && second.figures == .exit, "task 1: \(second.state), figures \(second.figures?.rawValue ?? "none")")
    }

    @Test("an orphan that ended before its command is counted in the command's CPU; one of another attempt is not")
    func orphansCounted() throws {
        // The inner subshell burns about 0.2 s of CPU, orphaned at once (its parent exits), and ends as a zombie under
        // `sleep`, which the command's shell became and which never waits: it comes to the server when sleep ends.
        let state = try run(
            "if [ [N] = 0 ]; then ( (i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done) & ); exec sleep 1.01; else true; fi", count: 2,
            marker: "1.01"
        ) { _, _ in }
        let first = try #require(state.tasks["0"]?.latest)
        let cpu = (first.cpuUser ?? 0) + (first.cpuSystem ?? 0)
        print("orphan's CPU counted: \(cpu) s")
        #expect(first.state == .succeeded)
        #expect(cpu > 0.1, "the orphan's CPU is missing: \(cpu) s")
        let second = try #require(state.tasks["1"]?.latest)
        #expect(((second.cpuUser ?? 0) + (second.cpuSystem ?? 0)) < 0.05)
    }
}
