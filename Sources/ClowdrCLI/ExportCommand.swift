public import ArgumentParser
import EventLog
public import Export
import Foundation
import Runner

/// `clowdr export FORMAT EXPERIMENT`: the record in forms other programs read.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write an experiment's record: json, prov, rocrate, or a self-contained html report.",
        subcommands: [ExportJSONCommand.self, ExportPROVCommand.self, ExportROCrateCommand.self, ExportHTMLCommand.self])
}

/// `clowdr export json EXPERIMENT [-o FILE] [--samples]`.
struct ExportJSONCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "json",
        abstract: "The complete record as JSON (schema/experiment.schema.json).",
        discussion: """
            Experiment, tasks with their parameters, invocation and command line, every attempt with its totals and \
            outputs (with sha256); with --samples every monitor sample too. Written under a temporary name and \
            renamed into place; the same log always gives the same bytes.
            """)

    @OptionGroup var target: ExperimentArgument

    @Option(name: .shortAndLong, help: "The file to write, or - for standard output (default: ./clowdr-<experiment>.json).")
    var output: String?

    @Flag(help: "Include every sample.")
    var samples = false

    func run() throws {
        let layout = try target.layout()
        try ExportOutput.write(to: output, default: "clowdr-\(layout.id).json") {
            try JSONExport.write(logPath: layout.log, to: $0, samples: samples)
        }
    }
}

extension PROVExport.Format: ExpressibleByArgument {}

/// `clowdr export prov EXPERIMENT [--format json|provn] [-o FILE]`.
struct ExportPROVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prov",
        abstract: "The record as W3C PROV: PROV-JSON or PROV-N.",
        discussion: """
            Agents (the user, clowdr), the descriptor as a prov:Plan, each attempt an activity with its times and \
            typed clowdr: attributes (exit code, peak RSS, CPU time), invocations and input files used, outputs \
            generated (with sha256) and derived from the inputs, reruns informed by the attempt they replace.
            """)

    @OptionGroup var target: ExperimentArgument

    @Option(help: "json (PROV-JSON) or provn (PROV-N).")
    var format: PROVExport.Format = .json

    @Option(name: .shortAndLong, help: "The file to write, or - for standard output (default: ./clowdr-<experiment>.prov.json or .provn).")
    var output: String?

    func run() throws {
        let layout = try target.layout()
        try ExportOutput.write(to: output, default: "clowdr-\(layout.id)." + (format == .json ? "prov.json" : "provn")) {
            try PROVExport.write(logPath: layout.log, descriptorPath: layout.descriptor, to: $0, format: format)
        }
    }
}

/// `clowdr export html EXPERIMENT [-o FILE]`.
struct ExportHTMLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "html",
        abstract: "The report: one self-contained HTML file to open in any browser, offline.",
        discussion: """
            Header and counts per state, a sortable and filterable table of every task (smooth at 100,000), a Gantt \
            timeline of the attempts, RAM and CPU over time, summary statistics and outliers, and each task's \
            command line, invocation, outputs with sha256 and the last lines of stdout and stderr. Nothing is \
            fetched from anywhere: the data is embedded, compressed. Samples and log tails are embedded within a \
            budget (failed tasks and the highest peak RAM first); `clowdr share` serves every task's.
            """)

    @OptionGroup var target: ExperimentArgument

    @Option(name: .shortAndLong, help: "The file to write, or - for standard output (default: ./clowdr-<experiment>.html).")
    var output: String?

    func run() throws {
        let layout = try target.layout()
        try ExportOutput.write(to: output, default: "clowdr-\(layout.id).html") {
            try HTMLReport.write(experimentDirectory: layout.directory, to: $0)
        }
    }
}

/// Where an export goes: a file (written under a temporary name and renamed into place by the exporter, its path
/// printed), or standard output for `-o -` (streamed by the exporter). The experiment's own folder is never
/// written: exports work on a log stored where it cannot be written.
enum ExportOutput {
    static func write(to output: String?, default name: String, _ export: (String) throws -> Void) throws {
        let path = output ?? name
        try export(path)
        if path != "-" { print(path) }
    }
}
