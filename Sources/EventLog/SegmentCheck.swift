import Foundation
import SQLite

/// The verdict on one segment line.
enum LineVerdict: Equatable {
    case take
    /// Not yet: what it depends on (its attempt's submission, from a controller still writing) may still come; the
    /// segment is read again from this line at the next look.
    case wait
    case refuse(code: String, reason: String)
}

/// Checks segment lines against what the log already holds and what their segment's writer may write: types and
/// versions this clowdr reads, payloads valid against `schema/events/` (sizes bounded), attempts that were planned and
/// submitted to this segment's writer, at most one final event per attempt and nothing after it, times that make
/// sense. What it learns from the lines it takes counts for the lines after them (a controller's submissions, read
/// first, for its workers' lines).
final class SegmentChecker {
    /// What the log (and the lines taken so far) says of one attempt.
    struct AttemptFacts {
        var planned: Bool
        var submitted: Bool
        var nativeID: String? { didSet { element = nativeID.map(SegmentRole.segmentName) } }
        /// The native id as a segment's name writes it (`:` as `_`), worked out once.
        var element: String?
        /// The id of its worker's final event (task_exited, task_launch_failed), if it has one.
        var finalID: String?
    }

    /// The largest line of each kind: a sample is a few hundred bytes, an exit lists the outputs.
    static let maxSampleBytes = 4096
    static let maxExitBytes = 16 << 20
    /// The files of an attempt that read 300,000 (a crawl of a large dataset).
    static let maxFilesBytes = 64 << 20
    static let maxLineBytes = 1 << 20
    /// How far from the experiment's creation (before) and from now (after) an event's time may be: clocks of other
    /// hosts drift, not by hours.
    static let clockSlack: Int64 = 3600 * 1_000_000
    /// How long a worker's line for an attempt not known to be submitted waits for a controller still writing.
    static let submissionPatience: Int64 = 600 * 1_000_000

    let log: EventLog
    let segments: String
    /// When the experiment was created (its first event; an imported segment's own `experiment_created` when the log
    /// is new).
    private(set) var createdAt: Timestamp?
    let now: Timestamp
    private var facts: [String: AttemptFacts] = [:]
    private var plannedTasks: [String: Bool] = [:]
    private var factsStatement: Statement?
    /// Whether every task's and attempt's facts were read at once (`prefetch`).
    private var prefetched = false
    /// Each task's latest attempt number, as the log and the lines taken so far say.
    private var latest: [String: Int] = [:]
    /// The attempt of the last line checked: its key in `facts` and its facts (written back when another comes).
    private var lastKey = ""
    private var lastTask = ""
    private var lastAttempt = 0
    private var current = AttemptFacts(planned: false, submitted: false)
    private var controllersOpen: Bool?
    /// Each segment's last `task_started` taken, by segment key: the host its worker ran on, read when a refusal
    /// names it.
    private var started: [String: RawEvent] = [:]

    /// The host a segment's worker said it ran on, if this ingest took its `task_started`.
    func host(of segmentKey: String) -> String? {
        guard let e = started[segmentKey], case .taskStarted(let p)? = try? EventBody.decode(type: e.type, version: e.version, payload: e.payload)
        else { return nil }
        return p.host
    }

    init(log: EventLog, segments: String, now: Timestamp = SystemClock().now()) throws {
        self.log = log
        self.segments = segments
        self.now = now
        createdAt = try log.read { try log.db.scalar("SELECT time FROM events WHERE seq = 1")?.int64.map(Timestamp.init(microseconds:)) }
    }

    /// The verdict on event `e`, read from a line of `bytes` bytes of a segment written by `role`; a line taken
    /// updates what later lines are checked against. `canonicalSample`: the line is a sample already read as clowdr
    /// writes it (its payload then needs no other check).
    func verdict(_ e: RawEvent, bytes: Int, role: SegmentRole, segmentKey: String, canonicalSample: Bool = false) throws -> LineVerdict {
        let type: EventType
        switch typeAndVersion(e, role: role) {
        case .success(let t): type = t
        case .failure(let refusal): return refusal.verdict
        }
        if let problem = payload(e, type: type, bytes: bytes, canonicalSample: canonicalSample) { return problem }
        if type == .experimentCreated, createdAt == nil { createdAt = e.time }
        if let problem = time(e) { return problem }
        guard let task = e.task else {
            if role == .imported { return .take }
            return .refuse(code: "segment.no_attempt", reason: "a \(role.name)'s \(e.type) must name a task and an attempt; this one names none")
        }
        if type == .taskPlanned {
            plannedTasks[task] = true
            return .take
        }
        guard let attempt = e.attempt else {
            return .refuse(code: "segment.no_attempt", reason: "a \(e.type) must name its attempt of task \(task); this one names none")
        }
        // The lines of one attempt come together: its facts are at hand, without a key, until another attempt's line.
        if task != lastTask || attempt != lastAttempt {
            if !lastKey.isEmpty { facts[lastKey] = current }
            lastKey = task + "\t" + String(attempt)
            current = try attemptFacts(lastKey, task: task, attempt: attempt)
            (lastTask, lastAttempt) = (task, attempt)
        }
        // The rules change the facts only for a line they take.
        let verdict = try attemptRules(e, type: type, role: role, facts: &current, task: task, attempt: attempt)
        if verdict == .take {
            if type == .taskStarted { started[segmentKey] = e }
        }
        return verdict
    }

    /// A refusal, as an error value (what `typeAndVersion` gives when the line is not taken).
    struct Refusal: Error {
        var verdict: LineVerdict
    }

    /// A type this clowdr reads, that this writer writes, at a version this clowdr reads: the type, or the refusal.
    func typeAndVersion(_ e: RawEvent, role: SegmentRole) -> Result<EventType, Refusal> {
        func refuse(_ code: String, _ reason: String) -> Result<EventType, Refusal> {
            .failure(Refusal(verdict: .refuse(code: code, reason: reason)))
        }
        guard let type = e.type == "sample" ? .sample : EventType(rawValue: e.type) else {
            return refuse(
                "segment.type",
                "\(e.type) v\(e.version) is a type this clowdr does not know: written by a newer clowdr (upgrade clowdr where the experiment is read, then `clowdr ingest` the kept copy) or by something else"
            )
        }
        if e.version > type.currentVersion {
            return refuse(
                "segment.version_newer",
                "\(e.type) v\(e.version) was written by a newer clowdr: this one reads \(e.type) up to v\(type.currentVersion); upgrade clowdr where the experiment is read (the controller), then `clowdr ingest` the kept copy"
            )
        }
        if e.version < EventType.firstVersion {
            return refuse("segment.version", "\(e.type) v\(e.version): versions start at \(EventType.firstVersion)")
        }
        if !role.writes(type) { return refuse("segment.type", "a \(role.name) does not write \(e.type) events") }
        return .success(type)
    }

    /// A payload valid against its type's schema, within the size its kind allows.
    func payload(_ e: RawEvent, type: EventType, bytes: Int, canonicalSample: Bool = false) -> LineVerdict? {
        let limit =
            switch type {
            case .sample: Self.maxSampleBytes
            case .taskExited: Self.maxExitBytes
            case .taskFiles: Self.maxFilesBytes
            default: Self.maxLineBytes
            }
        if bytes > limit {
            return .refuse(code: "segment.too_large", reason: "a \(e.type) line of \(bytes) bytes: at most \(limit) are taken")
        }
        // A sample as clowdr writes it (its eight fields, in order, numbers) needs no schema.
        if type == .sample, canonicalSample || Sample.isCanonical(e.payload) { return nil }
        return EventSchemas.problem(type: e.type, payload: e.payload).map { .refuse(code: "segment.payload", reason: $0) }
    }

    /// A time near the experiment's: not long before it was created, not in the future (of this clock or, for a log
    /// written under another clock, of the experiment's creation). A log without its creation has nothing to measure by.
    func time(_ e: RawEvent) -> LineVerdict? {
        guard let createdAt else { return nil }
        if e.time.microseconds < createdAt.microseconds - Self.clockSlack {
            return .refuse(code: "segment.time", reason: "its time \(e.time.iso8601) is before the experiment was created (\(createdAt.iso8601))")
        }
        if e.time.microseconds > max(now.microseconds, createdAt.microseconds) + Self.clockSlack {
            return .refuse(code: "segment.time", reason: "its time \(e.time.iso8601) is in the future (now \(now.iso8601))")
        }
        return nil
    }

    /// The rules of an attempt's events: planned, submitted (to this segment's writer), one final word and nothing
    /// after it. An event already in the log (the same id: a segment read again) is taken, and skipped on insert.
    func attemptRules(_ e: RawEvent, type: EventType, role: SegmentRole, facts f: inout AttemptFacts, task: String, attempt: Int) throws
        -> LineVerdict
    {
        var who: String { "task \(task) attempt \(attempt)" }  // worded only for a refusal
        guard f.planned else {
            return .refuse(code: "segment.not_planned", reason: "\(who): the experiment has no task \(task)")
        }
        if type == .taskSubmitted {
            let id = (try? EventBody.decode(type: e.type, version: e.version, payload: e.payload)).flatMap { b -> String? in
                if case .taskSubmitted(let p) = b { return p.nativeID } else { return nil }
            }
            if f.submitted, f.nativeID != nil, id != f.nativeID, try !inLog(e.id) {
                return .refuse(code: "segment.resubmitted", reason: "\(who) was submitted already, as \(f.nativeID!)")
            }
            if case .worker(let named) = role, named != nil {
                return .refuse(code: "segment.type", reason: "an array element's worker does not record submissions")
            }
            f.submitted = true
            f.nativeID = id ?? f.nativeID
            latest[task] = max(latest[task] ?? 0, attempt)
            return .take
        }
        if role != .imported {
            // A worker run by hand (`clowdr task` on a task file of `run --setup`, its segment named after its host)
            // starts the task's next attempt itself; an array element's worker runs only what was submitted to it.
            if !f.submitted, role.nativeID == nil, type == .taskStarted, attempt == (try latestAttempt(task)) + 1 {
                f.submitted = true
                latest[task] = attempt
            }
            guard f.submitted else {
                if try inLog(e.id) { return .take }
                return try waitOrRefuse(
                    e, code: "segment.not_submitted",
                    reason: "\(who) was never submitted (no controller recorded its submission) nor started as the task's next attempt")
            }
            if let named = role.nativeID, let given = f.nativeID, f.element != named {
                if try inLog(e.id) { return .take }
                return .refuse(
                    code: "segment.other_element", reason: "\(who) was submitted as \(given), not as \(named), whose worker wrote this segment")
            }
        }
        // After its worker's final word, nothing more of the worker's (a scheduler's word may still come).
        let final = type == .taskExited || type == .taskLaunchFailed
        if let ended = f.finalID, ended != e.id, type.isWorkerOnly, try !inLog(e.id) {
            return final
                ? .refuse(code: "segment.second_final", reason: "\(who) has ended already (event \(ended)): an attempt ends once")
                : .refuse(code: "segment.after_final", reason: "\(who) has ended (event \(ended)): nothing of it comes after its end")
        }
        if final { f.finalID = f.finalID ?? e.id }
        return .take
    }

    /// `wait` while a controller still writing may yet record what the line needs, and the line is recent;
    /// otherwise the refusal.
    func waitOrRefuse(_ e: RawEvent, code: String, reason: String) throws -> LineVerdict {
        if controllersOpen == nil { controllersOpen = Self.anOpenControllerSegment(in: segments) }
        if controllersOpen == true && now.microseconds - e.time.microseconds < Self.submissionPatience { return .wait }
        return .refuse(code: code, reason: reason)
    }

    /// Whether some controller's segment in `folder` is not sealed yet (its controller may still record submissions).
    static func anOpenControllerSegment(in folder: String) -> Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.contains { name in
            guard name.hasPrefix(ExperimentLayout.controllerSegmentPrefix) else { return false }
            var info = stat()
            return stat(folder + "/" + name, &info) == 0 && !SegmentWriter.isSealed(info)
        }
    }

    /// Whether the log holds an event with this id.
    func inLog(_ id: String) throws -> Bool {
        try log.read { try log.db.scalar("SELECT count(*) FROM events WHERE id = ?", [.text(id)])?.int64 ?? 0 } > 0
    }

    /// Reads what the log says of every task and attempt at once: when many segments are new (a controller catching
    /// up, a reader after a long run), cheaper than a read per attempt.
    func prefetch() throws {
        try log.read {
            for r in try log.db.rows("SELECT task, planned_seq, attempts FROM tasks") {
                guard let task = r[0].string else { continue }
                plannedTasks[task] = r[1].int64 != nil
                latest[task] = Int(r[2].int64 ?? 0)
            }
            var finals: [String: String] = [:]
            for r in try log.db.rows("SELECT task, attempt, id FROM events WHERE type IN ('task_exited', 'task_launch_failed') ORDER BY seq DESC") {
                finals[(r[0].string ?? "") + "\t" + String(r[1].int64 ?? 0)] = r[2].string
            }
            for r in try log.db.rows("SELECT task, attempt, submitted_at, native_id FROM attempts") {
                let task = r[0].string ?? ""
                let key = task + "\t" + String(r[1].int64 ?? 0)
                var f = AttemptFacts(planned: plannedTasks[task] ?? false, submitted: r[2].int64 != nil, finalID: finals[key])
                f.nativeID = r[3].string
                facts[key] = f
            }
        }
        prefetched = true
    }

    /// What the log says of an attempt, read once per attempt (one prepared statement, one read), or from what
    /// `prefetch` read.
    func attemptFacts(_ key: String, task: String, attempt: Int) throws -> AttemptFacts {
        if let f = facts[key] { return f }
        if prefetched {
            let f = AttemptFacts(planned: plannedTasks[task] ?? false, submitted: false)
            facts[key] = f
            return f
        }
        let row = try log.read { () -> (planned: Bool, latest: Int, submitted: Bool, nativeID: String?, finalID: String?) in
            if factsStatement == nil {
                factsStatement = try log.db.prepare(
                    """
                    SELECT (SELECT planned_seq FROM tasks WHERE task = ?1), (SELECT attempts FROM tasks WHERE task = ?1),
                           (SELECT submitted_at FROM attempts WHERE task = ?1 AND attempt = ?2),
                           (SELECT native_id FROM attempts WHERE task = ?1 AND attempt = ?2),
                           (SELECT id FROM events WHERE task = ?1 AND attempt = ?2 AND type IN ('task_exited', 'task_launch_failed') ORDER BY seq LIMIT 1)
                    """)
            }
            let s = factsStatement!
            defer { s.reset() }
            try s.bind([.text(task), .integer(Int64(attempt))])
            _ = try s.step()
            return (s.optionalInt64(0) != nil, Int(s.optionalInt64(1) ?? 0), s.optionalInt64(2) != nil, s.optionalString(3), s.optionalString(4))
        }
        plannedTasks[task] = (plannedTasks[task] ?? false) || row.planned
        if latest[task] == nil { latest[task] = row.latest }
        var f = AttemptFacts(planned: plannedTasks[task]!, submitted: row.submitted, finalID: row.finalID)
        f.nativeID = row.nativeID
        facts[key] = f
        return f
    }

    /// The number of the task's latest attempt (0 when it has none).
    func latestAttempt(_ task: String) throws -> Int {
        if let n = latest[task] { return n }
        let n = try log.read { try log.db.scalar("SELECT attempts FROM tasks WHERE task = ?", [.text(task)])?.int64 } ?? 0
        latest[task] = Int(n)
        return Int(n)
    }
}

extension EventType {
    /// What only an attempt's worker writes: nothing of it comes after the worker's final word.
    var isWorkerOnly: Bool {
        switch self {
        case .taskStarted, .sample, .taskFiles, .imageResolved, .taskExited, .taskLaunchFailed: true
        default: false
        }
    }
}
