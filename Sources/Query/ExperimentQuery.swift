public import EventLog
import Foundation
import SQLite

/// What `--top` ranks by.
public enum TopMetric: String, Sendable, CaseIterable {
    case ram, cpu, duration, cputime, read, write

    /// The SQL expression over `attempts a`.
    var expression: String {
        switch self {
        case .ram: "a.peak_rss"
        case .cpu: "CASE WHEN a.wall_time > 0 THEN 100.0 * (a.cpu_user + a.cpu_system) / a.wall_time END"
        case .duration: "a.wall_time"
        case .cputime: "round(a.cpu_user + a.cpu_system, 6)"
        case .read: "a.read_bytes"
        case .write: "a.write_bytes"
        }
    }

    /// Whether the base columns (duration, peak_ram, cpu) already show it.
    var inBaseColumns: Bool { self == .ram || self == .cpu || self == .duration }
    var unit: ResultTable.Unit {
        switch self {
        case .ram, .read, .write: .bytes
        case .cpu: .percent
        case .duration, .cputime: .seconds
        }
    }
}

/// Read-only questions asked of one experiment's log. Opens the log read-only: it never blocks a writer and
/// works while the experiment runs, and on an unpacked archive.
public final class ExperimentQuery {
    public let log: EventLog

    public init(path: String) throws {
        log = try EventLog(path: path, mode: .readOnly)
    }

    /// Runs `body` on the read-only connection with the documented views installed.
    func withViews<R>(_ body: (Connection) throws -> R) throws -> R {
        try withRecords { try body($0.db) }
    }

    /// Runs `body` on the experiment's records, in one read snapshot.
    func withRecords<R>(_ body: (ExperimentRecords) throws -> R) throws -> R {
        try log.withConnection { db in try body(ExperimentRecords(db)) }
    }

    /// Tasks whose labels or invocation have each KEY=VALUE (values compared as text, as they print).
    func whereClause(_ filters: [(String, String)]) -> (String, [SQLiteValue]) {
        guard !filters.isEmpty else { return ("", []) }
        var parts: [String] = []
        var values: [SQLiteValue] = []
        for (k, v) in filters {
            // A label equal to VALUE; or an invocation scalar equal to it, or a list holding it (json_each of a
            // scalar is that scalar).
            parts.append("(json_extract(t.labels, ?) = ? OR EXISTS (SELECT 1 FROM json_each(p.invocation, ?) WHERE CAST(value AS TEXT) = ?))")
            let path = SQLiteValue.text("$.\"\(k.replacingOccurrences(of: "\"", with: ""))\"")
            values += [path, .text(v), path, .text(v)]
        }
        return (" AND " + parts.joined(separator: " AND "), values)
    }

    /// The base row set: one row per task (its latest attempt) or per attempt, with the parameters that tell tasks apart.
    func attemptRows(
        db: Connection, extraColumns: [String], order: String?, limit: Int?, allAttempts: Bool, state: String?, filters: [(String, String)]
    ) throws -> [[SQLiteValue]] {
        let (whereSQL, whereValues) = whereClause(filters)
        let latest = allAttempts ? "" : " AND a.attempt = t.attempts"
        let stateSQL = state.map { _ in " AND t.state = ?" } ?? ""
        let sql = """
            SELECT t.task, a.attempt, coalesce(a.state, t.state), a.exit_code, a.wall_time, a.peak_rss, \
            CASE WHEN a.wall_time > 0 THEN 100.0 * (a.cpu_user + a.cpu_system) / a.wall_time END, t.labels\(extraColumns.map { ", " + $0 }.joined())
            \(order != nil
                ? "FROM main.attempts a JOIN main.tasks t ON t.task = a.task\(latest)"  // ranking: walk attempts (an index for peak_rss) and stop early
                : "FROM main.tasks t LEFT JOIN main.attempts a ON a.task = t.task\(latest)")\(filters.isEmpty ? "" : " LEFT JOIN planned p ON p.task = t.task")
            WHERE 1\(stateSQL)\(whereSQL)
            \(order.map { "ORDER BY \($0) DESC" } ?? "ORDER BY \(QueryViews.taskOrder("t.task")), a.attempt")
            \(limit.map { "LIMIT \($0)" } ?? "")
            """
        return try db.rows(sql, (state.map { [SQLiteValue.text($0)] } ?? []) + whereValues)
    }

    static let baseColumns = ["task", "attempt", "state", "exit", "duration", "peak_ram", "cpu", "params"]
    static let baseUnits: [ResultTable.Unit] = [.none, .none, .none, .none, .seconds, .bytes, .percent, .none]

    static func cell(_ v: SQLiteValue) -> ResultTable.Cell {
        switch v {
        case .null: .null
        case .integer(let i): .int(i)
        case .real(let d): .real(d)
        case .text(let s): .text(s)
        case .blob(let b): .text("<\(b.count) bytes>")
        }
    }

    /// `labels` JSON `{"participant":"01"}` as `participant=01`.
    static func params(_ v: SQLiteValue) -> ResultTable.Cell {
        let text = TaskLabels.text(v.string)
        return text.isEmpty ? .null : .text(text)
    }

    func table(_ rows: [[SQLiteValue]], extra: [String] = [], extraUnits: [ResultTable.Unit] = []) -> ResultTable {
        ResultTable(
            columns: Self.baseColumns + extra, units: Self.baseUnits + extraUnits,
            rows: rows.map { r in r.enumerated().map { i, v in i == 7 ? Self.params(v) : Self.cell(v) } })
    }

    /// The N tasks (or attempts) highest in a metric, with where each one's figures come from (`figures`: exit,
    /// samples or scheduler), so that a scheduler's figure (Slurm's MaxRSS counts clowdr's worker too) is never
    /// taken for the worker's measure of the tool.
    public func top(_ metric: TopMetric, n: Int, allAttempts: Bool, filters: [(String, String)] = []) throws -> ResultTable {
        try withViews { db in
            let extra = (metric.inBaseColumns ? [] : [metric.expression]) + ["a.figures"]
            let rows = try attemptRows(
                db: db, extraColumns: extra, order: metric.expression, limit: n, allAttempts: allAttempts, state: nil, filters: filters)
            return table(
                rows, extra: (metric.inBaseColumns ? [] : [metric.rawValue]) + ["figures"],
                extraUnits: (metric.inBaseColumns ? [] : [metric.unit]) + [.none])
        }
    }

    /// Tasks in a state (`incomplete` uses `incompleteTasks`), optionally filtered on parameters.
    public func tasks(state: String?, incompleteTasks: [String]? = nil, filters: [(String, String)] = []) throws -> ResultTable {
        try withViews { db in
            var rows = try attemptRows(
                db: db, extraColumns: [], order: nil, limit: nil, allAttempts: false, state: incompleteTasks == nil ? state : nil, filters: filters)
            if let incompleteTasks {
                let keep = Set(incompleteTasks)
                rows = rows.filter { keep.contains($0[0].string ?? "") }
            }
            return table(rows)
        }
    }

    /// Read-only SQL over the documented views.
    public func sql(_ text: String) throws -> ResultTable {
        try withViews { db in
            let stmt = try db.prepare(text)
            let columns = (0..<stmt.columnCount).map { stmt.columnName($0) }
            var rows: [[ResultTable.Cell]] = []
            while try stmt.step() { rows.append(stmt.row().map(Self.cell)) }
            return ResultTable(columns: columns, rows: rows)
        }
    }

    /// One task's time series.
    public func samples(task: String, attempt: Int?) throws -> ResultTable {
        try withViews { db in
            let rows = try db.rows(
                """
                SELECT s.attempt, s.time, round((s.time - a.started_at) / 1e6, 3), s.rss, round(s.cpu_user + s.cpu_system, 6), s.read_bytes, s.write_bytes, s.processes, s.threads
                FROM samples s LEFT JOIN main.attempts a ON a.task = s.task AND a.attempt = s.attempt
                WHERE s.task = ? AND (? IS NULL OR s.attempt = ?) ORDER BY s.seq
                """, [.text(task), .integer(attempt), .integer(attempt)])
            return ResultTable(
                columns: ["attempt", "time", "elapsed", "rss", "cputime", "read", "write", "processes", "threads"],
                units: [.none, .time, .seconds, .bytes, .seconds, .bytes, .bytes, .none, .none], rows: rows.map { $0.map(Self.cell) })
        }
    }

    /// Tasks whose metric is far from the others: robust z-score |x - median| / (1.4826 * MAD) above `threshold`.
    public func outliers(_ metric: TopMetric, threshold: Double) throws -> ResultTable {
        try withViews { db in
            let rows = try attemptRows(db: db, extraColumns: [metric.expression], order: nil, limit: nil, allAttempts: false, state: nil, filters: [])
            let zs = Stats.robustZ(rows.map { $0.last?.double })
            var out: [[SQLiteValue]] = []
            for (r, z) in zip(rows, zs) {
                guard let z, abs(z) > threshold else { continue }
                out.append((metric.inBaseColumns ? Array(r.dropLast()) : r) + [.real((z * 100).rounded() / 100)])
            }
            out.sort { abs($0.last!.double!) > abs($1.last!.double!) }
            return metric.inBaseColumns
                ? table(out, extra: ["z"], extraUnits: [.none]) : table(out, extra: [metric.rawValue, "z"], extraUnits: [metric.unit, .none])
        }
    }

    /// Counts per state, totals, and quantiles of duration, peak RAM and CPU (latest attempts).
    public func summary(isAlive: (TaskRecord) -> Bool = { _ in false }) throws -> ResultTable {
        let state = try log.replay()
        var rows: [[ResultTable.Cell]] = []
        var units: [ResultTable.Unit?] = []
        for s in TaskState.allCases { rows.append([.text("tasks \(s.rawValue)"), .int(Int64(state.counts[s] ?? 0)), .null, .null, .null, .null]) }
        rows.append([.text("tasks incomplete"), .int(Int64(state.select(.incomplete, isAlive: isAlive).count)), .null, .null, .null, .null])
        let attempts = state.tasks.values.flatMap(\.attempts)
        rows.append([.text("attempts"), .int(Int64(attempts.count)), .null, .null, .null, .null])
        let latest = state.tasks.values.compactMap(\.latest)
        units = rows.map { _ in nil }
        // Raw values (--raw, csv, json...) are seconds and bytes, as the names say; tables show human units.
        func q(_ name: String, _ xs: [Double], _ unit: ResultTable.Unit) {
            guard !xs.isEmpty else { return }
            rows.append([
                .text("\(name) (\(unit == .bytes ? "bytes" : "s")): total, median, p90, max"), .null, .real(xs.reduce(0, +)),
                .real(Stats.quantile(xs, 0.5)), .real(Stats.quantile(xs, 0.9)), .real(xs.max()!),
            ])
            units.append(unit)
        }
        q("duration", latest.compactMap(\.wallTime), .seconds)
        q("peak RAM", latest.compactMap { $0.peakRSS.map(Double.init) }, .bytes)
        q("CPU time", latest.compactMap { a in a.cpuUser.map { $0 + (a.cpuSystem ?? 0) } }, .seconds)
        return ResultTable(columns: ["what", "count", "total", "median", "p90", "max"], rows: rows, rowUnits: units)
    }
}

/// Small statistics, shared by the queries and the report.
package enum Stats {
    /// Linear-interpolated quantile (as numpy's default).
    package static func quantile(_ xs: [Double], _ p: Double) -> Double {
        quantile(sorted: xs.sorted(), p)
    }

    /// The same over values already sorted ascending.
    package static func quantile(sorted s: [Double], _ p: Double) -> Double {
        guard !s.isEmpty else { return .nan }
        let h = Double(s.count - 1) * p
        let lo = Int(h.rounded(.down))
        let hi = min(lo + 1, s.count - 1)
        return s[lo] + (h - Double(lo)) * (s[hi] - s[lo])
    }

    package static func mean(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count) }

    /// Robust z-scores, (x - median) / (1.4826 * MAD), for each value (nil where the value is nil, or all when
    /// fewer than 3 values or no spread). With MAD 0, the mean absolute deviation (scaled by 1.2533) stands in.
    package static func robustZ(_ values: [Double?]) -> [Double?] {
        let xs = values.compactMap { $0 }
        guard xs.count >= 3 else { return values.map { _ in nil } }
        let median = quantile(xs, 0.5)
        let deviations = xs.map { abs($0 - median) }
        let mad = quantile(deviations, 0.5)
        let scale = mad > 0 ? 1.4826 * mad : mean(deviations) * 1.2533
        guard scale > 0 else { return values.map { _ in nil } }
        return values.map { $0.map { ($0 - median) / scale } }
    }
}
