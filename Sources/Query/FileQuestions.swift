import ClowdrErrors
public import EventLog
import Foundation
import SQLite

extension ExperimentQuery {
    /// The files an attempt of `task` used (its latest attempt that recorded them, or `attempt`), with the files of
    /// the shared sets it names. Nil when no attempt recorded any; `traced` false with the reason when not observed.
    public func files(task: String, attempt: Int? = nil) throws -> (attempt: Int, record: TaskFiles, uses: [FileUse])? {
        try withRecords { records -> (Int, TaskFiles, [FileUse])? in
            var sql = "SELECT attempt, payload FROM events WHERE \(EventType.taskFiles.readable) AND task = ?"
            var values: [SQLiteValue] = [.text(task)]
            if let attempt {
                sql += " AND attempt = ?"
                values.append(.integer(Int64(attempt)))
            }
            guard let row = try records.db.rows(sql + " ORDER BY attempt DESC, seq DESC LIMIT 1", values).first,
                let record = try TaskFiles.decode(row[1].string ?? "")
            else { return nil }
            var sets: [String: [FileUse]] = [:]
            let uses = try records.uses(of: record, sets: &sets)
            return (Int(row[0].int64 ?? 0), record, uses.sorted { $0.path != $1.path ? $0.path < $1.path : $0.kind.rawValue < $1.kind.rawValue })
        }
    }

    /// The files of a shared set, from the `task_files` event that recorded them (sets are encoded with sorted keys:
    /// a set given whole reads `...],"id":"ID"}`).
    static func setFiles(_ id: String, db: Connection) throws -> [FileUse] {
        let rows = try db.rows(
            "SELECT payload FROM events WHERE \(EventType.taskFiles.readable) AND instr(payload, ?) > 0 ORDER BY seq LIMIT 1",
            [.text("],\"id\":\"\(id)\"")])
        guard let payload = rows.first?[0].string,
            let record = try TaskFiles.decode(payload)
        else { return [] }
        return record.sets.first { $0.id == id }?.files ?? []
    }

    /// `query --files TASK`: one row per file the task's latest attempt used, grouped (outputs, dataset, home,
    /// temporary, system), with its kind, size and SHA-256.
    public func filesTable(task: String) throws -> ResultTable {
        var table = ResultTable(
            columns: ["attempt", "group", "kind", "path", "size", "sha256", "to", "image"],
            units: [.none, .none, .none, .none, .bytes, .none, .none, .none])
        guard let (attempt, record, uses) = try files(task: task) else {
            throw CodedFailure(
                "task \(task) has no recorded files: none of its attempts recorded task_files (they ran with --trace-files off, or before clowdr traced files)",
                code: "query.no_files", usage: true)
        }
        guard record.traced else {
            throw CodedFailure(
                "task \(task) attempt \(attempt) ran without file tracing: \(record.reason ?? "no reason recorded")", code: "query.not_traced",
                usage: true)
        }
        let grouped = uses.map { (FileGroup.of($0), $0) }
        for group in FileGroup.allCases {
            for (g, u) in grouped where g == group {
                table.rows.append([
                    .int(Int64(attempt)), .text(group.rawValue), .text(u.kind.rawValue), .text(u.path), u.size.map { .int($0) } ?? .null,
                    u.sha256.map { .text($0) } ?? .null, u.to.map { .text($0) } ?? .null, u.image.map { .text($0) } ?? .null,
                ])
            }
        }
        return table
    }
}

/// A task whose latest attempt used files outside its declared inputs, outputs and working folder.
public struct UndeclaredUse: Sendable, Equatable {
    public var task: String
    public var labels: String?
    public var attempt: Int
    /// How many paths, and the first of them (all when asked).
    public var count: Int
    public var paths: [String]
}

extension ExperimentQuery {
    /// The tasks whose latest attempt used undeclared files (the `undeclared` column of `attempts`), in task order,
    /// with the paths of the first `detailed` of them (nil: of all).
    public func undeclaredUses(detailed: Int? = nil, paths shown: Int = 20) throws -> [UndeclaredUse] {
        var found: [UndeclaredUse] = try log.withConnection { db in
            try db.rows(
                """
                SELECT a.task, t.labels, a.attempt, a.undeclared FROM main.tasks t JOIN main.attempts a ON a.task = t.task AND a.attempt = t.attempts
                WHERE a.undeclared > 0 ORDER BY length(a.task), a.task
                """
            ).map { r in
                UndeclaredUse(task: r[0].string ?? "", labels: r[1].string, attempt: Int(r[2].int64 ?? 0), count: Int(r[3].int64 ?? 0), paths: [])
            }
        }
        for i in found.indices.prefix(detailed ?? found.count) {
            found[i].paths = Array((try files(task: found[i].task, attempt: found[i].attempt)?.record.undeclared ?? []).prefix(shown))
        }
        return found
    }
}

extension ExperimentRecords {
    /// An attempt's `task_files` (its last, should there be two), as recorded: shared sets named, not expanded.
    public func taskFiles(task: String, attempt: Int) throws -> TaskFiles? {
        let rows = try db.rows(
            "SELECT payload FROM events WHERE \(EventType.taskFiles.readable) AND task = ? AND attempt = ? ORDER BY seq DESC LIMIT 1",
            [.text(task), .integer(Int64(attempt))])
        guard let payload = rows.first?[0].string else { return nil }
        return try TaskFiles.decode(payload)
    }

    /// A record's uses: its own files and those of the shared sets it names (`sets`: the sets known so far, by id;
    /// a set given here is added, one named only is looked up once).
    public func uses(of record: TaskFiles, sets: inout [String: [FileUse]]) throws -> [FileUse] {
        var uses = record.files
        for set in record.sets {
            if let files = set.files { sets[set.id] = files }
            if sets[set.id] == nil { sets[set.id] = try ExperimentQuery.setFiles(set.id, db: db) }
            uses += sets[set.id]!
        }
        return uses
    }
}

extension ExperimentRecords {
    /// Each attempt's `task_started` payload, by attempt (the host it ran on, the clowdr that started it).
    public func starts(of task: String) throws -> [Int: TaskStarted] {
        try payloads(.taskStarted, of: task) { if case .taskStarted(let p) = $0 { p } else { nil } }
    }

    /// Each attempt's `image_resolved` payload, by attempt (the container image it ran in, as resolved).
    public func images(of task: String) throws -> [Int: ImageResolved] {
        try payloads(.imageResolved, of: task) { if case .imageResolved(let p) = $0 { p } else { nil } }
    }

    /// The last event of `type` of each attempt of `task`, decoded, by attempt.
    func payloads<P>(_ type: EventType, of task: String, _ take: (EventBody) -> P?) throws -> [Int: P] {
        var out: [Int: P] = [:]
        let s = try db.prepare("SELECT attempt, version, payload FROM events WHERE \(type.readable) AND task = ? ORDER BY seq")
        try s.bind([.text(task)])
        while try s.step() {
            if let p = take(try EventBody.decode(type: type.rawValue, version: Int(s.int64(1)), payload: s.string(2))) { out[Int(s.int64(0))] = p }
        }
        return out
    }
}

extension ExperimentRecords {
    /// Every attempt's last event of `type`, decoded, by "task/attempt" (one pass over the events of that type).
    public func payloadsByAttempt<P>(_ type: EventType, _ take: (EventBody) -> P?) throws -> [String: P] {
        var out: [String: P] = [:]
        let s = try db.prepare("SELECT task, attempt, version, payload FROM events WHERE \(type.readable) AND task IS NOT NULL ORDER BY seq")
        while try s.step() {
            if let p = take(try EventBody.decode(type: type.rawValue, version: Int(s.int64(2)), payload: s.string(3))) {
                out["\(s.string(0))/\(s.int64(1))"] = p
            }
        }
        return out
    }
}
