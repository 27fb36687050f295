import ArgumentParser
import EventLog
import Foundation
import Query

/// `clowdr diff TASK_A TASK_B`: why two tasks' outputs differ.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Why two tasks' outputs differ: command lines, parameters, the files they read and wrote, hosts.",
        discussion: """
            Compares the two tasks' latest attempts: one row per difference (files read whose SHA-256 differs or that \
            only one read, outputs whose SHA-256 differs), then what is alike.
            """)

    @Argument(help: "The first task.")
    var taskA: String

    @Argument(help: "The second task.")
    var taskB: String

    @OptionGroup var target: ExperimentArgument

    @Option(help: "table, json, ndjson, csv or tsv (default: table on a terminal, else tsv).")
    var format: OutputFormat?

    func run() throws {
        let layout = try target.layout()
        let table = try ExperimentQuery(path: layout.log).diff(taskA, taskB)
        print(table.render(format ?? (isatty(1) != 0 ? .table : .tsv), raw: false), terminator: "")
    }
}
