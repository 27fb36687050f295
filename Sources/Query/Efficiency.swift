import EventLog
import Foundation
import SQLite

/// `clowdr query --efficiency`: per task, what its latest attempt asked for beside what it used, as `seff` does
/// for one job: memory (peak RSS / requested), CPU (CPU time / (CPUs × wall)) and time (wall / time limit). A
/// local attempt asks for nothing: its CPU efficiency is over one CPU, as Slurm's default.
public struct EfficiencyReport: Sendable {
    public var table: ResultTable
    /// One line for the experiment: medians and maxima of the ratios, overall CPU efficiency, and how many
    /// attempts the scheduler killed for memory or time.
    public var summary: String
}

extension ExperimentQuery {
    public func efficiency(filters: [(String, String)] = []) throws -> EfficiencyReport {
        let keep =
            try filters.isEmpty
            ? nil
            : Set(
                tasks(state: nil, filters: filters).rows.compactMap { row -> String? in
                    if case .text(let t) = row[0] { return t }
                    return nil
                })
        var requested: [String: RequestedResources] = [:]  // "task/attempt"
        var classes: [String: FailureClass] = [:]
        var latest: [(task: TaskRow, attempt: AttemptRecord)] = []
        try withRecords { records in
            try records.forEachSubmission { requested["\($0.task)/\($0.attempt)"] = RequestedResources($0.resources) }
            try records.forEachSchedulerEnd { e in if let c = e.failureClass { classes["\(e.task)/\(e.attempt)"] = c } }
            try records.forEachLatestAttempt { t, a in if let a, keep?.contains(t.task) ?? true { latest.append((t, a)) } }
        }
        var rows: [[ResultTable.Cell]] = []
        var memory: [Double] = []
        var time: [Double] = []
        var cpuUsed = 0.0
        var cpuGiven = 0.0
        var unrequested = 0
        var killed: [FailureClass: Int] = [:]
        for (t, a) in latest {
            let key = "\(t.task)/\(a.attempt)"
            let r = requested[key] ?? RequestedResources()
            let cpus = Double(r.cpus ?? 1)
            let cpu = a.cpuUser.map { $0 + (a.cpuSystem ?? 0) }
            let memoryUsed = ratio(a.peakRSS.map(Double.init), r.memory.map(Double.init))
            let cpuEfficiency = ratio(cpu, a.wallTime.map { $0 * cpus })
            let timeUsed = ratio(a.wallTime, r.timeLimit)
            if let memoryUsed { memory.append(memoryUsed) }
            if r.memory == nil { unrequested += 1 }
            if let timeUsed { time.append(timeUsed) }
            if let cpu, let wall = a.wallTime, wall > 0 {
                cpuUsed += cpu
                cpuGiven += wall * cpus
            }
            if let c = classes[key], c == .oom || c == .timeout { killed[c, default: 0] += 1 }
            rows.append([
                .text(t.task), .int(Int64(a.attempt)), .text(a.state.rawValue),
                r.memory.map { .int($0) } ?? .null, a.peakRSS.map { .int($0) } ?? .null, number(memoryUsed),
                r.cpus.map { .int(Int64($0)) } ?? .null, number(cpu), number(cpuEfficiency),
                number(r.timeLimit), number(a.wallTime), number(timeUsed),
                Self.params(.text(t.labels ?? "")),
            ])
        }
        let table = ResultTable(
            columns: [
                "task", "attempt", "state", "mem_requested", "peak_ram", "mem_used", "cpus", "cputime", "cpu_efficiency", "time_limit", "duration",
                "time_used", "params",
            ],
            units: [.none, .none, .none, .bytes, .bytes, .percent, .none, .seconds, .percent, .seconds, .seconds, .percent, .none],
            rows: rows)
        return EfficiencyReport(
            table: table,
            summary: Self.summaryLine(
                tasks: rows.count, memory: memory, unrequested: unrequested, cpu: ratio(cpuUsed, cpuGiven), time: time, killed: killed))
    }

    /// A percentage, when both are known and the whole is positive.
    func ratio(_ part: Double?, _ whole: Double?) -> Double? {
        guard let part, let whole, whole > 0 else { return nil }
        return 100 * part / whole
    }

    func number(_ v: Double?) -> ResultTable.Cell { v.map { .real($0) } ?? .null }

    static func summaryLine(tasks: Int, memory: [Double], unrequested: Int, cpu: Double?, time: [Double], killed: [FailureClass: Int]) -> String {
        func pct(_ v: Double) -> String { String(format: "%.0f%%", v) }
        var parts: [String] = []
        if !memory.isEmpty {
            parts.append("memory: median \(pct(Stats.quantile(memory, 0.5))) of the request used (max \(pct(memory.max()!)))")
        }
        if unrequested > 0 { parts.append("\(unrequested) with no memory request") }
        if let cpu { parts.append("CPU efficiency \(pct(cpu)) (CPU time / CPUs × wall, all tasks)") }
        if !time.isEmpty { parts.append("time: median \(pct(Stats.quantile(time, 0.5))) of the limit used (max \(pct(time.max()!)))") }
        var line = "\(tasks) task\(tasks == 1 ? "" : "s")" + (parts.isEmpty ? "" : ": " + parts.joined(separator: "; "))
        let kills = [(FailureClass.oom, "memory"), (.timeout, "time")].compactMap { c, what in killed[c].map { "\($0) for \(what)" } }
        if !kills.isEmpty { line += "; killed " + kills.joined(separator: ", ") }
        return line
    }
}
