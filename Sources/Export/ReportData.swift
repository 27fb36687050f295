import EventLog
import Foundation
import JSON
import Query

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
    public static let states = TaskState.allCases.map(\.rawValue)

    /// Builds the report data of the experiment folder `directory` (its log and its tasks' stdout/stderr).
    public static func build(experimentDirectory directory: String, budget: Budget = Budget()) throws -> ReportData {
        try build(db: directory, experimentDirectory: directory, budget: budget)
    }

    /// The same from the log at `db` (a folder or a `.db` file: a snapshot, say), with the stdout/stderr files of
    /// the experiment folder `directory`.
    public static func build(db: String, experimentDirectory directory: String, budget: Budget = Budget()) throws -> ReportData {
        try ExperimentRecords.read(path: db) { try build($0, directory: directory, budget: budget) }  // one read snapshot
    }

    /// The last event's seq (what a live page polls to know when to reload).
    public static func lastSeq(experimentDirectory directory: String) throws -> Int64 {
        try ExperimentRecords.read(path: directory) { try $0.lastEvent().seq }
    }

    /// What changed since `seq`, in milliseconds whatever the experiment's size: `{"seq":N,"tasks":{...}}`, the
    /// rows of the tasks that events after `seq` are about, in the core's `tasks` columns (`params` left out: a
    /// task's parameters never change); `{"seq":N,"reload":true}` when more than `limit` tasks changed or one is new
    /// (the page then reloads the documents); `{"seq":N}` when nothing did.
    public static func changes(experimentDirectory directory: String, since seq: Int64, limit: Int = 1000) throws -> (seq: Int64, json: String) {
        try ExperimentRecords.read(path: directory) { records in
            let last = try records.lastEvent().seq
            guard last > seq else { return (last, #"{"seq":\#(last)}"#) }
            let touched = try records.tasksTouched(after: seq, limit: limit + 1)
            let reload = (last, #"{"seq":\#(last),"reload":true}"#)
            guard touched.count <= limit else { return reload }
            var tasks = TaskColumns()
            var latest: [ReportAttempt?] = []
            var failures: [String?] = []
            let layout = ExperimentLayout(directory: directory)
            for id in touched.sorted() {
                guard let row = try records.task(id), row.plannedSeq != nil else { return reload }
                let t = tasks.ids.count
                tasks.index[id] = t
                tasks.ids.append(id)
                tasks.state.append(stateCode[row.state.rawValue] ?? 0)
                tasks.attempts.append(Int64(row.attempts))
                let a = try records.attempts(of: id).last { $0.attempt == row.attempts }.map {
                    ReportAttempt(task: t, state: stateCode[$0.state.rawValue] ?? 0, record: $0)
                }
                latest.append(a)
                failures.append(a.flatMap { LogTail.failureText($0.record, task: id, in: layout) })
            }
            var c = JSONText()
            c.raw(#"{"seq":"#)
            c.int(last)
            writeTaskColumns(tasks, latest: latest, failures: failures, params: [], into: &c)
            c.raw("}")
            return (last, c.text)
        }
    }

    // MARK: - Building

    /// An attempt as the report shows it: its task's index, its state's code, and its record.
    struct ReportAttempt {
        var task: Int
        var state: Int
        var record: AttemptRecord

        var attempt: Int64 { Int64(record.attempt) }
        var exitCode: Int64? { record.exitCode.map(Int64.init) }
        var signal: Int64? { record.signal.map(Int64.init) }
        var peakRSS: Int64? { record.peakRSS }
        /// Microseconds since the epoch.
        var submitted: Int64? { record.submittedAt?.microseconds }
        var started: Int64? { record.startedAt?.microseconds }
        var ended: Int64? { record.endedAt?.microseconds }
        var cpuPercent: Double? {
            guard let wall = record.wallTime, wall > 0, let u = record.cpuUser else { return nil }
            return 100 * (u + (record.cpuSystem ?? 0)) / wall
        }
    }

    /// The tasks, in task order: one column per field.
    struct TaskColumns {
        var ids: [String] = []
        var index: [String: Int] = [:]
        var state: [Int] = []
        var attempts: [Int64] = []
        var labels: [String?] = []
    }

    /// Each state's code: its index in `states`.
    static let stateCode = Dictionary(uniqueKeysWithValues: states.enumerated().map { ($1, $0) })

    static func build(_ records: ExperimentRecords, directory: String, budget: Budget) throws -> ReportData {
        let (seq, lastTime) = try records.lastEvent()
        let created = try records.experiment()
        let tasks = try readTasks(records)
        let (attempts, latest) = try readAttempts(records, tasks: tasks)
        let planned = try readPlans(records, tasks: tasks)
        let outputs = budget.outputBytes > 0 ? try latestOutputs(records, tasks: tasks) : Array(repeating: nil, count: tasks.ids.count)
        let (paramNames, paramColumns) = parameters(labels: tasks.labels, invocations: planned.map { $0?.invocation })

        var c = JSONText()
        c.raw(#"{"format":"clowdr-report/1","seq":"#)
        c.int(seq)
        c.raw(#","as_of":"#)
        c.time(lastTime?.microseconds)
        c.raw(#","experiment_id":"#)
        c.string((directory as NSString).lastPathComponent)
        c.raw(#","experiment":"#)
        c.raw(created?.payload ?? "null")
        c.raw(#","t0":"#)
        let t0 = created?.time.microseconds ?? lastTime?.microseconds ?? 0
        c.int(t0)
        c.raw(#","states":"#)
        c.array(states) { $0.string($1) }
        c.raw(#","params":"#)
        c.array(paramNames) { $0.string($1) }
        let layout = ExperimentLayout(directory: directory)
        let failures = latest.enumerated().map { t, a in a.flatMap { LogTail.failureText($0.record, task: tasks.ids[t], in: layout) } }
        writeTaskColumns(tasks, latest: latest, failures: failures, params: paramColumns, into: &c)
        writeAttemptColumns(attempts, t0: t0, into: &c)
        let refused = try records.refusals(limit: 5)
        c.raw(#""refused":{"count":"#)
        c.int(Int64(refused.count))
        c.raw(#","first":"#)
        c.array(refused.first) { c, r in c.string("\(r.segment):\(r.line): \(r.reason) (kept in \(r.kept))") }
        c.raw("},")
        summary(last: latest, ids: tasks.ids, into: &c)
        c.raw("}")

        var d = JSONText()
        d.raw(#"{"format":"clowdr-report-detail/1","seq":"#)
        d.int(seq)
        d.raw(#","command_line":"#)
        d.array(planned) { $0.string($1?.commandLine) }
        d.raw(#","invocation":"#)
        d.array(planned) { $0.raw($1?.invocation ?? "null") }
        let priority = priorityOrder(last: latest, taskState: tasks.state)
        let outputStats = embedOutputs(outputs, priority: priority, budget: budget, into: &d)
        let sampleStats = try embedSamples(records, ids: tasks.ids, last: latest, priority: priority, budget: budget, into: &d)
        let logStats = embedLogs(directory: directory, ids: tasks.ids, last: latest, priority: priority, budget: budget, into: &d)
        try embedUndeclared(records, ids: tasks.ids, last: latest, into: &d)
        try embedEnvironment(records, ids: tasks.ids, last: latest, into: &d)
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
        return ReportData(core: c.text, detail: d.text, seq: seq, tasks: tasks.ids.count, attempts: attempts.count)
    }

    /// The tasks, in the order every other listing uses.
    static func readTasks(_ records: ExperimentRecords) throws -> TaskColumns {
        var t = TaskColumns()
        try records.forEachTask { row in
            t.index[row.task] = t.ids.count
            t.ids.append(row.task)
            t.state.append(stateCode[row.state.rawValue] ?? 0)
            t.attempts.append(Int64(row.attempts))
            t.labels.append(row.labels)
        }
        return t
    }

    /// Every attempt in the order of the Gantt chart, and each task's latest attempt.
    static func readAttempts(_ records: ExperimentRecords, tasks: TaskColumns) throws -> ([ReportAttempt], [ReportAttempt?]) {
        var attempts: [ReportAttempt] = []
        var latest = [ReportAttempt?](repeating: nil, count: tasks.ids.count)
        try records.forEachAttempt(.time) { task, record in
            guard let t = tasks.index[task] else { return }
            let a = ReportAttempt(task: t, state: stateCode[record.state.rawValue] ?? 0, record: record)
            if a.attempt == tasks.attempts[t] { latest[t] = a }
            attempts.append(a)
        }
        return (attempts, latest)
    }

    /// Each task's command line and invocation (JSON text).
    static func readPlans(_ records: ExperimentRecords, tasks: TaskColumns) throws -> [(commandLine: String, invocation: String)?] {
        var planned = [(commandLine: String, invocation: String)?](repeating: nil, count: tasks.ids.count)
        try records.forEachPlan { p in
            guard let t = tasks.index[p.task], planned[t] == nil else { return }
            planned[t] = (p.commandLine ?? "", p.invocation ?? "null")
        }
        return planned
    }

    /// The latest attempt's outputs (JSON text): its exit is almost always the attempt's last event (a lookup by seq);
    /// a scan of the exits covers the others.
    static func latestOutputs(_ records: ExperimentRecords, tasks: TaskColumns) throws -> [String?] {
        var outputs = [String?](repeating: nil, count: tasks.ids.count)
        let unresolved = try records.latestExits { x in
            if let t = tasks.index[x.task] { outputs[t] = x.outputs }
        }
        if unresolved > 0 {
            try records.forEachExit { x in
                guard let t = tasks.index[x.task], Int64(x.attempt) == tasks.attempts[t] else { return }
                outputs[t] = x.outputs
            }
        }
        return outputs
    }

    /// The core's `tasks` columns: each task's state, attempts, and its latest attempt's measures and parameters.
    /// `failures`: how each task's latest attempt failed, in the wording `status` uses (nil when it did not).
    static func writeTaskColumns(
        _ tasks: TaskColumns, latest last: [ReportAttempt?], failures: [String?], params: [[String?]], into c: inout JSONText
    ) {
        c.raw(#","tasks":{"id":"#)
        c.array(tasks.ids) { $0.string($1) }
        c.raw(#","state":"#)
        c.array(tasks.state) { $0.int(Int64($1)) }
        c.raw(#","attempts":"#)
        c.array(tasks.attempts) { $0.int($1) }
        c.raw(#","exit":"#)
        c.array(last) { $0.int($1?.exitCode) }
        c.raw(#","signal":"#)
        c.array(last) { $0.int($1?.signal) }
        c.raw(#","duration":"#)
        c.array(last) { $0.number($1?.record.wallTime, places: 3) }
        c.raw(#","rss":"#)
        c.array(last) { $0.int($1?.peakRSS) }
        c.raw(#","cpu":"#)
        c.array(last) { $0.number($1?.cpuPercent, places: 1) }
        c.raw(#","read":"#)
        c.array(last) { $0.int($1?.record.readBytes) }
        c.raw(#","write":"#)
        c.array(last) { $0.int($1?.record.writeBytes) }
        c.raw(#","undeclared":"#)
        c.array(last) { $0.int($1?.record.undeclared.map(Int64.init)) }
        c.raw(#","reason":"#)
        c.array(failures) { $0.string($1) }
        c.raw(#","params":"#)
        c.array(params) { c, col in c.array(col) { $0.string($1) } }
        c.raw("}")
    }

    /// The core's `attempts` columns (times in milliseconds since t0), for the Gantt chart.
    static func writeAttemptColumns(_ attempts: [ReportAttempt], t0: Int64, into c: inout JSONText) {
        c.raw(#","attempts":{"task":"#)
        c.array(attempts) { $0.int(Int64($1.task)) }
        c.raw(#","attempt":"#)
        c.array(attempts) { $0.int($1.attempt) }
        c.raw(#","state":"#)
        c.array(attempts) { $0.int(Int64($1.state)) }
        for (name, key) in [("submitted", \ReportAttempt.submitted), ("started", \ReportAttempt.started), ("ended", \ReportAttempt.ended)] {
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
        c.array(attempts) { $0.string($1.record.host) }
        c.raw("},")
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
    static func priorityOrder(last: [ReportAttempt?], taskState: [Int]) -> [Int] {
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
    static func summary(last: [ReportAttempt?], ids: [String], into c: inout JSONText) {
        let metrics: [(String, [Double?])] = [
            ("duration", last.map { $0?.record.wallTime }), ("rss", last.map { $0?.peakRSS.map(Double.init) }), ("cpu", last.map { $0?.cpuPercent }),
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

    /// Embeds `"environment":{"<task index>":{...}}`: what each task's latest attempt ran with, as its `task_started`
    /// (v2) and `image_resolved` say: the clowdr that started it, the host's facts, the container image resolved.
    static func embedEnvironment(_ records: ExperimentRecords, ids: [String], last: [ReportAttempt?], into d: inout JSONText) throws {
        let starts = try records.payloadsByAttempt(.taskStarted) { if case .taskStarted(let p) = $0 { p } else { nil } }
        let images = try records.payloadsByAttempt(.imageResolved) { if case .imageResolved(let p) = $0 { p } else { nil } }
        d.raw(#","environment":{"#)
        var written = 0
        for (t, a) in last.enumerated() {
            guard let a else { continue }
            let key = "\(ids[t])/\(a.attempt)"
            var o = starts[key]?.hostFacts ?? JSONObject()
            if let i = images[key] {
                o["image"] = .string(i.image)
                o["image_digest"] = i.digest.map(JSONValue.string)
                o["image_id"] = i.id.map(JSONValue.string)
            }
            guard !o.isEmpty else { continue }
            if written > 0 { d.raw(",") }
            d.string(String(t))
            d.raw(":")
            d.raw(JSONWriter(sortKeys: true).string(.object(o)))
            written += 1
        }
        d.raw("}")
    }

    /// Embeds `"undeclared":{"<task index>":[path, ...]}`: the files each task's latest attempt used outside its declared
    /// inputs, outputs and working folder (the first 50 of each, for the first 10,000 such tasks).
    static func embedUndeclared(_ records: ExperimentRecords, ids: [String], last: [ReportAttempt?], into d: inout JSONText) throws {
        d.raw(#","undeclared":{"#)
        var written = 0
        for (t, a) in last.enumerated() where (a?.record.undeclared ?? 0) > 0 && written < 10_000 {
            guard let paths = try records.taskFiles(task: ids[t], attempt: Int(a!.attempt))?.undeclared, !paths.isEmpty else { continue }
            if written > 0 { d.raw(",") }
            d.string(String(t))
            d.raw(":")
            d.array(Array(paths.prefix(50))) { $0.string($1) }
            written += 1
        }
        d.raw("}")
    }

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
        _ records: ExperimentRecords, ids: [String], last: [ReportAttempt?], priority: [Int], budget: Budget, into d: inout JSONText
    ) throws -> (points: Int, tasks: Int) {
        let perTask = max(30, min(budget.pointsPerTask, budget.samplePoints / max(1, ids.count)))
        var chosen: [Int] = []
        var points = 0
        for t in priority {
            guard let a = last[t], a.record.samples > 0 else { continue }
            let n = min(a.record.samples, perTask)
            if points + n > budget.samplePoints { break }
            points += n
            chosen.append(t)
        }
        d.raw(#","samples":{"#)
        defer { d.raw("}") }
        guard !chosen.isEmpty else { return (0, 0) }
        var raw: [Int: [(time: Int64, rss: Int64, cpu: Double)]] = [:]
        let taskIndex = Dictionary(uniqueKeysWithValues: chosen.map { (ids[$0], $0) })
        let selection: ExperimentRecords.SampleSelection =
            chosen.count == ids.count ? .all : .attempts(chosen.map { (ids[$0], last[$0]!.record.attempt) })
        try records.forEachSample(selection) { s in
            guard let t = taskIndex[s.task], s.attempt == last[t]!.record.attempt else { return }
            raw[t, default: []].append((s.time.microseconds, s.rss ?? 0, s.cpuTime ?? 0))
        }
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
        directory: String, ids: [String], last: [ReportAttempt?], priority: [Int], budget: Budget, into d: inout JSONText
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
        try ExperimentRecords.read(path: directory) { records -> String? in
            guard try records.hasTask(task) else { return nil }
            var series: [Int: [(time: Int64, rss: Int64, cpu: Double)]] = [:]
            try records.forEachSample(.task(task)) { s in series[s.attempt, default: []].append((s.time.microseconds, s.rss ?? 0, s.cpuTime ?? 0)) }
            var outputs: [Int: String?] = [:]
            try records.forEachExit(task: task) { x in outputs[x.attempt] = x.outputs }
            var d = JSONText()
            d.raw(#"{"task":"#)
            d.string(task)
            d.raw(#","attempts":["#)
            let layout = ExperimentLayout(directory: directory)
            for (k, a) in try records.attempts(of: task).enumerated() {
                let n = a.attempt
                if k > 0 { d.raw(",") }
                d.raw(#"{"samples":"#)
                let samples = series[n] ?? []
                write(
                    downsample(samples, start: a.startedAt?.microseconds ?? samples.first?.time ?? 0, to: budget.pointsPerTask), attempt: Int64(n),
                    into: &d)
                d.raw(#","outputs":"#)
                d.raw((outputs[n] ?? nil) ?? "null")
                d.raw(#","logs":"#)
                writeLogs(
                    attempt: Int64(n), stdout: LogTail.read(path: layout.stdout(task, n), lines: budget.tailLines, bytes: budget.tailBytes),
                    stderr: LogTail.read(path: layout.stderr(task, n), lines: budget.tailLines, bytes: budget.tailBytes), into: &d)
                d.raw("}")
            }
            d.raw("]}")
            return d.text
        }
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
