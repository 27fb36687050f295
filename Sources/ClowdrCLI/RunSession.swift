import ArgumentParser
import EventLog
import Export
import Foundation
import Runner

/// What `run`, `rerun` and `local` share: signals, progress, the summary and the exit code.
enum RunSession {
    /// Runs `body` with Ctrl-C and SIGTERM turned into a cancellation, then prints the summary and exits with
    /// 0 (all succeeded), 1 (some failed or were cancelled), 2 (usage error: invalid input, nothing created) or 3
    /// (clowdr itself failed: `Clowdr.main`).
    /// With `json`, standard output holds one JSON object, the summary (`summaryJSON`), and nothing else.
    static func guarded(quiet: Bool, json: Bool = false, _ body: (CancellationFlag, Display) throws -> RunSummary) throws {
        let (cancel, sources) = cancellationOnSignals()
        defer { for s in sources { s.cancel() } }
        let display = Display(quiet: quiet || json, json: json)
        let summary: RunSummary
        do { summary = try body(cancel, display) } catch {
            display.stop()
            throw error
        }
        display.stop()
        display.announce(summary.layout)
        if !json && (!quiet || summary.launched == 0) { print(summaryLine(summary, stoppedBy: cancel.cancelledBecause)) }
        if !json && !quiet { for line in askedLines(summary) { print(line) } }
        if let state = try? EventLog(path: summary.layout.log, mode: .readOnly).statusSummary(shown: 0).state, !state.refusedLines.isEmpty {
            FileHandle.standardError.write(
                Data(
                    "clowdr: warning: \(state.refusedLines.count) segment lines were refused by ingest (not in the record): clowdr status \(summary.layout.directory) lists them\n"
                        .utf8))
        }
        if let reason = cancel.cancelledBecause { FileHandle.standardError.write(Data("clowdr: stopped by \(reason)\n".utf8)) }
        var derivatives: String?
        if summary.detached == 0 && summary.held == 0 && summary.launched > 0 {
            derivatives = describeDerivatives(summary.layout, quiet: quiet || json)
        }
        if json { print(summaryJSON(summary, stoppedBy: cancel.cancelledBecause, derivatives: derivatives)) }
        if !summary.allSucceeded { throw ExitCode(1) }
    }

    /// The summary as one JSON object (keys sorted): the experiment, what was planned and launched, the attempts by
    /// how they ended, what was not started, submitted and left, held by the scheduler, what each rerun task asks,
    /// why it stopped, the derivatives' description written, and whether every attempt succeeded.
    static func summaryJSON(_ summary: RunSummary, stoppedBy reason: String?, derivatives: String?) -> String {
        let counts = summary.ended.values.reduce(into: [String: Int]()) { $0[$1.rawValue, default: 0] += 1 }
        let object: [String: Any] = [
            "experiment": summary.layout.id, "directory": summary.layout.directory, "log": summary.layout.log,
            "tasks": summary.planned, "launched": summary.launched, "attempts": counts,
            "not_started": max(0, summary.launched - summary.ended.count - summary.detached - summary.notSubmitted),
            "detached": summary.detached, "not_submitted": summary.notSubmitted, "held": summary.held,
            "rerun": summary.rerunMode?.rawValue ?? NSNull(), "asked": summary.asked, "stopped_by": reason ?? NSNull(),
            "derivatives": derivatives ?? NSNull(), "all_succeeded": summary.allSucceeded,
        ]
        return JSONOutput.line(object)
    }

    /// A BIDS run (`--bids`, or `--derivatives DIR`): its derivatives' dataset_description.json says what made them.
    /// A failure is a warning: the run's record stands.
    /// Returns the description's path when one was written.
    static func describeDerivatives(_ layout: ExperimentLayout, quiet: Bool) -> String? {
        do {
            guard let described = try BIDSDerivatives.describeIfAsked(experimentDirectory: layout.directory) else { return nil }
            if !quiet { print("derivatives: \(described.path) \(described.created ? "written" : "updated") (GeneratedBy, SourceDatasets)") }
            return described.path
        } catch {
            FileHandle.standardError.write(Data("clowdr: warning: the derivatives' dataset_description.json was not written: \(error)\n".utf8))
            return nil
        }
    }
}

/// What happened, counted: the attempts that ran by how they ended, and the tasks never started.
func summaryLine(_ summary: RunSummary, stoppedBy reason: String?) -> String {
    if summary.detached > 0 || summary.notSubmitted > 0 {
        var line = "\(summary.detached) attempts submitted; follow them with: clowdr watch \(summary.layout.directory)"
        if summary.notSubmitted > 0 {
            line +=
                "\n\(summary.notSubmitted) attempts not submitted: the scheduler's submit limit is reached; submit them once earlier ones have ended with: clowdr rerun incomplete \(summary.layout.directory)"
        }
        return line
    }
    let held =
        summary.held == 0
        ? ""
        : "\(summary.held) task\(summary.held == 1 ? " is" : "s are") still held by the scheduler (queued or running) and left to it; follow \(summary.held == 1 ? "it" : "them") with: clowdr watch \(summary.layout.directory)"
    if summary.launched == 0 {
        if let mode = summary.rerunMode {
            let nothing =
                "no task is \(mode.rawValue == "all" ? "planned" : mode.rawValue): nothing to rerun (\(summary.planned) tasks in the experiment)"
            return held.isEmpty ? nothing : "nothing to rerun: \(held)"
        }
        return "\(summary.planned) tasks planned, none launched"
    }
    let counts = summary.ended.values.reduce(into: [AttemptState: Int]()) { $0[$1, default: 0] += 1 }
    let parts = AttemptState.allCases.compactMap { s in counts[s].map { "\($0) \(s.rawValue)" } }
    var line = "\(summary.ended.count) attempts: \(parts.joined(separator: ", "))"
    let notStarted = summary.launched - summary.ended.count
    if notStarted > 0 { line += "; \(notStarted) tasks not started\(reason.map { " (stopped by \($0))" } ?? "")" }
    return held.isEmpty ? line : line + "\n" + held
}

/// What each rerun task's new attempt asked of its scheduler (its earlier resources with `--clusterargs` over them),
/// one line per set of resources: `task 15 (participant=07) asks mem:280M,time:10`.
func askedLines(_ summary: RunSummary, atMost: Int = 10) -> [String] {
    guard !summary.asked.isEmpty else { return [] }
    // The labels of the tasks named alone (at most `atMost`), read task by task: never every task of the experiment.
    let log = try? EventLog(path: summary.layout.log, mode: .readOnly)
    func name(_ task: String) -> String { TaskLabels.taskName(task, labels: (try? log?.projectedTask(task))?.flatMap(\.labels)) }
    var groups: [(text: String, tasks: [String])] = []
    var group: [String: Int] = [:]  // text -> index in groups: mem:auto gives up to one set per task
    for task in summary.asked.keys.sorted(by: { ($0.count, $0) < ($1.count, $1) }) {
        let r = summary.asked[task]!
        let text = r.isEmpty ? "the scheduler's defaults" : r.keys.sorted().map { "\($0):\(r[$0]!)" }.joined(separator: ",")
        if let i = group[text] {
            groups[i].tasks.append(task)
        } else {
            group[text] = groups.count
            groups.append((text, [task]))
        }
    }
    var lines = groups.prefix(atMost).map { g in
        g.tasks.count == 1
            ? "\(name(g.tasks[0])) asks \(g.text)"
            : "\(g.tasks.count) tasks (\(g.tasks.prefix(5).joined(separator: ", "))\(g.tasks.count > 5 ? ", ..." : "")) ask \(g.text)"
    }
    if groups.count > atMost {
        lines.append(
            "... and \(groups.count - atMost) more sets: clowdr query --sql \"SELECT task, attempt, resources FROM submissions\" \(summary.layout.directory)"
        )
    }
    return lines
}
