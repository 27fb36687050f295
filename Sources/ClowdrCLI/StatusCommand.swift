import ArgumentParser
import Backends
import EventLog
import Foundation
import Query
import Runner

/// `clowdr status EXPERIMENT`: where every task stands, from the log's projections.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show how many tasks are in each state, and which failed.",
        discussion: """
            Everything shown is derived from the experiment's events (through the projections the log keeps of them); \
            what its workers wrote since the last look is ingested first.
            """)

    @OptionGroup var target: ExperimentArgument

    @Flag(help: "Print the status as JSON.")
    var json = false

    @Flag(help: "Refresh every 2 seconds until no task is running.")
    var watch = false

    func run() throws {
        guard watch else {
            try show()
            return
        }
        // On a terminal, each refresh replaces the screen; into a pipe or a file, the refreshes follow each other
        // (no escape sequences), each after a line with its time.
        let terminal = isatty(1) != 0
        while true {
            if terminal {
                print("\u{1B}[H\u{1B}[2J", terminator: "")
            } else {
                print("-- \(ISO8601DateFormatter().string(from: Date()))")
            }
            fflush(nil)
            if try !show() { return }
            sleep(2)
        }
    }

    /// Prints the status; returns whether some task is still submitted or running.
    @discardableResult
    func show() throws -> Bool {
        let layout = try target.layout()
        let log = try EventLog(path: layout.log, mode: .readOnly)
        if json { return try showJSON(log.projectedState(), layout: layout) }
        // At most `shown` lines of each kind: an experiment of 100,000 tasks has thousands of either.
        let shown = 20
        let summary = try log.statusSummary(shown: shown)
        let state = summary.state
        let counts = summary.counts
        if let e = state.experiment {
            print(
                "experiment \(e.experiment)\(e.name.map { " (\($0))" } ?? "")  tool \(e.toolName ?? "?") \(e.toolVersion ?? "")  backend \(e.backend)"
            )
        }
        let parts = TaskState.allCases.compactMap { s in counts[s].map { "\($0) \(s.rawValue)" } }
        print("\(summary.tasks) tasks: \(parts.joined(separator: ", "))")
        let now = Date().timeIntervalSince1970
        for t in (summary.first[.running] ?? []).compactMap({ state.tasks[$0] }) {
            let a = t.latest
            let elapsed = a?.startedAt.map { now - $0.seconds } ?? 0
            print(
                "  running: \(TaskLabels.taskName(t.task, labels: t.labels)) attempt \(a?.attempt ?? 0): \(Int(elapsed)) s, peak RSS \(Units.bytes(a?.peakRSS ?? 0)) so far"
            )
        }
        let running = counts[.running] ?? 0
        if running > shown { print("  ... and \(running - shown) more running: clowdr query --status running") }
        for t in (summary.first[.failed] ?? []).compactMap({ state.tasks[$0] }) {
            guard let a = t.latest else { continue }
            let how = LogTail.failureText(a, task: t.task, in: layout) ?? a.state.rawValue
            print("  failed: \(TaskLabels.taskName(t.task, labels: t.labels)) attempt \(a.attempt): \(how)")
        }
        let failed = counts[.failed] ?? 0
        if failed > shown { print("  ... and \(failed - shown) more failed: clowdr query --status failed") }
        let incomplete = summary.incomplete(controllerAlive: Runs.controllerAlive(state))
        if incomplete > 0 {
            // On a scheduler, a controller gone leaves attempts the scheduler may still hold: watch follows those.
            let scheduled = state.experiment.flatMap { BackendKind(rawValue: $0.backend) }?.traits.attemptsOutliveController ?? false
            print(
                scheduled
                    ? "  incomplete: \(incomplete) tasks (no controller follows them: clowdr watch \(layout.directory) follows those the scheduler still holds; clowdr rerun incomplete \(layout.directory) runs the others again)"
                    : "  incomplete (rerun incomplete would run them): \(incomplete) tasks")
        }
        if !state.unknownEvents.isEmpty { print("\(state.unknownEvents.count) events of types this clowdr does not know (kept)") }
        for line in StatusCommand.refusalLines(state.refusedLines.map(\.refusal), layout: layout) { print(line) }
        for line in StatusCommand.undeclaredLines(try ExperimentQuery(path: layout.log).undeclaredUses(detailed: 5, paths: 3)) { print(line) }
        return running + (counts[.submitted] ?? 0) > 0
    }

    /// The tasks whose files went beyond what they were given: how many, the first few with their first paths.
    static func undeclaredLines(_ uses: [UndeclaredUse], shown: Int = 5) -> [String] {
        guard !uses.isEmpty else { return [] }
        var out = [
            "undeclared files: \(uses.count) task\(uses.count == 1 ? "" : "s") read or wrote outside their declared inputs, outputs and working folder:"
        ]
        for u in uses.prefix(shown) {
            let more = u.count > u.paths.count ? ", ... (\(u.count) paths)" : ""
            out.append(
                "  \(TaskLabels.taskName(u.task, labels: u.labels)) attempt \(u.attempt): \(u.paths.joined(separator: ", "))\(more); clowdr query --files \(u.task)"
            )
        }
        if uses.count > shown {
            out.append(
                "  ... and \(uses.count - shown) more: clowdr query --sql \"SELECT task, attempt, undeclared FROM attempts WHERE undeclared > 0\"")
        }
        return out
    }

    /// Warnings for the segment lines ingest refused: how many, the first few with where the segment is kept.
    static func refusalLines(_ refused: [SegmentRefused], layout: ExperimentLayout, shown: Int = 5) -> [String] {
        guard !refused.isEmpty else { return [] }
        var out = [
            "warning: \(refused.count) segment line\(refused.count == 1 ? "" : "s") refused by ingest (not in the record; the attempts they concern are settled by the scheduler's accounting):"
        ]
        for r in refused.prefix(shown) {
            let writer = [r.nativeID.map { "native id \($0)" }, r.host.map { "host \($0)" }].compactMap { $0 }.joined(separator: ", ")
            out.append(
                "  \(r.segment):\(r.line)\(writer.isEmpty ? "" : " (\(writer))"): \(r.reason); kept in \((layout.directory as NSString).appendingPathComponent(r.kept))"
            )
        }
        if refused.count > shown {
            out.append("  ... and \(refused.count - shown) more: clowdr query --sql \"SELECT * FROM refusals\" \(layout.directory)")
        }
        return out
    }

    /// The status as JSON (`StatusReport`); returns whether some task is still submitted or running.
    func showJSON(_ state: ExperimentState, layout: ExperimentLayout) throws -> Bool {
        let report = try StatusReport(state: state, layout: layout, isAlive: Runs.isAlive(state))
        print(try report.json())
        return report.active
    }
}
