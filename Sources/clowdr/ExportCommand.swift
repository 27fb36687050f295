public import ArgumentParser
import EventLog
public import Export
import Foundation
import Runner

/// `clowdr export FORMAT EXPERIMENT`: the record in forms other programs read.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write an experiment's record for other programs: json, prov.",
        subcommands: [ExportJSON.self, ExportPROV.self])
}

/// `clowdr export json EXPERIMENT [-o FILE] [--samples]`.
struct ExportJSON: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "json",
        abstract: "The complete record as JSON (schema/experiment.schema.json).",
        discussion: """
            Experiment, tasks with their parameters, invocation and command line, every attempt with its totals and \
            outputs (with sha256); with --samples every monitor sample too. Written under a temporary name and \
            renamed into place; the same log always gives the same bytes.
            """)

    @Argument(help: "The experiment folder, its clowdr.db, or a PROVDIR (its newest experiment).")
    var experiment: String

    @Option(name: .shortAndLong, help: "The file to write (default: EXPERIMENT/clowdr-<experiment>.json).")
    var output: String?

    @Flag(help: "Include every sample.")
    var samples = false

    func run() throws {
        let layout: ExperimentLayout
        do { layout = try ExperimentLayout.locate(experiment) } catch { throw ValidationError("\(error)") }
        let path = output ?? layout.directory + "/clowdr-\(layout.id).json"
        try JSONExport.write(logPath: layout.log, to: path, samples: samples)
        print(path)
    }
}

extension PROVExport.Format: ExpressibleByArgument {}

/// `clowdr export prov EXPERIMENT [--format json|provn] [-o FILE]`.
struct ExportPROV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prov",
        abstract: "The record as W3C PROV: PROV-JSON or PROV-N.",
        discussion: """
            Agents (the user, clowdr), the descriptor as a prov:Plan, each attempt an activity with its times and \
            typed clowdr: attributes (exit code, peak RSS, CPU time), invocations and input files used, outputs \
            generated (with sha256) and derived from the inputs, reruns informed by the attempt they replace.
            """)

    @Argument(help: "The experiment folder, its clowdr.db, or a PROVDIR (its newest experiment).")
    var experiment: String

    @Option(help: "json (PROV-JSON) or provn (PROV-N).")
    var format: PROVExport.Format = .json

    @Option(name: .shortAndLong, help: "The file to write (default: EXPERIMENT/clowdr-<experiment>.prov.json or .provn).")
    var output: String?

    func run() throws {
        let layout: ExperimentLayout
        do { layout = try ExperimentLayout.locate(experiment) } catch { throw ValidationError("\(error)") }
        let path = output ?? layout.directory + "/clowdr-\(layout.id)." + (format == .json ? "prov.json" : "provn")
        try PROVExport.write(logPath: layout.log, to: path, format: format)
        print(path)
    }
}
