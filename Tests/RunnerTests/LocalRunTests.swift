import Backends
import EventLog
import Foundation
import Runner
import TestSupport
import Testing

/// Runs, reruns and a cancellation on the local backend, in-process: the controller, the pool and the executor
/// without the command line in between.
@Suite("Local runs, in-process")
struct LocalRunTests {
    func states(_ layout: ExperimentLayout) throws -> [String: [AttemptState]] {
        try EventLog(path: layout.log, mode: .readOnly).projectedTasks().mapValues { $0.attempts.map(\.state) }
    }

    @Test("mixed exits: each task's attempt ended as its command did; rerun failed runs those again, as attempt 2")
    func mixedThenRerunFailed() throws {
        let r = try SweepTool.request("exit [K]", [0, 3, 0, 1])
        let summary = try BackendRuns.start(r, on: .init(backend: .local), cancel: CancellationFlag())
        #expect(summary.ended == ["0": .succeeded, "1": .failed, "2": .succeeded, "3": .failed] && !summary.allSucceeded)
        #expect(summary.planned == 4 && summary.launched == 4)
        let rerun = try BackendRuns.rerun(
            summary.layout, mode: .failed, dev: false, on: .init(backend: .local), options: r.options, overrides: [:], cancel: CancellationFlag())
        #expect(rerun.ended == ["1": .failed, "3": .failed] && rerun.launched == 2)
        let s = try states(summary.layout)
        #expect(s["1"] == [.failed, .failed] && s["0"] == [.succeeded])
        #expect(try EventLog(path: summary.layout.log, mode: .readOnly).fsck().ok)
    }

    @Test("cancelled mid-run: what ran and what waited end cancelled; rerun incomplete runs exactly those, to success")
    func cancelThenRerunIncomplete() throws {
        let r = try SweepTool.request("test -e fast && exit 0; sleep 30 || true; echo [K]", [0, 1, 2, 3])
        let cancel = CancellationFlag()
        let summary = try BackendRuns.start(r, on: .init(backend: .local), cancel: cancel) { layout, _ in
            // Cancel once two attempts run (the other two wait for a slot).
            Thread.detachNewThread {
                try? TestSupport.eventually("two attempts running") {
                    try EventLog(path: layout.log, mode: .readOnly).projectedTasks().values.filter { $0.latest?.state == .running }.count == 2
                }
                cancel.cancel("the test")
            }
        }
        #expect(Set(try states(summary.layout).values.compactMap(\.last)) == [.cancelled])
        _ = FileManager.default.createFile(atPath: r.options.workingDirectory + "/fast", contents: nil)
        let rerun = try BackendRuns.rerun(
            summary.layout, mode: .incomplete, dev: false, on: .init(backend: .local), options: r.options, overrides: [:],
            cancel: CancellationFlag())
        #expect(rerun.ended.count == 4 && rerun.allSucceeded, "\(rerun.ended)")
        #expect(try states(summary.layout).values.allSatisfy { $0 == [.cancelled, .succeeded] })
    }
}

/// A tool that runs a command line (with `[K]`) once per value of `k`, swept, in a new folder: the run request.
enum SweepTool {
    static func request(_ commandLine: String, _ values: [Int], jobs: Int = 2) throws -> RunRequest {
        let dir = try TestSupport.temporaryDirectory("sweep")
        let descriptor = """
            {"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":\(String(decoding: try JSONEncoder().encode(commandLine), as: UTF8.self)),
             "inputs":[{"id":"k","name":"k","type":"Number","integer":true,"value-key":"[K]"}]}
            """
        try descriptor.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try "{\"k\": [\(values.map(String.init).joined(separator: ","))]}".write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        var r = RunRequest(
            descriptorPath: dir + "/d.json", invocationPath: dir + "/i.json", provdir: dir + "/prov",
            options: RunOptions(jobs: jobs, workingDirectory: dir))
        r.sweeps = ["k"]
        return r
    }
}
