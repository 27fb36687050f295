import ClowdrErrors
public import EventLog
import Foundation
import SQLite

/// Where a file an attempt used belongs, as `query --files` groups them.
public enum FileGroup: String, Sendable, CaseIterable {
    /// Written, created, renamed or deleted by the attempt.
    case outputs
    /// Read from anywhere else: the data the attempt was given, or found.
    case dataset
    /// Under a home folder (configurations, caches, licences).
    case home
    /// Under a temporary folder.
    case temporary
    /// The system's or an image's own files (programs, libraries, their data).
    case system

    static let systemPrefixes = ["/usr/", "/lib/", "/lib32/", "/lib64/", "/bin/", "/sbin/", "/etc/", "/opt/", "/nix/", "/gnu/", "/var/lib/"]
    static let temporaryPrefixes = ["/tmp/", "/var/tmp/", "/dev/shm/"]
    static let homePrefixes = ["/home/", "/root/", "/Users/"]

    /// The group of one use.
    public static func of(_ use: FileUse) -> FileGroup {
        if !use.kind.consumes && use.kind != .listed { return .outputs }
        let p = use.path
        if temporaryPrefixes.contains(where: p.hasPrefix) { return .temporary }
        if homePrefixes.contains(where: p.hasPrefix) { return .home }
        if systemPrefixes.contains(where: p.hasPrefix) { return .system }
        return .dataset
    }
}

extension ExperimentQuery {
    /// The files an attempt of `task` used (its latest attempt that recorded them, or `attempt`), with the files of
    /// the shared sets it names. Nil when no attempt recorded any; `traced` false with the reason when not observed.
    public func files(task: String, attempt: Int? = nil) throws -> (attempt: Int, record: TaskFiles, uses: [FileUse])? {
        try log.withConnection { db -> (Int, TaskFiles, [FileUse])? in
            var sql = "SELECT attempt, payload FROM events WHERE \(EventType.taskFiles.readable) AND task = ?"
            var values: [SQLiteValue] = [.text(task)]
            if let attempt {
                sql += " AND attempt = ?"
                values.append(.integer(Int64(attempt)))
            }
            guard let row = try db.rows(sql + " ORDER BY attempt DESC, seq DESC LIMIT 1", values).first,
                case .taskFiles(let record) = try EventBody.decode(
                    type: EventType.taskFiles.rawValue, version: EventType.firstVersion, payload: row[1].string ?? "")
            else { return nil }
            var uses = record.files
            for set in record.sets { uses += try set.files ?? Self.setFiles(set.id, db: db) }
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
            case .taskFiles(let record) = try EventBody.decode(type: EventType.taskFiles.rawValue, version: EventType.firstVersion, payload: payload)
        else { return [] }
        return record.sets.first { $0.id == id }?.files ?? []
    }

    /// `query --files TASK`: one row per file the task's latest attempt used, grouped (outputs, dataset, home,
    /// temporary, system), with its kind, size and SHA-256.
    public func filesTable(task: String) throws -> ResultTable {
        var table = ResultTable(
            columns: ["attempt", "group", "kind", "path", "size", "sha256", "to"], units: [.none, .none, .none, .none, .bytes, .none, .none])
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
                    u.sha256.map { .text($0) } ?? .null, u.to.map { .text($0) } ?? .null,
                ])
            }
        }
        return table
    }
}
