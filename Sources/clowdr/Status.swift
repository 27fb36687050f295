import ArgumentParser
import EventLog
import Foundation
import Runner

/// `clowdr status EXPERIMENT`: where every task stands, derived by replaying the log.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show how many tasks are in each state, and which failed.",
        discussion: "Everything shown is derived by replaying the experiment's events; the log is opened read-only.")

    @Argument(help: "The experiment folder (PROVDIR/<experiment-id>) or its clowdr.db file.")
    var experiment: String

    @Flag(help: "Print the status as JSON.")
    var json = false

    func run() throws {
        let layout: ExperimentLayout
        do { layout = try ExperimentLayout.locate(experiment) } catch { throw ValidationError("\(error)") }
        let log = try EventLog(path: layout.log, mode: .readOnly)
        let state = try log.replay()
        let incomplete = state.select(.incomplete, isAlive: Runs.isAlive(state))
        let counts = state.counts
        let failed = state.orderedTasks.filter { $0.state == .failed }
        if json {
            let object: [String: Any] = [
                "experiment": state.experiment?.experiment ?? NSNull(),
                "tasks": state.tasks.count,
                "counts": Dictionary(uniqueKeysWithValues: TaskStatus.allCases.map { ($0.rawValue, counts[$0] ?? 0) }),
                "failed": failed.map { t -> [String: Any] in
                    [
                        "task": t.task, "attempt": t.latest?.attempt ?? 0, "exit_code": t.latest?.exitCode ?? NSNull(),
                        "signal": t.latest?.signal ?? NSNull(),
                        "reason": t.latest?.failureReason ?? NSNull(),
                    ]
                },
                "unknown_events": state.unknownEvents.count,
                "incomplete": incomplete,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        if let e = state.experiment {
            print(
                "experiment \(e.experiment)\(e.name.map { " (\($0))" } ?? "")  tool \(e.toolName ?? "?") \(e.toolVersion ?? "")  backend \(e.backend)"
            )
        }
        let parts = TaskStatus.allCases.compactMap { s in counts[s].map { "\($0) \(s.rawValue)" } }
        print("\(state.tasks.count) tasks: \(parts.joined(separator: ", "))")
        for t in failed {
            let a = t.latest
            let how = a?.exitCode.map { "exit \($0)" } ?? a?.signal.map { "signal \($0)" } ?? "no exit"
            print("  failed: task \(t.task) attempt \(a?.attempt ?? 0): \(how)\(a?.failureReason.map { " (\($0))" } ?? "")")
        }
        if !incomplete.isEmpty { print("  incomplete (rerun incomplete would run them): \(incomplete.count) tasks") }
        if !state.unknownEvents.isEmpty { print("\(state.unknownEvents.count) events of types this clowdr does not know (kept)") }
    }
}
