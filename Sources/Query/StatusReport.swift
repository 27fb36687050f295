public import EventLog
import Foundation

/// Where an experiment stands, as `clowdr status --json` prints it: the counts of each state, every failed task with
/// how it failed, every incomplete task, the refused segment lines and the tasks that used undeclared files.
///
/// The JSON shape is part of clowdr's interface (scripts read it): every key is always present, `null` when there is no
/// value, and keys are sorted.
public struct StatusReport: Encodable, Sendable {
    /// A failed task: its latest attempt and how it ended.
    public struct Failed: Encodable, Sendable {
        public var task: String
        public var labels: String
        public var attempt: Int
        @NullWhenAbsent public var exitCode: Int32?
        @NullWhenAbsent public var signal: Int32?
        @NullWhenAbsent public var reason: String?
        public var stderrLastLine: String
        /// The one-line account every output shares (`AttemptRecord.failureText(lastStderrLine:)`).
        @NullWhenAbsent public var failure: String?
    }

    /// A segment line ingest refused, and where the segment is kept.
    public struct Refused: Encodable, Sendable {
        public var segment: String
        public var line: Int
        public var code: String
        public var reason: String
        public var kept: String
        @NullWhenAbsent public var nativeID: String?
        @NullWhenAbsent public var host: String?
    }

    /// A task that read or wrote outside its declared inputs, outputs and working folder.
    public struct Undeclared: Encodable, Sendable {
        public var task: String
        public var labels: String
        public var attempt: Int
        public var count: Int
        public var paths: [String]
    }

    @NullWhenAbsent public var experiment: String?
    public var tasks: Int
    /// How many tasks are in each state, every state named (0 when none).
    public var counts: [String: Int]
    public var failed: [Failed]
    public var unknownEvents: Int
    public var refused: [Refused]
    /// The tasks `rerun incomplete` would run again.
    public var incomplete: [String]
    public var undeclared: [Undeclared]
    /// Whether some task is still submitted or running.
    public var active: Bool { (counts[TaskState.running.rawValue] ?? 0) + (counts[TaskState.submitted.rawValue] ?? 0) > 0 }

    /// The report of `state`, the replay of the experiment in `layout`; `isAlive` says whether a running task's
    /// controller still follows it (`Runs.isAlive`).
    public init(state: ExperimentState, layout: ExperimentLayout, isAlive: (TaskRecord) -> Bool) throws {
        let counts = state.counts
        experiment = state.experiment?.experiment
        tasks = state.tasks.count
        self.counts = Dictionary(uniqueKeysWithValues: TaskState.allCases.map { ($0.rawValue, counts[$0] ?? 0) })
        failed = state.orderedTasks.filter { $0.state == .failed }.map { Self.failed($0, layout: layout) }
        unknownEvents = state.unknownEvents.count
        refused = state.refusedLines.map { Self.refused($0.refusal, layout: layout) }
        incomplete = state.select(.incomplete, isAlive: isAlive)
        undeclared = try ExperimentQuery(path: layout.log).undeclaredUses(paths: 1000).map {
            Undeclared(task: $0.task, labels: TaskLabels.text($0.labels), attempt: $0.attempt, count: $0.count, paths: $0.paths)
        }
    }

    static func failed(_ t: TaskRecord, layout: ExperimentLayout) -> Failed {
        let a = t.latest
        let stderr = a.map { LogTail.lastLine(of: layout.stderr(t.task, $0.attempt)) } ?? ""
        return Failed(
            task: t.task, labels: TaskLabels.text(t.labels), attempt: a?.attempt ?? 0, exitCode: a?.exitCode, signal: a?.signal,
            reason: a?.failureReason, stderrLastLine: stderr, failure: a.flatMap { $0.failureText(lastStderrLine: stderr) })
    }

    static func refused(_ r: SegmentRefused, layout: ExperimentLayout) -> Refused {
        Refused(
            segment: r.segment, line: r.line, code: r.code, reason: r.reason,
            kept: (layout.directory as NSString).appendingPathComponent(r.kept), nativeID: r.nativeID, host: r.host)
    }

    /// The report as `status --json` prints it: pretty-printed, keys sorted and in snake case.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// An optional written as `null` when it has no value (Codable's synthesized encoding leaves the key out): a key of a
/// JSON interface is always there.
@propertyWrapper
public struct NullWhenAbsent<Value: Encodable & Sendable>: Encodable, Sendable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(wrappedValue)
    }
}
