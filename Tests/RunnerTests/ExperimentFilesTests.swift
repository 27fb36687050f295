import Backends
import EventLog
import Foundation
import Runner
import TestSupport
import Testing

/// An attempt's stdout and stderr: relayed through pipes into `tasks/<task>.<attempt>.stdout` and `.stderr`, each
/// file made on its stream's first byte.
@Suite("Attempt output streams")
struct StreamTests {
    /// Runs one task per value of `k` with `commandLine` (which may use `[K]`) and returns the experiment's layout.
    func run(_ commandLine: String, values: [Int], jobs: Int = 2, invocationFiles: Bool = false) throws -> (ExperimentLayout, RunSummary) {
        var request = try SweepTool.request(commandLine, values, jobs: jobs)
        request.invocationFiles = invocationFiles
        let summary = try BackendRuns.start(request, on: .init(backend: .local), cancel: CancellationFlag())
        return (summary.layout, summary)
    }

    func size(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
    }

    @Test("every byte of large, interleaved stdout and stderr reaches its file, in order")
    func large() throws {
        // K MiB on stdout, then a line on stderr, then K more MiB on stdout: more than a pipe holds at once.
        let (layout, summary) = try run("head -c [K]000000 /dev/zero; echo err [K] >&2; seq 1 [K]00000", values: [3, 5])
        #expect(summary.allSucceeded)
        for (task, k) in [("0", 3), ("1", 5)] {
            let out = try Data(contentsOf: URL(fileURLWithPath: layout.stdout(task, 1)))
            let seq = (1...(k * 100_000)).map(String.init).joined(separator: "\n") + "\n"
            #expect(out.count == k * 1_000_000 + seq.utf8.count)
            #expect(out.prefix(k * 1_000_000).allSatisfy { $0 == 0 })
            #expect(String(decoding: out.suffix(from: k * 1_000_000), as: UTF8.self) == seq)
            #expect(try String(contentsOfFile: layout.stderr(task, 1), encoding: .utf8) == "err \(k)\n")
        }
    }

    @Test("a stream that stays empty leaves no file; one that is written gets its file")
    func empty() throws {
        let (layout, summary) = try run("test [K] -eq 0 || echo only stdout [K]", values: [0, 1])
        #expect(summary.allSucceeded)
        #expect(size(layout.stdout("0", 1)) == nil && size(layout.stderr("0", 1)) == nil, "task 0 printed nothing")
        #expect(size(layout.stdout("1", 1)) == "only stdout 1\n".utf8.count && size(layout.stderr("1", 1)) == nil)
        // Nothing else per task: the invocations are in the log.
        #expect(try FileManager.default.contentsOfDirectory(atPath: layout.tasks) == ["1.1.stdout"])
    }

    @Test("output written after the first second, slowly, is all there; the task is not held up by its pipe")
    func slow() throws {
        let (layout, summary) = try run("for i in 1 2 3 4 5; do echo line $i; sleep 0.[K]; done", values: [3])
        #expect(summary.allSucceeded)
        #expect(try String(contentsOfFile: layout.stdout("0", 1), encoding: .utf8) == "line 1\nline 2\nline 3\nline 4\nline 5\n")
    }

    @Test("a process left behind that keeps stdout open does not hold the attempt for long")
    func leftBehind() throws {
        let start = Date()
        let (layout, summary) = try run("echo before; (sleep [K]; echo late) & echo after", values: [8])
        let elapsed = Date().timeIntervalSince(start)
        #expect(summary.allSucceeded)
        #expect(elapsed < 4, "the attempt waited \(elapsed) s for a process it does not wait for")
        #expect(try String(contentsOfFile: layout.stdout("0", 1), encoding: .utf8) == "before\nafter\n")
    }
}

/// `tasks/<task>.json`, the original Clowdr's layout, when asked for (`--invocation-files`): written while the tasks
/// run (by `--setup` before it returns), and restored from the log by a rerun. Without it, none.
@Suite("Invocation files")
struct InvocationFileTests {
    @Test("every task's invocation file is there when the run returns, with the invocation its task_planned holds")
    func written() throws {
        let (layout, summary) = try StreamTests().run("test [K] -ge 0", values: Array(0..<50), invocationFiles: true)
        #expect(summary.allSucceeded)
        for k in 0..<50 {
            let text = try String(contentsOfFile: layout.invocation(String(k)), encoding: .utf8)
            #expect(text == "{\n    \"k\": \(k)\n}\n")
        }
    }

    @Test("a rerun writes the invocation file a stopped run never wrote, from the log, and runs the task")
    func restoredByRerun() throws {
        let (layout, summary) = try StreamTests().run("test [K] -ne 1", values: [0, 1, 2], invocationFiles: true)
        #expect(summary.ended["1"] == .failed)
        let original = try String(contentsOfFile: layout.invocation("1"), encoding: .utf8)
        try FileManager.default.removeItem(atPath: layout.invocation("1"))
        let rerun = try BackendRuns.rerun(
            layout, mode: .failed, dev: false, on: .init(backend: .local), options: RunOptions(jobs: 1, workingDirectory: NSTemporaryDirectory()),
            overrides: [:],
            cancel: CancellationFlag())
        #expect(rerun.ended == ["1": .failed], "task 1 ran again (and failed again)")
        #expect(try String(contentsOfFile: layout.invocation("1"), encoding: .utf8) == original)
    }

    @Test("without --invocation-files, neither a run, --setup nor a rerun writes a file per task")
    func noneByDefault() throws {
        let (layout, summary) = try StreamTests().run("test [K] -ne 1", values: [0, 1, 2])
        #expect(summary.ended["1"] == .failed)
        _ = try BackendRuns.rerun(
            layout, mode: .failed, dev: false, on: .init(backend: .local), options: RunOptions(jobs: 1, workingDirectory: NSTemporaryDirectory()),
            overrides: [:], cancel: CancellationFlag())
        #expect(try FileManager.default.contentsOfDirectory(atPath: layout.tasks).isEmpty)
        var setup = try SweepTool.request("true [K]", Array(0..<20))
        setup.setupOnly = true
        let planned = try BackendRuns.start(setup, on: .init(backend: .local), cancel: CancellationFlag())
        #expect(try FileManager.default.contentsOfDirectory(atPath: planned.layout.tasks).isEmpty)
        setup.invocationFiles = true
        let withFiles = try BackendRuns.start(setup, on: .init(backend: .local), cancel: CancellationFlag())
        #expect(try FileManager.default.contentsOfDirectory(atPath: withFiles.layout.tasks).count == 20)
    }
}
