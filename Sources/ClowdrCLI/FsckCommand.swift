import ArgumentParser
import EventLog
import Foundation

/// `clowdr fsck EXPERIMENT`: checks a log and its projections.
struct FsckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Check an experiment's event log.",
        discussion: """
            Runs SQLite's integrity check, checks that event seqs have no gap and that the append-only triggers are \
            in place, reads every payload, and rebuilds the task and attempt projections from the events alone (in \
            memory) to compare them with the stored ones. Prints every difference; exits 1 if there is one.
            """)

    @OptionGroup var target: ExperimentArgument

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let log = try EventLog(path: try target.layout().log, mode: .readOnly)
        let report = try log.fsck()
        if json {
            let object: [String: Any] = [
                "ok": report.ok, "events": report.eventCount, "max_seq": report.maxSeq, "gapless": report.gapless,
                "integrity": report.integrityMessages, "append_only": report.appendOnlyEnforced,
                "unknown_events": report.unknownEvents, "problems": report.problems, "refused_lines": report.refusedLines,
                "warnings": report.warnings,
                "would_refuse": report.wouldRefuseCount,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("\(log.path): \(report.eventCount) events, seq 1...\(report.maxSeq)")
            print("integrity_check: \(report.integrityOK ? "ok" : "FAILED")")
            print("append-only triggers: \(report.appendOnlyEnforced ? "present" : "MISSING")")
            if report.unknownEvents > 0 { print("events of unknown types (kept): \(report.unknownEvents)") }
            if report.refusedLines > 0 { print("segment lines refused by ingest (kept aside, not in the record): \(report.refusedLines)") }
            if report.wouldRefuseCount > 0 { print("events ingest would refuse today: \(report.wouldRefuseCount)") }
            print("projections: \(report.differences.isEmpty ? "match a rebuild from the events" : "\(report.differences.count) differences")")
            for p in report.problems { print("  \(p)") }
            for w in report.warnings { print("  warning: \(w)") }
            print(report.ok ? (report.wouldRefuseCount == 0 ? "ok" : "ok, with \(report.wouldRefuseCount) warnings") : "PROBLEMS FOUND")
        }
        if !report.ok { throw ExitCode.failure }
    }
}
