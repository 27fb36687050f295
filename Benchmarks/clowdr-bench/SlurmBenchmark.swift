import Backends
import EventLog
import Foundation
import Runner

/// `clowdr-bench slurm [--tasks N] [--follow SECONDS] [--rounds R]`: on the Slurm that `scripts/slurm/setup.sh` starts.
///
/// - Submitting N tasks: clowdr's submission (task files, the arrays, `task_submitted` for each) beside the bare
///   `sbatch --array` calls for arrays of the same shape, in the same run; planning and recording the experiment
///   are shown apart.
/// - Following them: slurmctld's query RPCs per minute (`sdiag`) while clowdr follows the N tasks, beside what a
///   per-task `squeue -j` poller costs for the same tasks (measured over a sample of them, per poll round).
func slurmBenchmark() throws {
    let n = Int(argument("--tasks", default: "10000"))!
    let followSeconds = Double(argument("--follow", default: "60"))!
    guard (try? sh("scontrol ping"))?.out.contains("UP") == true else {
        emit("slurm benchmark skipped: no Slurm answers (scripts/slurm/setup.sh starts one)")
        return
    }
    let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    let dir = NSTemporaryDirectory() + "clowdr-slurmbench-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    func f(_ x: Double, _ d: Int = 2) -> String { String(format: "%.\(d)f", x) }
    emit("slurm benchmark: \(n) tasks (MaxArraySize \(try SlurmBackend(layout: ExperimentLayout(directory: dir), clowdr: "").maxArraySize()))")

    // Submission: the experiment planned and recorded, then submitted (detached), beside bare sbatch of the same arrays.
    try
        #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"true [N]","inputs":[{"id":"n","name":"n","type":"Number","integer":true,"value-key":"[N]"}]}"#
        .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
    try "{\"n\": [\((0..<n).map(String.init).joined(separator: ","))]}".write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
    var request = RunRequest(
        descriptorPath: dir + "/d.json", invocationPath: dir + "/i.json", provdir: dir + "/prov", options: RunOptions(jobs: 1, workingDirectory: dir))
    request.sweeps = ["n"]
    var cluster = BackendRuns.Options(backend: .slurm, clowdr: bin + "/clowdr")
    cluster.detach = true
    // This machine is the cluster's only compute node: elements starting here while later arrays are submitted
    // would take the CPU from the submission (the bare arrays below are held). Drained, the node starts nothing,
    // and both submissions cost slurmctld the same acceptance work.
    let nodes = try sh("sinfo -h -N -o %N | sort -u | paste -sd, -").out.trimmingCharacters(in: .whitespacesAndNewlines)
    _ = try sh("scontrol update nodename=\(nodes) state=drain reason=clowdr-bench-submission")
    var drained = true
    defer { if drained { _ = try? sh("scontrol update nodename=\(nodes) state=resume") } }
    /// clowdr's submission of a new experiment: (planning and recording it, submitting it, its folder).
    func clowdrSubmission() throws -> (created: Double, submission: Double, layout: ExperimentLayout) {
        var created = 0.0
        var layout: ExperimentLayout?
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = try BackendRuns.start(request, on: cluster, cancel: CancellationFlag()) { l, _ in
            created = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            layout = l
        }
        return (created, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 - created, layout!)
    }
    /// The sizes of the arrays clowdr submitted (a map is the worker's settings, then one line per element).
    func arraySizes(_ layout: ExperimentLayout) throws -> [Int] {
        let maps = try FileManager.default.contentsOfDirectory(atPath: layout.directory + "/slurm").filter { $0.hasSuffix(".map") }
        return try maps.map { try String(contentsOfFile: layout.directory + "/slurm/" + $0, encoding: .utf8).split(separator: "\n").count - 1 }
    }
    try "#!/bin/sh\ntrue\n".write(toFile: dir + "/bare.sh", atomically: true, encoding: .utf8)
    /// The same arrays through bare sbatch, held (then cancelled): the same acceptance work in slurmctld.
    func bareSubmission(_ sizes: [Int]) throws -> Double {
        let t = try sh(
            sizes.map { "sbatch --parsable --hold --job-name=bare-bench --output=/dev/null --array=0-\($0 - 1) \(dir)/bare.sh >/dev/null" }
                .joined(separator: " && ")
        ).seconds
        _ = try sh("scancel --name=bare-bench")
        return t
    }
    // Rounds in alternating order (clowdr first, then the bare calls first), slurmctld left to settle between
    // them; every experiment but the last is cancelled (the last one is followed below).
    let rounds = max(1, Int(argument("--rounds", default: "3"))!)
    var figures: [(clowdr: Double, bare: Double, created: Double)] = []
    var sizes: [Int] = []
    var layout: ExperimentLayout!
    for round in 0..<rounds {
        var bare = 0.0
        if round % 2 == 1 { bare = try bareSubmission(sizes) }
        let c = try clowdrSubmission()
        layout = c.layout
        sizes = try arraySizes(c.layout)
        if round % 2 == 0 { bare = try bareSubmission(sizes) }
        figures.append((c.submission, bare, c.created))
        if round < rounds - 1 { _ = try sh("scancel --name=clowdr-\(c.layout.id)") }
        Thread.sleep(forTimeInterval: 2)
    }
    _ = try sh("scontrol update nodename=\(nodes) state=resume")
    drained = false
    let ratios = figures.map { $0.clowdr / $0.bare }.sorted()
    emit(
        "  submit \(n) tasks in \(sizes.count) array(s), \(rounds) rounds: clowdr \(figures.map { f($0.clowdr, 3) }.joined(separator: ", ")) s (task files, sbatch, \(n) task_submitted) beside bare sbatch \(figures.map { f($0.bare, 3) }.joined(separator: ", ")) s: median ratio \(f(ratios[ratios.count / 2]))  [goal <= 1.2]; planning and recording the experiment before: \(figures.map { f($0.created) }.joined(separator: ", ")) s"
    )

    // Following: slurmctld's query RPCs while clowdr watches the experiment for `followSeconds`.
    func queryRPCs() throws -> Int {
        let text = try sh("sdiag").out
        var total = 0
        for line in text.split(separator: "\n") where line.contains("REQUEST_JOB_INFO") || line.contains("REQUEST_JOB_USER_INFO") {
            if let r = line.range(of: "count:") { total += Int(line[r.upperBound...].prefix { $0.isNumber }) ?? 0 }
        }
        return total
    }
    let before = try queryRPCs()
    let watch = Process()
    watch.executableURL = URL(fileURLWithPath: bin + "/clowdr")
    watch.arguments = ["watch", layout.directory]
    watch.standardOutput = FileHandle.nullDevice
    watch.standardError = FileHandle.nullDevice
    try watch.run()
    Thread.sleep(forTimeInterval: followSeconds)
    let after = try queryRPCs()
    kill(watch.processIdentifier, SIGKILL)  // a controller killed loses nothing (the tests show it); SIGTERM would cancel the jobs
    watch.waitUntilExit()
    let ended = try EventLog(path: layout.log, mode: .readOnly).projectedState().counts[.succeeded] ?? 0
    // The peer: one `squeue -j A_T` per task, over a sample of 200 tasks, per poll round.
    let ids = try EventLog(path: layout.log, mode: .readOnly).projectedTasks().values.compactMap { $0.latest?.nativeID }.prefix(200)
    let peerBefore = try queryRPCs()
    let peer = try sh(ids.map { "squeue -h -j \($0) >/dev/null 2>&1" }.joined(separator: "; "))
    let peerRPCs = try queryRPCs() - peerBefore
    let perTask = Double(peerRPCs) / Double(ids.count)
    emit(
        "  following \(n) tasks for \(Int(followSeconds)) s (\(ended) ended meanwhile): \(after - before) slurmctld query RPCs (\(f(Double(after - before) * 60 / followSeconds, 1))/min) by clowdr watch, the same whatever the number of tasks"
    )
    emit(
        "  a per-task squeue -j poller: \(f(perTask, 1)) RPCs per task per round (\(peerRPCs) for \(ids.count) tasks, \(f(peer.seconds, 1)) s): \(Int(perTask * Double(n))) RPCs per round for \(n) tasks, \(Int(perTask * Double(n) * 2))/min at one round every 30 s"
    )
    // What the experiment holds on the shared filesystem after the tasks that ended meanwhile.
    let use = diskUse(layout.directory)
    emit(
        "  files on disk, Slurm, after \(ended) of \(n) tasks ended: \(use.files) files, \(use.bytes >> 10) KiB: about \(per100k(use, tasks: ended))")
    _ = try sh("scancel --name=clowdr-\(layout.id)")
}
