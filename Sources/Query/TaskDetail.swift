import ClowdrErrors
public import EventLog
import JSON

extension ExperimentQuery {
    /// Everything about one task, as rows of (attempt, field, value): its plan, then each attempt's state, times,
    /// host, exit, measures, outputs with checksums, and the last lines of its stderr (from the experiment folder
    /// `layout`). Throws a usage error when the experiment has no such task.
    public func detail(task: String, layout: ExperimentLayout) throws -> ResultTable {
        try withRecords { records in
            guard try records.hasTask(task) else {
                var count = 0
                try records.forEachTask { _ in count += 1 }
                throw CodedFailure("no task '\(task)' in \(layout.id) (tasks 0 to \(count - 1))", code: "query.no_such_task", usage: true)
            }
            var table = DetailTable()
            try addPlan(of: task, records, to: &table)
            var outputs: [Int: [JSONValue]] = [:]
            try records.forEachExit(task: task) { x in outputs[x.attempt] = try x.outputs.map { try JSONParser.parse($0).arrayValue ?? [] } ?? [] }
            let attempts = try records.attempts(of: task)
            table.add(nil, "state", (attempts.last.map { TaskState($0.state) } ?? .planned).rawValue)
            let starts = try records.starts(of: task)
            let images = try records.images(of: task)
            for a in attempts {
                Self.addAttempt(a, outputs: outputs[a.attempt] ?? [], stderr: layout.stderr(task, a.attempt), to: &table)
                if let s = starts[a.attempt] { Self.addHost(s, attempt: a.attempt, to: &table) }
                if let i = images[a.attempt] {
                    table.add(a.attempt, "image", "\(i.image) (\(i.engine))")
                    if let d = i.digest { table.add(a.attempt, "image_digest", d) }
                    if let id = i.id { table.add(a.attempt, "image_id", id) }
                    if let r = i.reason { table.add(a.attempt, "image_unresolved", r) }
                }
            }
            return ResultTable(columns: ["attempt", "field", "value"], rows: table.rows, rowUnits: table.units)
        }
    }

    /// Rows of (attempt, field, value), each with its unit.
    struct DetailTable {
        var rows: [[ResultTable.Cell]] = []
        var units: [ResultTable.Unit?] = []

        mutating func add(_ attempt: Int?, _ field: String, _ value: String?) {
            rows.append([attempt.map { .int(Int64($0)) } ?? .null, .text(field), value.map { .text($0) } ?? .null])
            units.append(nil)
        }

        /// A measure: seconds or bytes raw (--raw, csv, json), human units in a table.
        mutating func add(_ attempt: Int, _ field: String, _ value: Double?, _ unit: ResultTable.Unit) {
            rows.append([.int(Int64(attempt)), .text(field), value.map { .real($0) } ?? .null])
            units.append(unit)
        }
    }

    /// The task's command line, invocation and labels.
    func addPlan(of task: String, _ records: ExperimentRecords, to table: inout DetailTable) throws {
        guard let plan = try records.plan(of: task) else { return }
        table.add(nil, "command_line", plan.commandLine)
        table.add(nil, "invocation", try plan.invocation.map { try JSONParser.parse($0).description })
        let labels = TaskLabels.text(plan.labels)
        if !labels.isEmpty { table.add(nil, "labels", labels) }
    }

    /// The host an attempt ran on and the clowdr that started it, as its `task_started` (v2, v3) says.
    static func addHost(_ s: TaskStarted, attempt: Int, to table: inout DetailTable) {
        if let v = s.clowdrVersion { table.add(attempt, "clowdr_version", v) }
        if let m = s.cpuModel { table.add(attempt, "cpu_model", m) }
        if let c = s.cpus { table.add(attempt, "cpus", String(c)) }
        if let m = s.memory { table.add(attempt, "memory_bytes", Double(m), .bytes) }
        if let k = s.kernel { table.add(attempt, "kernel", k) }
        if let o = s.osRelease { table.add(attempt, "os_release", o) }
        if let t = s.instanceType { table.add(attempt, "instance_type", t) }
        if let spot = s.spot { table.add(attempt, "spot", spot ? "yes" : "no") }
    }

    /// Where an attempt's figures come from, for a person.
    static func figuresText(_ f: Figures) -> String {
        switch f {
        case .exit: "exit (the worker's exact totals)"
        case .samples: "samples (the worker's; the tool was stopped before its exit was recorded)"
        case .scheduler: "scheduler (its accounting: the worker reported nothing)"
        }
    }

    static func addAttempt(_ a: AttemptRecord, outputs: [JSONValue], stderr: String, to table: inout DetailTable) {
        table.add(a.attempt, "state", a.state.rawValue)
        table.add(a.attempt, "started", a.startedAt?.iso8601)
        table.add(a.attempt, "ended", a.endedAt?.iso8601)
        table.add(a.attempt, "host", a.host.map { "\($0) pid \(a.pid.map(String.init) ?? "?")" })
        table.add(a.attempt, "exit", a.exitCode.map { "code \($0)" } ?? a.signal.map { "signal \($0)" })
        if let r = a.failureReason { table.add(a.attempt, "reason", r) }
        if let f = a.failureText(lastStderrLine: LogTail.lastLine(of: stderr)) { table.add(a.attempt, "failure", f) }
        table.add(a.attempt, "wall_time_s", a.wallTime, .seconds)
        table.add(a.attempt, "cpu_s", a.cpuUser.map { $0 + (a.cpuSystem ?? 0) }, .seconds)
        table.add(a.attempt, "peak_rss_bytes", a.peakRSS.map(Double.init), .bytes)
        table.add(a.attempt, "samples", String(a.samples))
        table.add(a.attempt, "figures_from", a.figures.map(Self.figuresText))
        for o in outputs {
            let size = o["size"]?.numberValue?.int64
            let sha = o["sha256"]?.stringValue
            table.add(
                a.attempt, "output \(o["id"]?.stringValue ?? "?")",
                "\(o["path"]?.stringValue ?? "?") \(size.map { "\($0) bytes" } ?? "missing")\(sha.map { " sha256 \($0)" } ?? "")")
        }
        for line in LogTail.lastLines(of: stderr, count: 5) { table.add(a.attempt, "stderr", line) }
    }
}
