import ArgumentParser
import EventLog
import Foundation

/// `clowdr events EXPERIMENT`: prints the raw events, one JSON object per line (the segment format).
struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print an experiment's events as newline-delimited JSON, in log order.",
        discussion: "Each line is one event in the same form segments use, so the output can be ingested elsewhere.")

    @OptionGroup var target: ExperimentArgument

    @Option(help: "Only events with a seq greater than this.")
    var after: Int64 = 0

    @Flag(help: "Leave out the samples.")
    var noSamples = false

    @Flag(help: "Prefix each line with its seq and a tab.")
    var seq = false

    func run() throws {
        let log = try EventLog(path: try target.layout().log, mode: .readOnly)
        var out = FileHandleOutput()
        try log.forEachEvent(after: after, lifecycleOnly: noSamples) { e in
            if seq { out.write("\(e.seq ?? 0)\t") }
            out.write(e.ndjsonLine)
            out.write("\n")
        }
        out.flush()
    }
}

/// Buffered standard output, for commands that print many lines.
struct FileHandleOutput {
    private var buffer: [UInt8] = []

    mutating func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count > 1 << 16 { flush() }
    }

    mutating func flush() {
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
