import SQLite

/// What `fsck` found.
public struct FsckReport: Sendable {
    /// `PRAGMA integrity_check` said "ok".
    public var integrityOK: Bool
    /// Its messages when it did not.
    public var integrityMessages: [String]
    public var eventCount: Int64
    public var maxSeq: Int64
    /// The append-only triggers are in place.
    public var appendOnlyEnforced: Bool
    /// Events this build does not know (kept, not an error).
    public var unknownEvents: Int
    /// Known events whose payload could not be read.
    public var unreadableEvents: [String]
    /// Differences between the projection tables and a rebuild from the events alone.
    public var differences: [String]
    /// Events already in the log that ingest's checks would refuse today (the first ones listed), and how many: written
    /// before ingest checked segment lines, or appended by a program of its own. Warnings: the log itself is sound.
    public var wouldRefuse: [String] = []
    public var wouldRefuseCount = 0
    /// Segment lines ingest refused (`segment_refused` events): kept aside, not in the record; not a problem.
    public var refusedLines = 0

    /// seq is 1...count without a gap.
    public var gapless: Bool { eventCount == maxSeq }

    /// True when nothing is wrong.
    public var ok: Bool { integrityOK && gapless && appendOnlyEnforced && unreadableEvents.isEmpty && differences.isEmpty }

    /// Problems, one per line, for people.
    public var problems: [String] {
        var out: [String] = []
        if !integrityOK { out += integrityMessages.map { "integrity_check: \($0)" } }
        if !gapless { out.append("seq has gaps: \(eventCount) events but the last seq is \(maxSeq)") }
        if !appendOnlyEnforced { out.append("the append-only triggers (events_no_update, events_no_delete) are missing") }
        out += unreadableEvents
        out += differences
        return out
    }

    /// Warnings, one per line: the events ingest would refuse today.
    public var warnings: [String] {
        var out = wouldRefuse.map { "ingest would refuse it today: \($0)" }
        if wouldRefuseCount > wouldRefuse.count { out.append("... and \(wouldRefuseCount - wouldRefuse.count) more events ingest would refuse") }
        return out
    }
}

extension EventLog {
    /// Checks the log: SQLite's integrity check, gapless seqs, the append-only triggers, every payload readable,
    /// and the projection tables equal to a rebuild from the events alone (done in memory; nothing is written).
    public func fsck() throws -> FsckReport {
        try withConnection { db in
            let integrity = try db.rows("PRAGMA integrity_check").map { $0.first?.description ?? "" }
            let count = try db.scalar("SELECT count(*) FROM events")?.int64 ?? 0
            let maxSeq = try db.scalar("SELECT coalesce(max(seq), 0) FROM events")?.int64 ?? 0
            let triggers = try db.rows("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'").compactMap {
                $0.first?.string
            }
            let rebuilt = try replayUnlocked()
            let stored = try ProjectionTables.loadAll(db)
            var differences = EventLog.compare(rebuilt: rebuilt.tasks, stored: stored)
            for (task, summary) in try ProjectionTables.storedSummaries(db) {
                guard let t = rebuilt.tasks[task] else { continue }
                if summary.state != t.state.rawValue {
                    differences.append("task \(task): tasks.state is '\(summary.state)' in the projection, '\(t.state.rawValue)' from the events")
                }
                if summary.attempts != (t.attempts.last?.attempt ?? 0) {
                    differences.append(
                        "task \(task): tasks.attempts is \(summary.attempts) in the projection, \(t.attempts.last?.attempt ?? 0) from the events")
                }
            }
            var report = FsckReport(
                integrityOK: integrity == ["ok"], integrityMessages: integrity, eventCount: count, maxSeq: maxSeq,
                appendOnlyEnforced: Set(triggers).isSuperset(of: ["events_no_update", "events_no_delete"]),
                unknownEvents: rebuilt.unknownEvents.count,
                unreadableEvents: rebuilt.unreadableEvents.map { "event seq \($0.seq): \($0.reason)" },
                differences: differences.sorted())
            (report.wouldRefuse, report.wouldRefuseCount) = try FsckAudit.findings(db)
            report.refusedLines = rebuilt.refusedLines.count
            return report
        }
    }

    /// Field-by-field differences between rebuilt and stored task states.
    static func compare(rebuilt: [String: TaskRecord], stored: [String: TaskRecord]) -> [String] {
        var out: [String] = []
        for (task, r) in rebuilt {
            guard let s = stored[task] else {
                out.append("task \(task): in the events, missing from the projection")
                continue
            }
            if r.plannedSeq != s.plannedSeq {
                out.append(
                    "task \(task): planned_seq \(s.plannedSeq.map(String.init) ?? "NULL") in the projection, \(r.plannedSeq.map(String.init) ?? "NULL") from the events"
                )
            }
            if r.lastSeq != s.lastSeq { out.append("task \(task): last_seq \(s.lastSeq) in the projection, \(r.lastSeq) from the events") }
            if r.labels != s.labels {
                out.append("task \(task): labels \(s.labels ?? "NULL") in the projection, \(r.labels ?? "NULL") from the events")
            }
            let numbers = Set(r.attempts.map(\.attempt)).union(s.attempts.map(\.attempt)).sorted()
            for n in numbers {
                let ra = r.attempts.first { $0.attempt == n }
                let sa = s.attempts.first { $0.attempt == n }
                guard let ra, let sa else {
                    out.append("task \(task) attempt \(n): \(ra == nil ? "in the projection only" : "in the events only")")
                    continue
                }
                if ra != sa {
                    for (label, a, b) in fieldPairs(sa, ra) where a != b {
                        out.append("task \(task) attempt \(n): \(label) is \(a) in the projection, \(b) from the events")
                    }
                }
            }
        }
        for task in stored.keys where rebuilt[task] == nil {
            out.append("task \(task): in the projection, absent from the events")
        }
        return out
    }

    static func fieldPairs(_ s: AttemptRecord, _ r: AttemptRecord) -> [(String, String, String)] {
        func d(_ v: (any CustomStringConvertible)?) -> String { v.map { "\($0)" } ?? "NULL" }
        return [
            ("state", s.state.rawValue, r.state.rawValue), ("submitted_at", d(s.submittedAt), d(r.submittedAt)),
            ("started_at", d(s.startedAt), d(r.startedAt)), ("ended_at", d(s.endedAt), d(r.endedAt)),
            ("backend", d(s.backend), d(r.backend)), ("native_id", d(s.nativeID), d(r.nativeID)), ("host", d(s.host), d(r.host)),
            ("pid", d(s.pid), d(r.pid)), ("boot_id", d(s.bootID), d(r.bootID)), ("exit_code", d(s.exitCode), d(r.exitCode)),
            ("signal", d(s.signal), d(r.signal)), ("wall_time", d(s.wallTime), d(r.wallTime)), ("cpu_user", d(s.cpuUser), d(r.cpuUser)),
            ("cpu_system", d(s.cpuSystem), d(r.cpuSystem)), ("peak_rss", d(s.peakRSS), d(r.peakRSS)),
            ("read_bytes", d(s.readBytes), d(r.readBytes)), ("write_bytes", d(s.writeBytes), d(r.writeBytes)),
            ("failure_reason", d(s.failureReason), d(r.failureReason)), ("samples", d(s.samples), d(r.samples)),
            ("last_sample_seq", d(s.lastSampleSeq), d(r.lastSampleSeq)), ("last_seq", d(s.lastSeq), d(r.lastSeq)),
            ("figures", d(s.figures?.rawValue), d(r.figures?.rawValue)), ("last_sample_at", d(s.lastSampleAt), d(r.lastSampleAt)),
            ("undeclared", d(s.undeclared), d(r.undeclared)),
        ]
    }
}
