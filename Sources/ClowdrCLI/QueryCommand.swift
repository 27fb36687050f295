public import ArgumentParser
import EventLog
import Foundation
import JSON
public import Query
import Runner

extension TopMetric: ExpressibleByArgument {}
extension OutputFormat: ExpressibleByArgument {}

/// `clowdr query [EXPERIMENT|PROVDIR]`: questions asked of an experiment's log, read-only.
struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Ask questions of an experiment: top tasks by RAM or CPU, failures, outliers, a task's detail, SQL.",
        discussion: """
            The log is opened read-only: queries work while an experiment runs, and on an unpacked archive. \
            --sql runs a SELECT over the views tasks, attempts, samples, planned, exits, experiment and events (schema documented in \
            docs/query.md). Human units by default; --raw for bytes and seconds.
            """)

    @OptionGroup var target: ExperimentArgument

    @Option(help: "Rank tasks by ram, cpu, duration, cputime, read or write.")
    var top: TopMetric?

    @Option(name: .short, help: "How many rows --top shows.")
    var n = 10

    @Option(help: "latest (one row per task, its latest attempt) or all (every attempt).")
    var attempts = "latest"

    @Option(help: "Tasks in this state: succeeded, failed, running, incomplete, lost, cancelled, planned, submitted.")
    var status: String?

    @Option(name: .customLong("where"), help: "Only tasks with a label or invocation value KEY=VALUE (repeatable), e.g. participant=01.")
    var filters: [String] = []

    @Option(help: "One task: every attempt, command line, exit, outputs with checksums, the end of stderr.")
    var task: String?

    @Option(help: "One task's files: what its latest attempt read, wrote, executed, renamed and deleted, grouped, with sizes and SHA-256.")
    var files: String?

    @Option(help: ArgumentHelp("The attempts that read a file: a path or a glob (quote it: '/data/*/anat/*.nii.gz').", valueName: "path"))
    var readers: String?

    @Option(help: ArgumentHelp("The attempts that wrote a file (or renamed one into it): a path or a glob.", valueName: "path"))
    var writer: String?

    @Flag(help: "With --task: the task's samples (its time series).")
    var samples = false

    @Option(help: "Tasks far from the others in ram, duration or cpu (robust z-score on median and MAD).")
    var outliers: TopMetric?

    @Option(help: "The |z| above which a task is an outlier.")
    var threshold = 3.5

    @Flag(help: "Counts per state, totals, and quantiles of duration, RAM and CPU.")
    var summary = false

    @Flag(help: "Per task, what was requested beside what was used (memory, CPU, time), as seff does, with a summary line.")
    var efficiency = false

    @Option(help: "A read-only SELECT over the documented views.")
    var sql: String?

    @Option(help: "table, json, ndjson, csv or tsv (default: table on a terminal, else tsv).")
    var format: OutputFormat?

    @Flag(help: "Bytes and seconds as plain numbers.")
    var raw = false

    @Flag(help: "Every experiment of the PROVDIR.")
    var all = false

    func validate() throws {
        let modes = [
            top != nil, status != nil, task != nil, files != nil, readers != nil, writer != nil, outliers != nil, summary, efficiency, sql != nil,
        ].filter { $0 }.count
        if modes > 1 {
            throw ValidationError("give one of --top, --status, --task, --files, --readers, --writer, --outliers, --summary, --efficiency, --sql")
        }
        if samples && task == nil { throw ValidationError("--samples goes with --task ID") }
        if !["latest", "all"].contains(attempts) { throw ValidationError("--attempts is latest or all, got '\(attempts)'") }
        if let status, TaskState(rawValue: status) == nil && status != "incomplete" {
            throw ValidationError(
                "--status '\(status)': expected one of \((TaskState.allCases.map(\.rawValue) + ["incomplete"]).joined(separator: ", "))")
        }
        for f in filters where !f.contains("=") { throw ValidationError("--where '\(f)' is not KEY=VALUE") }
        if n < 1 { throw ValidationError("-n must be at least 1") }
    }

    func run() throws {
        var layouts: [ExperimentLayout]
        do {
            if all {
                layouts = ExperimentLayout.experiments(inProvdir: target.experiment)
                if layouts.isEmpty { throw EventLogError.notFound(path: target.experiment) }
            } else {
                layouts = [try target.layout(ingesting: false)]
            }
        } catch { throw ValidationError("\(error)") }
        for layout in layouts { try ExperimentArgument.ingestNewSegments(layout) }
        let fmt = format ?? (isatty(1) != 0 ? .table : .tsv)
        var combined: ResultTable?
        var summaries: [String] = []
        for layout in layouts {
            var t: ResultTable
            if efficiency {
                let report = try ExperimentQuery(path: layout.log).efficiency(filters: parameterFilters)
                t = report.table
                summaries.append((all ? layout.id + ": " : "") + report.summary)
            } else {
                t = try answer(layout)
            }
            if all {
                t.columns.insert("experiment", at: 0)
                t.units.insert(.none, at: 0)
                t.rows = t.rows.map { [.text(layout.id)] + $0 }
            }
            if combined == nil { combined = t } else { combined!.rows += t.rows }
        }
        if let combined { print(combined.render(fmt, raw: raw), terminator: "") }
        // The summary is for people: beside a table on standard output; with a machine format (piped: tsv), on
        // standard error, so that the data stays one table and the line is still seen.
        for s in summaries {
            if fmt == .table { print(s) } else { FileHandle.standardError.write(Data((s + "\n").utf8)) }
        }
    }

    /// A path as the record holds it: absolute (relative to the current folder).
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// `--where KEY=VALUE` as pairs.
    var parameterFilters: [(String, String)] {
        filters.map { f -> (String, String) in
            let i = f.firstIndex(of: "=")!
            return (String(f[..<i]), String(f[f.index(after: i)...]))
        }
    }

    func answer(_ layout: ExperimentLayout) throws -> ResultTable {
        let q = try ExperimentQuery(path: layout.log)
        if let top { return try q.top(top, n: n, allAttempts: attempts == "all", filters: parameterFilters) }
        if let outliers { return try q.outliers(outliers, threshold: threshold) }
        if summary { return try q.summary(isAlive: Runs.isAlive(try q.log.replay())) }
        if let sql {
            do { return try q.sql(sql) } catch {
                throw CLIError.usage(
                    "--sql: \(error) (queries are read-only: SELECT over tasks, attempts, samples, planned, exits, experiment, events)")
            }
        }
        if let files { return try q.filesTable(task: files) }
        if let readers { return try q.readersTable(PathPattern(Self.absolute(readers))) }
        if let writer { return try q.writersTable(PathPattern(Self.absolute(writer))) }
        if let task {
            if samples { return try q.samples(task: task, attempt: nil) }
            return try q.detail(task: task, layout: layout)
        }
        if let status {
            if status == "incomplete" {
                let state = try q.log.replay()
                return try q.tasks(state: nil, incompleteTasks: state.select(.incomplete, isAlive: Runs.isAlive(state)), filters: parameterFilters)
            }
            return try q.tasks(state: status, filters: parameterFilters)
        }
        return try q.tasks(state: nil, filters: parameterFilters)
    }
}
