import Backends
import Boutiques
import EventLog
import Foundation
import JSON
import Query
import Runner
import SQLite

/// N trivial tasks (`true`) through clowdr (monitoring and logging on), through GNU parallel with --joblog, and a
/// bare spawn loop (`xargs -P`), at the same -j; clowdr's own CPU per task; memory at a larger count; and a
/// CPU-bound task with monitoring on and off.
func runBenchmark() throws {
    let n = Int(argument("--tasks", default: "2000"))!
    let jobs = Int(argument("--jobs", default: "2"))!
    let big = Int(argument("--memory-tasks", default: "20000"))!
    let dir = NSTemporaryDirectory() + "clowdr-runbench-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // `true N`: a trivial task, one per swept value of N.
    try
        #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"true [N]","inputs":[{"id":"n","name":"n","type":"Number","integer":true,"value-key":"[N]"}]}"#
        .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)

    func clowdr(_ count: Int, jobs: Int = jobs, monitoring: Bool = true, command: String? = nil, provdir: String? = nil) throws -> (
        seconds: Double, cpu: Double, hwm: Int64
    ) {
        let inv = dir + "/inv-\(count).json"
        try "{\"n\": [\((0..<count).map(String.init).joined(separator: ","))]}".write(toFile: inv, atomically: true, encoding: .utf8)
        var options = RunOptions(jobs: jobs, workingDirectory: dir)
        if !monitoring {
            options.denseInterval = 1e9
            options.sampleInterval = 1e9
        }
        var request = RunRequest(descriptorPath: command ?? dir + "/d.json", invocationPath: inv, provdir: provdir ?? dir + "/prov", options: options)
        request.sweeps = ["n"]
        let cpuBefore = cpuSeconds()
        var summary: RunSummary?
        let time = try seconds { summary = try BackendRuns.start(request, on: .init(backend: .local), cancel: CancellationFlag()) }
        let cpu = cpuSeconds() - cpuBefore
        precondition(summary!.allSucceeded, "some benchmark task failed")
        return (time, cpu, memory().hwm)
    }
    func shell(_ script: String) throws -> Double {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = FileHandle.nullDevice
        let t0 = DispatchTime.now().uptimeNanoseconds
        try p.run()
        p.waitUntilExit()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }
    func f(_ x: Double, _ d: Int = 2) -> String { String(format: "%.\(d)f", x) }

    let rounds = Int(argument("--rounds", default: "5"))!
    let hasParallel = FileManager.default.isExecutableFile(atPath: "/usr/bin/parallel")
    print("run benchmark: trivial tasks (true) beside xargs -P and GNU parallel, \(rounds) rounds in turn, medians")
    print("  attempts start " + (Shim.path.map { "through the clowdr-shim server \($0)" } ?? "directly (no clowdr-shim beside this executable)"))
    // clowdr and its peers in turns, `--rounds` times: this disk's speed changes from one second to the next (ext4
    // without a journal skips inodes freed in the last minute, so any mass deletion slows file creation for a
    // while). Each ratio is one round's, pair by pair; the figures are their medians.
    func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    var c = (seconds: 0.0, cpu: 0.0, hwm: Int64(0))
    var bare = 0.0
    let sizes = argument("--sizes", default: "500,\(n)").split(separator: ",").compactMap { Int($0) }
    let slots = argument("--slots", default: "\(jobs),8").split(separator: ",").compactMap { Int($0) }
    for count in sizes {
        for j in slots {
            var ratios: [Double] = []
            var parallelRatios: [Double] = []
            var cpus: [Double] = []
            var serverCPUs: [Double] = []
            var times: (clowdr: [Double], xargs: [Double], parallel: [Double]) = ([], [], [])
            for _ in 0..<rounds {
                let serverBefore = Shim.serverCPUSeconds()
                let run = try clowdr(count, jobs: j)
                let b = try shell("seq \(count) | xargs -P \(j) -I{} sh -c true")
                ratios.append(run.seconds / b)
                let server = Shim.serverCPUSeconds() - serverBefore
                cpus.append((run.cpu + server) / Double(count) * 1000)
                serverCPUs.append(server / Double(count) * 1000)
                times.clowdr.append(run.seconds)
                times.xargs.append(b)
                if hasParallel {
                    let p = try shell("seq \(count) | parallel -j \(j) --joblog \(dir)/joblog true")
                    parallelRatios.append(run.seconds / p)
                    times.parallel.append(p)
                }
                if count == n && j == jobs && (c.seconds == 0 || run.seconds < c.seconds) { (c, bare) = (run, b) }
            }
            let peer =
                hasParallel
                ? "; GNU parallel --joblog \(f(median(times.parallel))) s, clowdr/parallel \(f(median(parallelRatios)))"
                : "; GNU parallel: not installed"
            emit(
                "  \(count) tasks, -j \(j): clowdr \(f(median(times.clowdr))) s, xargs \(f(median(times.xargs))) s: time ratio \(f(median(ratios))) (rounds \(ratios.map { f($0) }.joined(separator: " ")))  [goal <= 1.25]\(peer); clowdr's own CPU \(f(median(cpus), 3)) ms per task (the shim server's \(f(median(serverCPUs), 3)))  [goal <= 0.3]"
            )
        }
    }
    if c.seconds == 0 { c = try clowdr(n) }
    if bare == 0 { bare = try shell("seq \(n) | xargs -P \(jobs) -I{} sh -c true") }
    // Where the rest goes: every task also creates a file (its invocation; the silent task's streams make none).
    // The same spawn loop creating the same file, and clowdr with its experiment on tmpfs (no disk, fsync free),
    // show how much of the gap is the file system's, on this machine, at this moment.
    try FileManager.default.createDirectory(atPath: dir + "/files", withIntermediateDirectories: true)
    let files = try shell("seq \(n) | xargs -P \(jobs) -I{} sh -c 'echo {} > files/{}.json && exec true'")
    print("  reference: the bare loop also creating each task's invocation file: \(f(files)) s (\(f(files / bare)) x the bare loop)")
    var shm = "/dev/shm"
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: shm, isDirectory: &isDirectory), isDirectory.boolValue {
        shm += "/clowdr-runbench-tmpfs-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: shm) }
        let t = try clowdr(n, provdir: shm)
        print("  reference: clowdr run with its experiment on tmpfs: \(f(t.seconds)) s (time ratio to bare \(f(t.seconds / bare)))")
    }

    // What clowdr leaves on disk for silent tasks (no stream files), at two sizes: a file count that does not
    // grow with the tasks is no file per task. Then with the original Clowdr's layout (a file per task's invocation).
    for (count, invocationFiles) in [(sizes.min() ?? n, false), (n, false), (n, true)] {
        let provdir = dir + "/files-\(count)-\(invocationFiles)"
        var request = RunRequest(
            descriptorPath: dir + "/d.json", invocationPath: dir + "/inv-\(count).json", provdir: provdir,
            options: RunOptions(jobs: jobs, workingDirectory: dir))
        request.sweeps = ["n"]
        request.invocationFiles = invocationFiles
        _ = try BackendRuns.start(request, on: .init(backend: .local), cancel: CancellationFlag())
        let use = diskUse(provdir)
        emit(
            "  files on disk, local run of \(count) silent tasks\(invocationFiles ? " with --invocation-files" : ""): \(use.files) files, \(use.bytes >> 10) KiB (\(per100k(use, tasks: count)) if the count grew with the tasks)\(invocationFiles ? "" : "  [goal: at most one file per 1,000 tasks]")"
        )
        try? FileManager.default.removeItem(atPath: provdir)
    }

    if big > 0 {
        let m = try clowdr(big)
        print("  memory: peak RSS of clowdr after \(big) tasks: \(m.hwm >> 20) MiB (after \(n): \(c.hwm >> 20) MiB)  [goal < 100 MiB]")
    }

    // A CPU-bound task, monitoring on and off (best of 5 each, alternating: a 4 s run varies by 1-2% here).
    try
        #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"i=[N]; while [ $i -lt 2500000 ]; do i=$((i+1)); done","inputs":[{"id":"n","name":"n","type":"Number","integer":true,"value-key":"[N]"}]}"#
        .write(toFile: dir + "/cpu.json", atomically: true, encoding: .utf8)
    var on = Double.infinity
    var off = Double.infinity
    for _ in 0..<5 {
        on = min(on, try clowdr(1, monitoring: true, command: dir + "/cpu.json").seconds)
        off = min(off, try clowdr(1, monitoring: false, command: dir + "/cpu.json").seconds)
    }
    print("  CPU-bound task: \(f(on, 3)) s monitored, \(f(off, 3)) s unmonitored: \(f((on / off - 1) * 100))% slower  [goal <= 1%]")
}
