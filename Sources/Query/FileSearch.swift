public import EventLog
import Foundation
import JSON
import SQLite

/// One recorded use of a file, with the attempt that made it and when it was recorded.
public struct AttemptFileUse: Sendable, Equatable {
    public var task: String
    public var attempt: Int
    /// The `task_files` event's position and time (the attempt's end, within seconds).
    public var seq: Int64
    public var time: Timestamp
    public var use: FileUse

    /// Whether the use made the file at `path` as it is: written, created, or renamed to it.
    public func wrote(_ path: String) -> Bool {
        use.kind.produces ? use.path == path : use.kind == .renamed && use.to == path
    }
}

/// A path pattern: a glob (`*`, `?`, `[...]`, as fnmatch), or a plain path that matches itself.
public struct PathPattern: Sendable {
    public let text: String

    public init(_ text: String) { self.text = text }

    /// The text before the first wildcard: what every match contains.
    var literalPrefix: String { String(text.prefix { !"*?[\\".contains($0) }) }

    public func matches(_ path: String) -> Bool { fnmatch(text, path, 0) == 0 }

    /// Whether a use names a matching path (a rename: its old or new path).
    func matches(_ use: FileUse) -> Bool { matches(use.path) || (use.to.map(matches) ?? false) }
}

extension ExperimentQuery {
    /// Every recorded use whose path matches `pattern` (a rename's old or new path), of every attempt, in log
    /// order, with the shared sets' files counted for each attempt that names them.
    ///
    /// Only the events whose text holds the pattern's literal part, or that name a set holding a match, are decoded.
    public func uses(matching pattern: PathPattern) throws -> [AttemptFileUse] {
        try log.withConnection { db in
            var needle: [UInt8] = []
            JSONWriter.writeString(pattern.literalPrefix, into: &needle)
            let literal = String(decoding: needle.dropFirst().dropLast(), as: UTF8.self)  // as the payload writes it
            let sets = try Self.setsHolding(pattern, literal: literal, db: db)
            var sql = "SELECT seq, time, task, attempt, payload FROM events WHERE \(EventType.taskFiles.readable) AND (instr(payload, ?) > 0"
            var values: [SQLiteValue] = [.text(literal)]
            // Many sets hold a match: every event is read (the prefilter would cost more than it saves).
            if sets.count > 32 {
                sql += " OR 1"
            } else {
                for id in sets.keys {
                    sql += " OR instr(payload, ?) > 0"
                    values.append(.text(id))
                }
            }
            var found: [AttemptFileUse] = []
            let s = try db.prepare(sql + ") ORDER BY seq")
            try s.bind(values)
            while try s.step() {
                guard
                    let record = try TaskFiles.decode(s.string(4))
                else { continue }
                var uses = record.files.filter(pattern.matches)
                for set in record.sets {
                    uses += set.files?.filter(pattern.matches) ?? sets[set.id] ?? []
                }
                let (seq, time, task, attempt) = (s.int64(0), Timestamp(microseconds: s.int64(1)), s.string(2), Int(s.int64(3)))
                found += uses.map { AttemptFileUse(task: task, attempt: attempt, seq: seq, time: time, use: $0) }
            }
            return found
        }
    }

    /// The shared sets that hold a use matching `pattern`, with those uses, by id.
    static func setsHolding(_ pattern: PathPattern, literal: String, db: Connection) throws -> [String: [FileUse]] {
        var sets: [String: [FileUse]] = [:]
        let s = try db.prepare(
            "SELECT payload FROM events WHERE \(EventType.taskFiles.readable) AND instr(payload, '],\"id\":\"') > 0 AND instr(payload, ?) > 0")
        try s.bind([.text(literal)])
        while try s.step() {
            guard
                let record = try TaskFiles.decode(s.string(0))
            else { continue }
            for set in record.sets {
                guard sets[set.id] == nil, let files = set.files else { continue }
                let matching = files.filter(pattern.matches)
                if !matching.isEmpty { sets[set.id] = matching }
            }
        }
        return sets
    }

    /// `query --readers PATTERN`: the attempts that read (or executed, or listed) a matching file.
    public func readersTable(_ pattern: PathPattern) throws -> ResultTable {
        try usesTable(try uses(matching: pattern).filter { $0.use.kind.consumes || $0.use.kind == .listed })
    }

    /// `query --writer PATTERN`: the attempts that wrote, created or renamed a file into a matching path, the last
    /// one last.
    public func writersTable(_ pattern: PathPattern) throws -> ResultTable {
        try usesTable(
            try uses(matching: pattern).filter { $0.use.kind.produces || ($0.use.kind == .renamed && $0.use.to.map(pattern.matches) == true) })
    }

    func usesTable(_ uses: [AttemptFileUse]) throws -> ResultTable {
        var table = ResultTable(
            columns: ["task", "attempt", "time", "kind", "path", "size", "sha256", "to"],
            units: [.none, .none, .time, .none, .none, .bytes, .none, .none])
        for u in uses {
            table.rows.append([
                .text(u.task), .int(Int64(u.attempt)), .int(u.time.microseconds), .text(u.use.kind.rawValue), .text(u.use.path),
                u.use.size.map { .int($0) } ?? .null, u.use.sha256.map { .text($0) } ?? .null, u.use.to.map { .text($0) } ?? .null,
            ])
        }
        return table
    }
}
