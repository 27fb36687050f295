import ArgumentParser
import EventLog
import Foundation
import Query

/// `clowdr lineage FILE`: what made a file, and on back across the experiments of a PROVDIR.
struct LineageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lineage",
        abstract: "What made a file: the attempt that last wrote it, what that attempt read, and on back.",
        discussion: """
            Reads the files every attempt was observed to use (docs/provenance.md) in every experiment of the PROVDIR, \
            so a group analysis leads back to the participant runs that made its inputs. One row per file, indented \
            by depth, with its SHA-256 and the attempt that made it; system files (programs, libraries) are left out.
            """)

    @Argument(help: "The file (as the tools named it; a relative path is taken from the current folder).")
    var file: String

    @Option(help: "The PROVDIR whose experiments are searched (default: provdir in the current folder).")
    var provdir = "provdir"

    @Option(help: "How many steps back to follow.")
    var depth = 8

    @Option(help: "table, json, ndjson, csv or tsv (default: table on a terminal, else tsv).")
    var format: OutputFormat?

    func validate() throws {
        if depth < 0 { throw ValidationError("--depth must be 0 or more, got \(depth)") }
    }

    func run() throws {
        var layouts = ExperimentLayout.experiments(inProvdir: provdir)
        if layouts.isEmpty, let one = try? ExperimentLayout.locate(provdir) { layouts = [one] }
        guard !layouts.isEmpty else { throw ValidationError("--provdir \(provdir): no experiment there (give the PROVDIR your runs wrote to)") }
        for layout in layouts { try ExperimentArgument.ingestNewSegments(layout) }
        let steps = try Lineage(experiments: layouts, maxDepth: depth).steps(of: QueryCommand.absolute(file))
        print(Lineage.table(steps).render(format ?? (isatty(1) != 0 ? .table : .tsv), raw: false), terminator: "")
    }
}
