import ArgumentParser
import EventLog
import Foundation
import Logging

/// `clowdr ingest EXPERIMENT SEGMENT...`: adds remote workers' event segments to a log, idempotently.
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Add event segments (NDJSON written by remote workers) to an experiment's log.",
        discussion: """
            Each segment goes in one transaction. Events already in the log (same id) are skipped, so ingesting a \
            segment twice changes nothing. A torn last line left by a crashed writer is skipped with a warning.
            """)

    @Argument(help: "The experiment folder (PROVDIR/<experiment-id>) or its clowdr.db file.")
    var experiment: String

    @Argument(help: "Segment files: one JSON event per line.")
    var segments: [String]

    @Flag(help: "Create the log if it does not exist (EXPERIMENT is then a folder, created if needed).")
    var create = false

    func validate() throws {
        if segments.isEmpty { throw ValidationError("give at least one segment file to ingest") }
        for s in segments where !FileManager.default.fileExists(atPath: s) {
            throw ValidationError("segment file '\(s)' does not exist")
        }
    }

    /// `; N lines refused (kept in refused/)` when ingest refused lines, else nothing.
    static func refusedNote(_ report: EventLog.IngestReport) -> String {
        guard !report.refused.isEmpty else { return "" }
        let kept = Set(report.refused.map(\.kept)).sorted().joined(separator: ", ")
        return "; \(report.refused.count) line\(report.refused.count == 1 ? "" : "s") refused (not in the record; kept in \(kept))"
    }

    func run() throws {
        var path = experiment
        if create, !path.hasSuffix(".db") {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            path = (path as NSString).appendingPathComponent(EventLog.fileName)
        }
        let log = try EventLog(path: path, mode: create ? .create : .readWrite)
        let logger = Logger(label: "clowdr.ingest")
        for segment in segments {
            let report = try log.ingest(segmentAt: segment)
            if let torn = report.tornLine {
                logger.warning("\(segment):\(torn): torn last line (a writer crashed mid-write) skipped")
            }
            print("\(segment): \(report.inserted) events added, \(report.duplicates) already present\(Self.refusedNote(report))")
            for r in report.refused.prefix(5) { logger.warning("\(r.segment):\(r.line): refused: \(r.reason)") }
        }
        try log.checkpoint()
    }
}
