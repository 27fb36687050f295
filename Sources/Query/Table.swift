import EventLog
import Foundation
import JSON

/// A result: named columns and rows of cells, each cell a raw value and its text for people.
public struct ResultTable: Sendable {
    public enum Cell: Sendable, Equatable {
        case null
        case int(Int64)
        case real(Double)
        case text(String)
    }
    /// How a numeric column is shown to people.
    public enum Unit: Sendable { case none, bytes, seconds, percent, time }

    public var columns: [String]
    public var units: [Unit]
    public var rows: [[Cell]]
    /// For tables whose rows hold different quantities (a summary, a task's detail): a row's unit, which replaces
    /// the column's for that row's numbers.
    public var rowUnits: [Unit?]?

    public init(columns: [String], units: [Unit]? = nil, rows: [[Cell]] = [], rowUnits: [Unit?]? = nil) {
        self.columns = columns
        self.units = units ?? Array(repeating: .none, count: columns.count)
        self.rows = rows
        self.rowUnits = rowUnits
    }

    /// The unit of one cell: in the last column (a detail's values), its row's; else its column's.
    func unit(row: Int, column: Int) -> Unit {
        column == columns.count - 1 ? rowUnits?[row] ?? units[column] : units[column]
    }
}

/// Output formats of `clowdr query`.
public enum OutputFormat: String, Sendable, CaseIterable {
    case table, json, ndjson, csv, tsv
}

extension ResultTable {
    /// The table as text. `raw` keeps bytes and seconds as plain numbers; otherwise sizes are MiB/GiB, durations
    /// h:mm:ss or seconds, times ISO 8601.
    public func render(_ format: OutputFormat, raw: Bool) -> String {
        func text(_ c: Cell, _ u: Unit, forPeople: Bool) -> String {
            switch c {
            case .null: return forPeople ? "-" : ""
            case .text(let s): return s
            case .int(let v): return forPeople && !raw ? human(Double(v), u) : String(v)
            case .real(let v): return forPeople && !raw ? human(v, u) : (v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v))
            }
        }
        switch format {
        case .table:
            let cells = rows.enumerated().map { r, row in row.enumerated().map { text($1, unit(row: r, column: $0), forPeople: true) } }
            var widths = columns.map(\.count)
            for r in cells { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
            func line(_ r: [String]) -> String {
                r.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(
                    in: .whitespaces)
            }
            return ([line(columns)] + cells.map(line)).joined(separator: "\n") + "\n"
        case .csv, .tsv:
            let sep = format == .csv ? "," : "\t"
            func esc(_ s: String) -> String {
                guard format == .csv, s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else {
                    return format == .tsv ? s.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ") : s
                }
                return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            }
            let body = rows.map { row in row.enumerated().map { esc(text($1, units[$0], forPeople: false)) }.joined(separator: sep) }
            return ([columns.joined(separator: sep)] + body).joined(separator: "\n") + "\n"
        case .json, .ndjson:
            let objects = rows.map { row -> String in
                let members = row.enumerated().map { i, c -> String in
                    let value: String
                    switch c {
                    case .null: value = "null"
                    case .int(let v): value = String(v)
                    case .real(let v): value = v.isFinite ? String(v) : "null"
                    case .text(let s): value = ResultTable.jsonString(s)
                    }
                    return ResultTable.jsonString(columns[i]) + ":" + value
                }
                return "{" + members.joined(separator: ",") + "}"
            }
            return format == .ndjson ? objects.map { $0 + "\n" }.joined() : "[" + objects.joined(separator: ",\n ") + "]\n"
        }
    }

    static func jsonString(_ s: String) -> String { JSONWriter().string(.string(s)) }

    func human(_ v: Double, _ u: Unit) -> String {
        switch u {
        case .none: return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.3g", v)
        case .bytes: return Units.bytes(v)
        case .seconds:
            if v < 60 { return String(format: "%.2f s", v) }
            let t = Int(v.rounded())
            return String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60)
        case .percent: return String(format: "%.0f%%", v)
        case .time: return ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: v / 1e6))
        }
    }
}
