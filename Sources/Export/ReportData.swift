import EventLog
import Foundation
import JSON
import Query
import SQLite

/// The data behind the HTML report (`clowdr export html`, `clowdr share`), as two JSON documents:
///
/// - **core**: what the page needs to become interactive: the experiment, one column per task field (id, state,
///   exit code, duration, peak RAM, CPU, parameters), one column per attempt field (times for the Gantt), the
///   summary statistics and the outliers. Columns, not objects, keep 100,000 tasks small.
/// - **detail**: what the task panel and the plots show: command lines and invocations, and, within budgets, the
///   outputs with checksums, the monitor samples (downsampled, peaks kept) and the last lines of stdout and stderr.
///
/// Both are derived from the log alone (plus the attempts' stdout/stderr files), and stamped with the last event's
/// seq and time, never the wall clock: the same log gives the same bytes. The formats are documented in
/// `docs/report.md`.
public struct ReportData: Sendable {
    /// The core document (JSON text).
    public var core: String
    /// The detail document (JSON text).
    public var detail: String
    /// The seq of the last event the documents include.
    public var seq: Int64
    /// Tasks and attempts in the report.
    public var tasks: Int
    public var attempts: Int

    /// How much of the bulky data the static report embeds. Every task's row, attempts, command line and
    /// invocation are always there; outputs, samples and log tails go to the tasks that matter most first (failed, then
    /// by peak RAM, then in task order) until the budget is spent.
    public struct Budget: Sendable {
        /// Monitor samples embedded in all, after downsampling.
        public var samplePoints: Int
        /// Most points a single attempt's series keeps (the highest RSS of each bucket is kept).
        public var pointsPerTask: Int
        /// Bytes of stdout/stderr tails embedded in all.
        public var logBytes: Int
        /// Bytes of outputs (paths, sizes, sha256) embedded in all: 32 bytes of entropy per checksum are
        /// incompressible, so 100,000 tasks of many outputs cannot all fit a 20 MB page.
        public var outputBytes: Int
        /// Lines and bytes of each stream's tail.
        public var tailLines: Int
        public var tailBytes: Int

        public init(
            samplePoints: Int = 300_000, pointsPerTask: Int = 200, logBytes: Int = 4 << 20, outputBytes: Int = 12 << 20, tailLines: Int = 200,
            tailBytes: Int = 16 << 10
        ) {
            self.samplePoints = samplePoints
            self.pointsPerTask = pointsPerTask
            self.logBytes = logBytes
            self.outputBytes = outputBytes
            self.tailLines = tailLines
            self.tailBytes = tailBytes
        }

        /// The live page's documents (`clowdr share`): no samples, outputs or logs, which the page fetches per task,
        /// so that a rebuild after new events stays cheap.
        public static let live = Budget(samplePoints: 0, logBytes: 0, outputBytes: 0)

        /// Everything about one task, for `clowdr share`'s task endpoint.
        public static let oneTask = Budget(samplePoints: .max, pointsPerTask: 2_000, logBytes: .max, outputBytes: .max)
    }

    /// The states in the order their codes (indexes) appear in the `state` columns.
    public static let states = TaskStatus.allCases.map(\.rawValue)

    /// Builds the report data of the experiment folder `directory` (its log and its tasks' stdout/stderr).
    public static func build(experimentDirectory directory: String, budget: Budget = Budget()) throws -> ReportData {
        try build(db: directory, experimentDirectory: directory, budget: budget)
    }

    /// The same from the log at `db` (a folder or a `.db` file: a snapshot, say), with the stdout/stderr files of
    /// the experiment folder `directory`.
    public static func build(db: String, experimentDirectory directory: String, budget: Budget = Budget()) throws -> ReportData {
        let log = try EventLog(path: db, mode: .readOnly)
        return try log.withConnection { db in try build(db, directory: directory, budget: budget) }  // one read snapshot
    }

    /// The last event's seq (what a live page polls to know when to reload).
    public static func lastSeq(experimentDirectory directory: String) throws -> Int64 {
        let log = try EventLog(path: directory, mode: .readOnly)
        return try log.withConnection { db in try db.scalar("SELECT coalesce(max(seq), 0) FROM events")?.int64 ?? 0 }
    }

    // MARK: - Building

    /// One row of the attempts projection.
    struct AttemptRow {
        var task: Int
        var attempt: Int64
        var state: Int
        var submitted, started, ended: Int64?
        var exitCode, signal: Int64?
        var wall, cpuUser, cpuSystem: Double?
        var peakRSS, read, write: Int64?
        var host, reason: String?
        var samples: Int64

        var cpuPercent: Double? {
            guard let wall, wall > 0, let u = cpuUser else { return nil }
            return 100 * (u + (cpuSystem ?? 0)) / wall
        }
    }

    static func build(_ db: Connection, directory: String, budget: Budget) throws -> ReportData {
        let seq = try db.scalar("SELECT coalesce(max(seq), 0) FROM events")?.int64 ?? 0
        let lastTime = try db.scalar("SELECT time FROM events WHERE seq = ?", [.integer(seq)])?.int64
        var created = "null"
        var t0: Int64 = lastTime ?? 0
        if let row = try db.rows("SELECT payload, time FROM events WHERE type = 'experiment_created' ORDER BY seq LIMIT 1").first {
            created = row[0].string ?? "null"
            t0 = row[1].int64 ?? t0
        }

        // Tasks, in the order every other listing uses.
        var ids: [String] = []
        var index: [String: Int] = [:]
        var taskState: [Int] = []
        var taskAttempts: [Int64] = []
        var labels: [String?] = []
        let stateCode = Dictionary(uniqueKeysWithValues: states.enumerated().map { ($1, $0) })
        let tasks = try db.prepare("SELECT task, state, attempts, labels FROM tasks ORDER BY CAST(task AS INTEGER), task")
        while try tasks.step() {
            index[tasks.string(0)] = ids.count
            ids.append(tasks.string(0))
            taskState.append(stateCode[tasks.string(1)] ?? 0)
            taskAttempts.append(tasks.int64(2))
            labels.append(tasks.optionalString(3))
        }

        var attempts: [AttemptRow] = []
        var latest = [Int?](repeating: nil, count: ids.count)  // task -> index in attempts of its latest attempt
        let rows = try db.prepare(
            """
            SELECT task, attempt, state, submitted_at, started_at, ended_at, exit_code, signal, wall_time, cpu_user, cpu_system, \
            peak_rss, read_bytes, write_bytes, host, failure_reason, samples FROM attempts \
            ORDER BY coalesce(submitted_at, started_at, ended_at), CAST(task AS INTEGER), task, attempt
            """)
        while try rows.step() {
            guard let t = index[rows.string(0)] else { continue }
            let a = AttemptRow(
                task: t, attempt: rows.int64(1), state: stateCode[rows.string(2)] ?? 0, submitted: rows.optionalInt64(3),
                started: rows.optionalInt64(4), ended: rows.optionalInt64(5), exitCode: rows.optionalInt64(6), signal: rows.optionalInt64(7),
                wall: rows.optionalDouble(8), cpuUser: rows.optionalDouble(9), cpuSystem: rows.optionalDouble(10), peakRSS: rows.optionalInt64(11),
                read: rows.optionalInt64(12), write: rows.optionalInt64(13), host: rows.optionalString(14), reason: rows.optionalString(15),
                samples: rows.int64(16))
            if a.attempt == taskAttempts[t] { latest[t] = attempts.count }
            attempts.append(a)
        }
        let last: [AttemptRow?] = latest.map { $0.map { attempts[$0] } }

        // Parameters: the labels the planner gave each task, else the invocation keys whose values differ.
        // Each task's plan, found through the projection's planned_seq (a lookup by seq, not a scan of the log).
        var planned = [(commandLine: String, invocation: String)?](repeating: nil, count: ids.count)
        let plans = try db.prepare(
            "SELECT t.task, json_extract(e.payload, '$.command_line'), json(json_extract(e.payload, '$.invocation')) FROM tasks t JOIN events e ON e.seq = t.planned_seq WHERE e.type = 'task_planned' AND e.version = 1"
        )
        while try plans.step() {
            guard let t = index[plans.string(0)], planned[t] == nil else { continue }
            planned[t] = (plans.optionalString(1) ?? "", plans.optionalString(2) ?? "null")
        }
        let (paramNames, paramColumns) = parameters(labels: labels, invocations: planned.map { $0?.invocation })

        // The latest attempt's outputs: its exit event is almost always the last event of the attempt (a lookup by
        // seq); a scan of the exit events covers the others.
        var outputs = [String?](repeating: nil, count: ids.count)
        let exits = try db.prepare(
            "SELECT a.task, e.type, json(json_extract(e.payload, '$.outputs')) FROM tasks t JOIN attempts a ON a.task = t.task AND a.attempt = t.attempts JOIN events e ON e.seq = a.last_seq WHERE a.exit_code IS NOT NULL OR a.signal IS NOT NULL"
        )
        var unresolved = 0
        while budget.outputBytes > 0, try exits.step() {
            guard let t = index[exits.string(0)] else { continue }
            if exits.string(1) == "task_exited" { outputs[t] = exits.optionalString(2) } else { unresolved += 1 }
        }
        if unresolved > 0 {
            let scan = try db.prepare(
                "SELECT task, attempt, json(json_extract(payload, '$.outputs')) FROM events WHERE type = 'task_exited' AND version = 1 ORDER BY seq")
            while try scan.step() {
                guard let t = index[scan.string(0)], scan.int64(1) == taskAttempts[t] else { continue }
                outputs[t] = scan.optionalString(2)
            }
        }
        // Core.
        var c = JSONText()
        c.raw(#"{"format":"clowdr-report/1","seq":"#)
        c.int(seq)
        c.raw(#","as_of":"#)
        c.time(lastTime)
        c.raw(#","experiment_id":"#)
        c.string((directory as NSString).lastPathComponent)
        c.raw(#","experiment":"#)
        c.raw(created)
        c.raw(#","t0":"#)
        c.int(t0)
        c.raw(#","states":"#)
        c.array(states) { $0.string($1) }
        c.raw(#","params":"#)
        c.array(paramNames) { $0.string($1) }
        c.raw(#","tasks":{"id":"#)
        c.array(ids) { $0.string($1) }
        c.raw(#","state":"#)
        c.array(taskState) { $0.int(Int64($1)) }
        c.raw(#","attempts":"#)
        c.array(taskAttempts) { $0.int($1) }
        c.raw(#","exit":"#)
        c.array(last) { $0.int($1?.exitCode) }
        c.raw(#","signal":"#)
        c.array(last) { $0.int($1?.signal) }
        c.raw(#","duration":"#)
        c.array(last) { $0.number($1?.wall, places: 3) }
        c.raw(#","rss":"#)
        c.array(last) { $0.int($1?.peakRSS) }
        c.raw(#","cpu":"#)
        c.array(last) { $0.number($1?.cpuPercent, places: 1) }
        c.raw(#","read":"#)
        c.array(last) { $0.int($1?.read) }
        c.raw(#","write":"#)
        c.array(last) { $0.int($1?.write) }
        c.raw(#","reason":"#)
        c.array(last) { $0.string($1?.reason) }
        c.raw(#","params":"#)
        c.array(paramColumns) { c, col in c.array(col) { $0.string($1) } }
        c.raw(#"},"attempts":{"task":"#)
        c.array(attempts) { $0.int(Int64($1.task)) }
        c.raw(#","attempt":"#)
        c.array(attempts) { $0.int($1.attempt) }
        c.raw(#","state":"#)
        c.array(attempts) { $0.int(Int64($1.state)) }
        // Milliseconds since t0.
        for (name, key) in [("submitted", \AttemptRow.submitted), ("started", \AttemptRow.started), ("ended", \AttemptRow.ended)] {
            c.raw(",\"\(name)\":")
            c.array(attempts) { c, a in c.int(a[keyPath: key].map { ($0 - t0) / 1000 }) }
        }
        c.raw(#","exit":"#)
        c.array(attempts) { $0.int($1.exitCode) }
        c.raw(#","signal":"#)
        c.array(attempts) { $0.int($1.signal) }
        c.raw(#","rss":"#)
        c.array(attempts) { $0.int($1.peakRSS) }
        c.raw(#","host":"#)
        c.array(attempts) { $0.string($1.host) }
        c.raw("},")
        summary(last: last, ids: ids, into: &c)
        c.raw("}")
        // Detail.
        var d = JSONText()
        d.raw(#"{"format":"clowdr-report-detail/1","seq":"#)
        d.int(seq)
        d.raw(#","command_line":"#)
        d.array(planned) { $0.string($1?.commandLine) }
        d.raw(#","invocation":"#)
        d.array(planned) { $0.raw($1?.invocation ?? "null") }
        let priority = priorityOrder(last: last, taskState: taskState)
        let outputStats = embedOutputs(outputs, priority: priority, budget: budget, into: &d)
        let sampleStats = try embedSamples(db, ids: ids, last: last, priority: priority, budget: budget, into: &d)
        let logStats = embedLogs(directory: directory, ids: ids, last: last, priority: priority, budget: budget, into: &d)
        d.raw(#","budget":{"sample_points":"#)
        d.int(Int64(sampleStats.points))
        d.raw(#","sample_tasks":"#)
        d.int(Int64(sampleStats.tasks))
        d.raw(#","output_tasks":"#)
        d.int(Int64(outputStats.tasks))
        d.raw(#","outputs_complete":"#)
        d.raw(outputStats.complete ? "true" : "false")
        d.raw(#","log_bytes":"#)
        d.int(Int64(logStats.bytes))
        d.raw(#","log_tasks":"#)
        d.int(Int64(logStats.tasks))
        d.raw(#","tail_lines":"#)
        d.int(Int64(budget.tailLines))
        d.raw("}}")
        return ReportData(core: c.text, detail: d.text, seq: seq, tasks: ids.count, attempts: attempts.count)
    }

    /// Parameter names and one column of display values per name.
    static func parameters(labels: [String?], invocations: [String?]) -> ([String], [[String?]]) {
        let parsedLabels = labels.map { $0.flatMap { try? JSONParser.parse($0) } }
        var names = Set<String>()
        for case .object(let o)? in parsedLabels { names.formUnion(o.keys) }
        if !names.isEmpty {
            let sorted = names.sorted()
            return (sorted, sorted.map { n in parsedLabels.map { l in l?[n].map(display) } })
        }
        // No labels: the invocation keys whose values are not the same in every task.
        let parsed = invocations.map { $0.flatMap { try? JSONParser.parse($0) } }
        var first: [String: JSONValue] = [:]
        var varying = Set<String>()
        var seen = Set<String>()
        for case .object(let o)? in parsed {
            for (k, v) in o {
                if let f = first[k] { if f != v { varying.insert(k) } } else { first[k] = v }
                seen.insert(k)
            }
        }
        // A key missing in some task varies too.
        for case .object(let o)? in parsed { for k in seen where o[k] == nil { varying.insert(k) } }
        let sorted = varying.sorted()
        return (sorted, sorted.map { n in parsed.map { p in p?[n].map(display) } })
    }

    static func display(_ v: JSONValue) -> String {
        if case .string(let s) = v { return s }
        return JSONWriter().string(v)
    }

    /// Failed (and lost, cancelled) tasks first, then by peak RAM, highest first; ties in task order.
    static func priorityOrder(last: [AttemptRow?], taskState: [Int]) -> [Int] {
        let bad = Set(["failed", "lost", "cancelled"].compactMap { states.firstIndex(of: $0) })
        return last.indices.sorted { a, b in
            let fa = bad.contains(taskState[a])
            let fb = bad.contains(taskState[b])
            if fa != fb { return fa }
            let ra = last[a]?.peakRSS ?? -1
            let rb = last[b]?.peakRSS ?? -1
            return ra != rb ? ra > rb : a < b
        }
    }

    /// Quantiles of duration, peak RAM and CPU over the latest attempts that ran, and the tasks whose robust
    /// z-score exceeds 3.5 on one of them (the same statistic as `clowdr query --outliers`).
    static func summary(last: [AttemptRow?], ids: [String], into c: inout JSONText) {
        let metrics: [(String, [Double?])] = [
            ("duration", last.map { $0?.wall }), ("rss", last.map { $0?.peakRSS.map(Double.init) }), ("cpu", last.map { $0?.cpuPercent }),
        ]
        c.raw(#""summary":{"#)
        for (k, (name, values)) in metrics.enumerated() {
            if k > 0 { c.raw(",") }
            c.string(name)
            let xs = values.compactMap { $0 }.sorted()
            c.raw(#":{"n":"#)
            c.int(Int64(xs.count))
            for (label, p) in [("min", 0.0), ("p25", 0.25), ("median", 0.5), ("p75", 0.75), ("p95", 0.95), ("max", 1.0)] {
                c.raw(",\"\(label)\":")
                c.number(xs.isEmpty ? nil : Stats.quantile(sorted: xs, p), places: 3)
            }
            c.raw(#","mean":"#)
            c.number(xs.isEmpty ? nil : Stats.mean(xs), places: 3)
            c.raw("}")
        }
        c.raw(#"},"outliers":["#)
        var outliers: [(task: Int, metric: String, value: Double, z: Double)] = []
        for (name, values) in metrics {
            for (t, z) in Stats.robustZ(values).enumerated() {
                if let z, abs(z) > 3.5, let v = values[t] { outliers.append((t, name, v, z)) }
            }
        }
        outliers.sort { abs($0.z) != abs($1.z) ? abs($0.z) > abs($1.z) : $0.task < $1.task }
        for (k, o) in outliers.prefix(200).enumerated() {
            if k > 0 { c.raw(",") }
            c.raw(#"{"task":"#)
            c.int(Int64(o.task))
            c.raw(#","metric":"#)
            c.string(o.metric)
            c.raw(#","value":"#)
            c.number(o.value, places: 3)
            c.raw(#","z":"#)
            c.number(o.z, places: 2)
            c.raw("}")
        }
        c.raw(#"],"outlier_count":"#)
        c.int(Int64(outliers.count))
    }

    // MARK: - Outputs

    /// Embeds `"outputs":{"<task index>":[{id, path, size, sha256}, ...]}` (the latest attempt's) within the budget.
    static func embedOutputs(_ outputs: [String?], priority: [Int], budget: Budget, into d: inout JSONText) -> (tasks: Int, complete: Bool) {
        var used = 0
        var chosen: [Int] = []
        var complete = true
        for t in priority {
            guard let o = outputs[t] else { continue }
            if used + o.utf8.count > budget.outputBytes {
                complete = false
                break
            }
            used += o.utf8.count
            chosen.append(t)
        }
        d.raw(#","outputs":{"#)
        for (k, t) in chosen.sorted().enumerated() {
            if k > 0 { d.raw(",") }
            d.raw("\"\(t)\":")
            d.raw(outputs[t]!)
        }
        d.raw("}")
        return (chosen.count, complete)
    }

    // MARK: - Samples

    /// A downsampled series: seconds since the attempt started, RSS bytes, CPU % over the preceding interval.
    struct Series {
        var t: [Double] = []
        var rss: [Int64] = []
        var cpu: [Double] = []
        var total = 0
    }

    /// Embeds `"samples":{"<task index>":{...}}` for the latest attempts of as many tasks as the budget allows.
    static func embedSamples(
        _ db: Connection, ids: [String], last: [AttemptRow?], priority: [Int], budget: Budget, into d: inout JSONText
    ) throws -> (points: Int, tasks: Int) {
        let perTask = max(30, min(budget.pointsPerTask, budget.samplePoints / max(1, ids.count)))
        var chosen: [Int] = []
        var points = 0
        for t in priority {
            guard let a = last[t], a.samples > 0 else { continue }
            let n = min(Int(a.samples), perTask)
            if points + n > budget.samplePoints { break }
            points += n
            chosen.append(t)
        }
        d.raw(#","samples":{"#)
        defer { d.raw("}") }
        guard !chosen.isEmpty else { return (0, 0) }
        var raw: [Int: [(time: Int64, rss: Int64, cpu: Double)]] = [:]
        let columns =
            "e.task, e.attempt, e.time, json_extract(e.payload, '$.rss'), json_extract(e.payload, '$.cpu_user') + json_extract(e.payload, '$.cpu_system')"
        let all = chosen.count == ids.count
        let taskIndex = Dictionary(uniqueKeysWithValues: chosen.map { (ids[$0], $0) })
        if !all {
            try db.execute("CREATE TEMP TABLE IF NOT EXISTS report_selection (task TEXT, attempt INTEGER, PRIMARY KEY (task, attempt)) WITHOUT ROWID")
            try db.execute("DELETE FROM temp.report_selection")
            let insert = try db.prepare("INSERT INTO temp.report_selection VALUES (?, ?)")
            for t in chosen { try insert.run([.text(ids[t]), .integer(last[t]!.attempt)]) }
        }
        let sql =
            all
            ? "SELECT \(columns) FROM events e WHERE e.type = 'sample' AND e.version = 1 ORDER BY e.seq"
            : "SELECT \(columns) FROM events e JOIN temp.report_selection s ON s.task = e.task AND s.attempt = e.attempt WHERE e.type = 'sample' AND e.version = 1 ORDER BY e.seq"
        let stmt = try db.prepare(sql)
        while try stmt.step() {
            guard let t = taskIndex[stmt.string(0)], stmt.int64(1) == last[t]!.attempt else { continue }
            raw[t, default: []].append((stmt.int64(2), stmt.int64(3), stmt.double(4)))
        }
        if !all { try db.execute("DROP TABLE temp.report_selection") }
        var first = true
        for t in chosen.sorted() {
            guard let samples = raw[t], let a = last[t] else { continue }
            let s = downsample(samples, start: a.started ?? samples[0].time, to: perTask)
            if !first { d.raw(",") }
            first = false
            d.raw("\"\(t)\":")
            write(s, attempt: a.attempt, into: &d)
        }
        return (points, chosen.count)
    }

    static func write(_ s: Series, attempt: Int64, into d: inout JSONText) {
        d.raw(#"{"attempt":"#)
        d.int(attempt)
        d.raw(#","n":"#)
        d.int(Int64(s.total))
        d.raw(#","t":"#)
        d.array(s.t) { $0.number($1, places: 2) }
        d.raw(#","rss":"#)
        d.array(s.rss) { $0.int($1) }
        d.raw(#","cpu":"#)
        d.array(s.cpu) { $0.number($1, places: 1) }
        d.raw("}")
    }

    /// At most `k` points: the samples cut into k consecutive buckets; each keeps its highest RSS (so the peak
    /// survives), the time of its last sample, and the CPU % over the bucket (from the cumulative CPU times).
    static func downsample(_ samples: [(time: Int64, rss: Int64, cpu: Double)], start: Int64, to k: Int) -> Series {
        var s = Series()
        s.total = samples.count
        guard !samples.isEmpty else { return s }
        let buckets = min(k, samples.count)
        var prevTime = start
        var prevCPU = 0.0
        var lo = 0
        for b in 0..<buckets {
            let hi = (b + 1) * samples.count / buckets  // exclusive
            guard hi > lo else { continue }
            let slice = samples[lo..<hi]
            let end = slice.last!
            let dt = Double(end.time - prevTime) / 1e6
            s.t.append(Double(end.time - start) / 1e6)
            s.rss.append(slice.map(\.rss).max()!)
            s.cpu.append(dt > 0 ? max(0, 100 * (end.cpu - prevCPU) / dt) : 0)
            prevTime = end.time
            prevCPU = end.cpu
            lo = hi
        }
        return s
    }

    // MARK: - Logs

    /// Embeds `"logs":{"<task index>":{"attempt":n,"stdout":{...},"stderr":{...}}}` within the byte budget.
    static func embedLogs(
        directory: String, ids: [String], last: [AttemptRow?], priority: [Int], budget: Budget, into d: inout JSONText
    ) -> (bytes: Int, tasks: Int) {
        var used = 0
        var entries: [(Int, Int64, LogTail, LogTail)] = []
        let layout = ExperimentLayout(directory: directory)
        for t in priority {
            guard let a = last[t] else { continue }
            let out = LogTail.read(path: layout.stdout(ids[t], Int(a.attempt)), lines: budget.tailLines, bytes: budget.tailBytes)
            let err = LogTail.read(path: layout.stderr(ids[t], Int(a.attempt)), lines: budget.tailLines, bytes: budget.tailBytes)
            let size = out.text.utf8.count + err.text.utf8.count
            if used + size > budget.logBytes { break }
            used += size
            entries.append((t, a.attempt, out, err))
        }
        entries.sort { $0.0 < $1.0 }
        d.raw(#","logs":{"#)
        for (k, e) in entries.enumerated() {
            if k > 0 { d.raw(",") }
            d.raw("\"\(e.0)\":")
            writeLogs(attempt: e.1, stdout: e.2, stderr: e.3, into: &d)
        }
        d.raw("}")
        return (used, entries.count)
    }

    static func writeLogs(attempt: Int64, stdout: LogTail, stderr: LogTail, into d: inout JSONText) {
        d.raw(#"{"attempt":"#)
        d.int(attempt)
        for (name, tail) in [("stdout", stdout), ("stderr", stderr)] {
            d.raw(",\"\(name)\":{\"text\":")
            d.string(tail.text)
            d.raw(#","size":"#)
            d.int(tail.size)
            d.raw(#","complete":"#)
            d.raw(tail.complete ? "true" : "false")
            d.raw("}")
        }
        d.raw("}")
    }

    // MARK: - One task (clowdr share)

    /// Everything about one task, every attempt: samples (up to 2,000 points each), outputs and log tails. Nil when the
    /// log has no such task.
    public static func task(experimentDirectory directory: String, task: String, budget: Budget = .oneTask) throws -> String? {
        let log = try EventLog(path: directory, mode: .readOnly)
        return try log.withConnection { db -> String? in
            guard try !db.rows("SELECT 1 FROM tasks WHERE task = ?", [.text(task)]).isEmpty else { return nil }
            let attempts = try db.rows("SELECT attempt, started_at FROM attempts WHERE task = ? ORDER BY attempt", [.text(task)])
            var series: [Int64: [(time: Int64, rss: Int64, cpu: Double)]] = [:]
            var outputs: [Int64: String] = [:]
            let stmt = try db.prepare(
                """
                SELECT attempt, type, time, json_extract(payload, '$.rss'), json_extract(payload, '$.cpu_user') + json_extract(payload, '$.cpu_system'), \
                json(json_extract(payload, '$.outputs')) FROM events WHERE task = ? AND type IN ('sample', 'task_exited') AND version = 1 ORDER BY seq
                """)
            try stmt.bind(.text(task), at: 1)
            while try stmt.step() {
                if stmt.string(1) == "sample" {
                    series[stmt.int64(0), default: []].append((stmt.int64(2), stmt.int64(3), stmt.double(4)))
                } else {
                    outputs[stmt.int64(0)] = stmt.optionalString(5)
                }
            }
            var d = JSONText()
            d.raw(#"{"task":"#)
            d.string(task)
            d.raw(#","attempts":["#)
            let layout = ExperimentLayout(directory: directory)
            for (k, row) in attempts.enumerated() {
                let n = row[0].int64 ?? 0
                if k > 0 { d.raw(",") }
                d.raw(#"{"samples":"#)
                let samples = series[n] ?? []
                write(
                    downsample(samples, start: row[1].int64 ?? samples.first?.time ?? 0, to: budget.pointsPerTask), attempt: n, into: &d)
                d.raw(#","outputs":"#)
                d.raw(outputs[n] ?? "null")
                d.raw(#","logs":"#)
                writeLogs(
                    attempt: n, stdout: LogTail.read(path: layout.stdout(task, Int(n)), lines: budget.tailLines, bytes: budget.tailBytes),
                    stderr: LogTail.read(path: layout.stderr(task, Int(n)), lines: budget.tailLines, bytes: budget.tailBytes), into: &d)
                d.raw("}")
            }
            d.raw("]}")
            return d.text
        }
    }
}

/// The last lines of a file, read from its end (never the whole file).
struct LogTail {
    var text: String
    /// The file's size in bytes (-1 when it could not be read).
    var size: Int64
    /// True when `text` is the whole file.
    var complete: Bool

    static func read(path: String, lines: Int, bytes: Int) -> LogTail {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return LogTail(text: "", size: -1, complete: true) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return LogTail(text: "", size: -1, complete: true) }
        let size = Int64(st.st_size)
        let want = Int(min(size, Int64(bytes)))
        var buffer = [UInt8](repeating: 0, count: want)
        let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(size - Int64(want))) }
        guard got >= 0 else { return LogTail(text: "", size: size, complete: true) }
        var slice = buffer[0..<got]
        var complete = Int64(got) == size
        if !complete, let nl = slice.firstIndex(of: UInt8(ascii: "\n")) { slice = slice[(nl + 1)...] }  // a partial first line
        // Keep the last `lines` lines (a final newline does not start another line).
        var count = 0
        var i = slice.endIndex
        if i > slice.startIndex, slice[i - 1] == UInt8(ascii: "\n") { i -= 1 }
        while i > slice.startIndex {
            i -= 1
            if slice[i] == UInt8(ascii: "\n") {
                count += 1
                if count == lines {
                    slice = slice[(i + 1)...]
                    complete = false
                    break
                }
            }
        }
        return LogTail(text: String(decoding: slice, as: UTF8.self), size: size, complete: complete)
    }
}

/// JSON text built by appending: compact, no intermediate values (a report of 100,000 tasks is built in one pass).
struct JSONText {
    private(set) var bytes: [UInt8] = []

    var text: String { String(decoding: bytes, as: UTF8.self) }

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }
    mutating func int(_ v: Int64?) {
        guard let v else { return raw("null") }
        raw(String(v))
    }
    /// A number rounded to `places` decimals (null when absent or not finite).
    mutating func number(_ v: Double?, places: Int) {
        guard let v, v.isFinite else { return raw("null") }
        let scale = pow(10.0, Double(places))
        let r = (v * scale).rounded() / scale
        if r == r.rounded(), abs(r) < 1e15 { raw(String(Int64(r))) } else { raw(JSONNumber(r).literal) }
    }
    mutating func string(_ s: String?) {
        guard let s else { return raw("null") }
        JSONWriter.writeString(s, into: &bytes)
    }
    mutating func time(_ us: Int64?) {
        guard let us else { return raw("null") }
        raw("\"" + Timestamp(microseconds: us).iso8601 + "\"")
    }
    mutating func array<S: Sequence>(_ items: S, _ element: (inout JSONText, S.Element) -> Void) {
        raw("[")
        var first = true
        for item in items {
            if !first { raw(",") }
            first = false
            element(&self, item)
        }
        raw("]")
    }
}
