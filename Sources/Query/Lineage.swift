public import EventLog
import Foundation

/// What made a file, and on back: the attempt that last wrote it, the files that attempt read, the attempts that
/// made those, across the experiments given (a PROVDIR's: a group analysis back to the participant runs that made
/// its inputs). System files (programs, libraries) are left out of the inputs.
public struct Lineage {
    /// One file of the lineage: how deep it is (0: the file asked about), its hash as read (or as made, at depth 0),
    /// and the attempt that made it, when one of the experiments recorded it.
    public struct Step: Sendable, Equatable {
        public var depth: Int
        public var path: String
        public var sha256: String?
        public var experiment: String?
        public var task: String?
        public var attempt: Int?
        public var commandLine: String?
        /// Said of a file whose hash as read differs from the hash it was made with (changed since), or of a file
        /// seen already (not followed twice).
        public var note: String?
    }

    let experiments: [(id: String, query: ExperimentQuery)]
    let maxDepth: Int

    public init(experiments: [ExperimentLayout], maxDepth: Int = 8) throws {
        self.experiments = try experiments.map { ($0.id, try ExperimentQuery(path: $0.log)) }
        self.maxDepth = maxDepth
    }

    /// The lineage of `path`, depth first, each step after the one that read it.
    public func steps(of path: String) throws -> [Step] {
        var steps: [Step] = []
        var visited: Set<String> = []
        try visit(path, sha256: nil, depth: 0, into: &steps, visited: &visited)
        return steps
    }

    func visit(_ path: String, sha256: String?, depth: Int, into steps: inout [Step], visited: inout Set<String>) throws {
        var step = Step(depth: depth, path: path, sha256: sha256)
        guard !visited.contains(path) else {
            step.note = "seen above"
            steps.append(step)
            return
        }
        visited.insert(path)
        guard let (id, query, made) = try writer(of: path) else {
            step.note = "made by no recorded attempt"
            steps.append(step)
            return
        }
        let written = made.use.sha256  // a rename's: its new path's
        if step.sha256 == nil { step.sha256 = written } else if let written, written != step.sha256 { step.note = "changed since it was made" }
        (step.experiment, step.task, step.attempt) = (id, made.task, made.attempt)
        step.commandLine = try query.withRecords { try $0.plan(of: made.task)?.commandLine }
        steps.append(step)
        guard depth < maxDepth, let files = try query.files(task: made.task, attempt: made.attempt) else { return }
        for input in files.uses where input.kind.consumes && FileGroup.of(input) != .system && input.path != path {
            try visit(input.path, sha256: input.sha256, depth: depth + 1, into: &steps, visited: &visited)
        }
    }

    /// The attempt that last wrote `path`, in any of the experiments.
    func writer(of path: String) throws -> (String, ExperimentQuery, AttemptFileUse)? {
        var best: (String, ExperimentQuery, AttemptFileUse)?
        for (id, query) in experiments {
            for u in try query.uses(matching: PathPattern.literal(path)) where u.wrote(path) {
                if best == nil || u.time >= best!.2.time { best = (id, query, u) }
            }
        }
        return best
    }

    /// The steps as a table (`clowdr lineage`): one row per file, indented by depth.
    public static func table(_ steps: [Step]) -> ResultTable {
        var table = ResultTable(columns: ["depth", "file", "sha256", "experiment", "task", "attempt", "command_line", "note"])
        for s in steps {
            table.rows.append([
                .int(Int64(s.depth)), .text(String(repeating: "  ", count: s.depth) + s.path), s.sha256.map { .text($0) } ?? .null,
                s.experiment.map { .text($0) } ?? .null, s.task.map { .text($0) } ?? .null, s.attempt.map { .int(Int64($0)) } ?? .null,
                s.commandLine.map { .text($0) } ?? .null, s.note.map { .text($0) } ?? .null,
            ])
        }
        return table
    }
}

extension PathPattern {
    /// A pattern that matches exactly `path` (its wildcard characters escaped).
    public static func literal(_ path: String) -> PathPattern {
        var escaped = ""
        for c in path {
            if "*?[\\".contains(c) { escaped.append("\\") }
            escaped.append(c)
        }
        return PathPattern(escaped)
    }
}
