import Backends
import EventLog
import Foundation
import Runner

/// `clowdr-bench worker`: the worker's overhead, as on a cluster's node (no scheduler needed): from `clowdr task`
/// starting to its tool's exec (the tool `sh -c 'date +%s%N'`), beside the same stamps around a bare exec of
/// `sh -c`; and per task with 100 tasks in one element (`--groupby 100`).
func workerBenchmark() throws {
    let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    let dir = NSTemporaryDirectory() + "clowdr-workerbench-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    func f(_ x: Double, _ d: Int = 2) -> String { String(format: "%.\(d)f", x) }
    emit("worker benchmark: clowdr task on this machine" + (Shim.path.map { ", attempts started by \($0)" } ?? ""))
    try
        #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"date +%s%N > [N].t","inputs":[{"id":"n","name":"n","type":"Number","integer":true,"value-key":"[N]"}]}"#
        .write(toFile: dir + "/stamp.json", atomically: true, encoding: .utf8)
    try "{\"n\": [\((0..<100).map(String.init).joined(separator: ","))]}".write(toFile: dir + "/i100.json", atomically: true, encoding: .utf8)
    var setup = RunRequest(
        descriptorPath: dir + "/stamp.json", invocationPath: dir + "/i100.json", provdir: dir + "/wprov",
        options: RunOptions(jobs: 1, workingDirectory: dir))
    setup.sweeps = ["n"]
    setup.setupOnly = true
    setup.invocationFiles = true
    let wlayout = try BackendRuns.start(setup, on: .init(backend: .local), cancel: CancellationFlag()).layout
    for t in 0..<100 {
        try #"{"experiment": "\#(wlayout.directory)", "task": "\#(t)", "attempt": 1, "backend": "slurm", "workdir": "\#(dir)"}"#.write(
            toFile: dir + "/t\(t).json", atomically: true, encoding: .utf8)
    }
    // The time from a stamp taken just before exec'ing clowdr to the tool's own stamp.
    var toExec: [Double] = []
    for k in 0..<10 {
        let r = try sh("date +%s%N > \(dir)/start; exec \(bin)/clowdr task \(dir)/t\(k).json --events \(dir)/w\(k).ndjson >/dev/null")
        precondition(r.status == 0, "clowdr task failed")
        func stamp(_ path: String) throws -> Double {
            Double(try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))! / 1e6
        }
        toExec.append(try stamp(dir + "/\(k).t") - stamp(dir + "/start"))
    }
    let bare = try (0..<10).map { _ -> Double in
        _ = try sh("date +%s%N > \(dir)/start; exec sh -c 'date +%s%N > \(dir)/bare.t'")
        func stamp(_ path: String) throws -> Double {
            Double(try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))! / 1e6
        }
        return try stamp(dir + "/bare.t") - stamp(dir + "/start")
    }.min()!
    let group = try sh("\(bin)/clowdr task \((0..<100).map { "\(dir)/t\($0).json" }.joined(separator: " ")) --events \(dir)/g.ndjson >/dev/null")
    let bareGroup = try sh("for i in $(seq 100); do sh -c 'date +%s%N > /dev/null'; done").seconds
    emit(
        "  worker: clowdr task start to the tool's exec: median \(f(toExec.sorted()[5], 1)) ms, best \(f(toExec.min()!, 1)) ms  [goal <= 5 ms] (the same stamps around a bare exec of sh -c: \(f(bare, 1)) ms)"
    )
    emit(
        "  worker, 100 tasks in one element (--groupby 100): \(f(group.seconds * 10, 1)) ms per task beside \(f(bareGroup * 10, 1)) ms for the bare commands: \(f((group.seconds - bareGroup) * 10, 1)) ms of clowdr per task  [goal <= 1 ms]"
    )

}
