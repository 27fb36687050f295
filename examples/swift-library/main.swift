// clowdr's libraries from a Swift program: plan an experiment from a Boutiques descriptor and a folder of
// invocations, run it on this machine while following each attempt as it ends, then ask the record questions.
//
//     swift run clowdr-library-example DESCRIPTOR INVOCATIONS PROVDIR
//     swift run clowdr-library-example examples/swift-library/tool/descriptor.json \
//         examples/swift-library/tool/invocations out/library-example
//
// Attempts start through clowdr-shim (exact peaks of memory): `swift build` puts it beside this program; elsewhere,
// set CLOWDR_SHIM to its path. See docs/library.md.
import Backends
import EventLog
import Foundation
import Query
import Runner

let arguments = CommandLine.arguments.dropFirst()
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: clowdr-library-example DESCRIPTOR INVOCATIONS PROVDIR\n".utf8))
    exit(2)
}
let (descriptor, invocations, provdir) = (arguments[1], arguments[2], arguments[3])

do {
    // 1. What to run: the descriptor, its invocations (a file, or a folder of them), where the experiment is kept,
    //    and how: two tasks at a time, in PROVDIR/outputs (the folder the tasks write their relative paths in).
    let outputs = URL(fileURLWithPath: provdir).appendingPathComponent("outputs").path
    try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: true)
    var request = RunRequest(
        descriptorPath: descriptor, invocationPath: invocations, provdir: provdir, options: RunOptions(jobs: 2, workingDirectory: outputs))
    request.name = "library example"
    request.warn = { print("planning: \($0)") }

    // 2. Plan, record and run it on this machine (`BackendKind.slurm` or `.awsbatch` with their settings run it on a
    //    cluster). The controller reports each attempt as it ends; the cancellation flag stops the run when set.
    let summary = try BackendRuns.start(request, on: BackendRuns.Options(backend: .local), cancel: CancellationFlag()) { layout, controller in
        print("experiment \(layout.id) in \(layout.directory)")
        controller?.onAttemptEnd = { task, attempt in
            print("task \(task) attempt \(attempt.attempt): \(attempt.state.rawValue), exit \(attempt.exitCode.map(String.init) ?? "none")")
        }
    }
    print("\(summary.launched) attempts launched: \(summary.ended.values.filter { $0 == .succeeded }.count) succeeded")

    // 3. Where it stands, replayed from the log: what `clowdr status --json` prints.
    let log = try EventLog(path: summary.layout.log, mode: .readOnly)
    let state = try log.projectedState()
    let status = try StatusReport(state: state, layout: summary.layout, isAlive: Runs.isAlive(state))
    for failed in status.failed { print("failed: task \(failed.task) (\(failed.labels)): \(failed.failure ?? "?")") }

    // 4. Questions of the record: the attempts by peak memory, and any SQL over the documented views (docs/query.md).
    let query = try ExperimentQuery(path: summary.layout.log)
    print(try query.top(.ram, n: 3, allAttempts: false).render(.table, raw: false), terminator: "")
    let perState = try query.sql("SELECT state, count(*) AS tasks FROM tasks GROUP BY state ORDER BY state")
    print(perState.render(.csv, raw: true), terminator: "")
    exit(status.failed.isEmpty ? 0 : 1)
} catch {
    FileHandle.standardError.write(Data("clowdr-library-example: \(error)\n".utf8))
    exit(3)
}
