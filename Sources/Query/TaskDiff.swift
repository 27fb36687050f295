import ClowdrErrors
import EventLog
import Foundation
import JSON

extension ExperimentQuery {
    /// `clowdr diff TASK_A TASK_B`: why two tasks' outputs may differ. One row per difference between their latest
    /// attempts: command line, each parameter, how they ended, each file read whose SHA-256 differs or that only
    /// one read, each output whose SHA-256 differs; then the tool, its image and the hosts, alike or not.
    public func diff(_ a: String, _ b: String) throws -> ResultTable {
        var table = ResultTable(columns: ["what", a, b])
        func row(_ what: String, _ x: String?, _ y: String?) {
            table.rows.append([.text(what), x.map { .text($0) } ?? .null, y.map { .text($0) } ?? .null])
        }
        let (planA, planB, attemptA, attemptB, experiment) = try withRecords { r in
            guard let pa = try r.plan(of: a) else { throw CodedFailure("no task '\(a)' in this experiment", code: "query.no_such_task", usage: true) }
            guard let pb = try r.plan(of: b) else { throw CodedFailure("no task '\(b)' in this experiment", code: "query.no_such_task", usage: true) }
            return (pa, pb, try r.attempts(of: a).last, try r.attempts(of: b).last, try r.experiment())
        }
        if planA.commandLine != planB.commandLine { row("command line", planA.commandLine, planB.commandLine) }
        let invocationA = (try? JSONParser.parse(planA.invocation ?? "{}"))?.objectValue ?? [:]
        let invocationB = (try? JSONParser.parse(planB.invocation ?? "{}"))?.objectValue ?? [:]
        for key in Set(invocationA.keys).union(invocationB.keys).sorted() where invocationA[key] != invocationB[key] {
            row("parameter \(key)", invocationA[key]?.shortText, invocationB[key]?.shortText)
        }
        func ending(_ r: AttemptRecord?) -> String? {
            guard let r else { return nil }
            return "attempt \(r.attempt): \(r.state.rawValue)" + (r.exitCode.map { ", exit \($0)" } ?? "") + (r.signal.map { ", signal \($0)" } ?? "")
        }
        if ending(attemptA) != ending(attemptB) { row("ended", ending(attemptA), ending(attemptB)) }
        try addFileDifferences(a, b, row: row)
        let created = try experiment.map { try JSONParser.parse($0.payload) }
        let tool = created.map { "\($0["tool_name"]?.stringValue ?? "?") \($0["tool_version"]?.stringValue ?? "")" }
        row("tool (alike: one experiment)", tool, tool)
        if attemptA?.host != attemptB?.host { row("host", attemptA?.host, attemptB?.host) }
        row("environment", "not recorded", "not recorded")
        return table
    }

    /// The files two tasks' latest attempts read or wrote differently: by path, SHA-256 (or presence) compared.
    func addFileDifferences(_ a: String, _ b: String, row: (String, String?, String?) -> Void) throws {
        guard let fa = try files(task: a), let fb = try files(task: b), fa.record.traced, fb.record.traced else {
            row("files", "not recorded for both", nil)
            return
        }
        func byPath(_ uses: [FileUse], _ wanted: (FileUse) -> Bool) -> [String: String] {
            // A temporary file renamed into place is the file it became.
            let renamedAway = Set(uses.filter { $0.kind == .renamed }.map(\.path))
            var out: [String: String] = [:]
            for u in uses where wanted(u) && !(u.kind.produces && renamedAway.contains(u.path)) {
                out[u.kind == .renamed ? (u.to ?? u.path) : u.path] = u.sha256 ?? "(no hash)"
            }
            return out
        }
        for (label, wanted) in [("read", { (u: FileUse) in u.kind.consumes }), ("wrote", { (u: FileUse) in u.kind.produces || u.kind == .renamed })] {
            let x = byPath(fa.uses, wanted)
            let y = byPath(fb.uses, wanted)
            for path in Set(x.keys).union(y.keys).sorted() where x[path] != y[path] {
                row(
                    "\(label) \(path)", x[path] ?? "(not \(label == "read" ? "read" : "written"))",
                    y[path] ?? "(not \(label == "read" ? "read" : "written"))")
            }
        }
    }
}
