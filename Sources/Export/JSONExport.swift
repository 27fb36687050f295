public import ClowdrErrors
import EventLog
import Foundation
import JSON
import Query

/// `clowdr export json`: the complete record of an experiment as one JSON document, described by
/// `schema/experiment.schema.json`. Streams: tasks are written one at a time (memory does not grow with samples),
/// into a temporary file renamed into place. The same log gives the same bytes.
public enum JSONExport {
    /// Writes the export of the log at `logPath` to `output` (atomically); samples only when asked.
    public static func write(logPath: String, to output: String, samples: Bool) throws {
        try ExperimentRecords.read(path: logPath) { records in
            try AtomicFile.write(to: output) { out in try export(records, samples: samples, into: out) }
        }
    }

    /// The document: the experiment, then each task with its plan and attempts (and their samples).
    static func export(_ records: ExperimentRecords, samples: Bool, into out: BufferedOutput) throws {
        let plans = try plansByTask(records)
        let outputs = try outputsByAttempt(records)
        let sampleStream = samples ? try SampleStream(records.samples(.byTask)) : nil
        try writeExperiment(records.experiment(), into: out)
        out.write(#","tasks":["#)
        var first = true
        var fileSets: [String: [FileUse]] = [:]
        let starts = try records.payloadsByAttempt(.taskStarted) { if case .taskStarted(let p) = $0 { p } else { nil } }
        let images = try records.payloadsByAttempt(.imageResolved) { if case .imageResolved(let p) = $0 { p } else { nil } }
        try records.forEachTask { task in
            out.write(first ? "\n" : ",\n")
            first = false
            try writeTask(
                task, plan: plans[task.task], records: records, outputs: outputs, samples: sampleStream, environment: (starts, images),
                fileSets: &fileSets,
                into: out)
        }
        out.write("\n]")
        // The files many attempts used alike, once: each attempt's `files.sets` names them.
        out.write(#","file_sets":{"#)
        for (k, id) in fileSets.keys.sorted().enumerated() {
            var text: [UInt8] = []
            FileUse.write(fileSets[id]!, into: &text)
            out.write((k == 0 ? "" : ",") + string(id) + ":" + String(decoding: text, as: UTF8.self))
        }
        out.write("}")
        if samples { out.write(#","sample_columns":["time","cpu_user","cpu_system","rss","vms","read_bytes","write_bytes","processes","threads"]"#) }
        out.write("}\n")
    }

    /// Each task's command line and invocation (sorted keys), as JSON text.
    static func plansByTask(_ records: ExperimentRecords) throws -> [String: (invocation: String, commandLine: String)] {
        var plans: [String: (invocation: String, commandLine: String)] = [:]
        try records.forEachPlan { p in
            let invocation = try p.invocation.map { JSONWriter(sortKeys: true).string(try JSONParser.parse($0)) } ?? "null"
            plans[p.task] = (invocation, p.commandLine.map { JSONWriter().string(.string($0)) } ?? "null")
        }
        return plans
    }

    /// Each attempt's outputs (sorted keys) by "task/attempt", as JSON text; a later exit of an attempt wins.
    static func outputsByAttempt(_ records: ExperimentRecords) throws -> [String: String] {
        var outputs: [String: String] = [:]
        try records.forEachExit { x in
            outputs["\(x.task)/\(x.attempt)"] = try x.outputs.map { JSONWriter(sortKeys: true).string(try JSONParser.parse($0)) } ?? "[]"
        }
        return outputs
    }

    static func writeExperiment(_ created: ExperimentRow?, into out: BufferedOutput) throws {
        out.write(#"{"format":"clowdr-experiment/1","experiment":"#)
        out.write(try created.map { JSONWriter(sortKeys: true).string(try JSONParser.parse($0.payload)) } ?? "null")
        out.write(#","created_at":"#)
        out.write(created.map { time($0.time) } ?? "null")
    }

    static func writeTask(
        _ task: TaskRow, plan: (invocation: String, commandLine: String)?, records: ExperimentRecords, outputs: [String: String],
        samples: SampleStream?, environment: (starts: [String: TaskStarted], images: [String: ImageResolved]), fileSets: inout [String: [FileUse]],
        into out: BufferedOutput
    ) throws {
        out.write(#"{"task":"#)
        out.write(string(task.task))
        out.write(#","state":"#)
        out.write(string(task.state.rawValue))
        out.write(#","labels":"#)
        out.write(task.labels ?? "{}")
        out.write(#","command_line":"#)
        out.write(plan?.commandLine ?? "null")
        out.write(#","invocation":"#)
        out.write(plan?.invocation ?? "null")
        out.write(#","attempts":["#)
        for (k, a) in try records.attempts(of: task.task).enumerated() {
            out.write(k == 0 ? "{" : ",{")
            writeAttempt(a, outputs: outputs["\(task.task)/\(a.attempt)"] ?? "[]", into: out)
            let key = "\(task.task)/\(a.attempt)"
            out.write(#","host_facts":"#)
            if let facts = environment.starts[key]?.hostFacts, !facts.isEmpty {
                out.write(JSONWriter(sortKeys: true).string(.object(facts)))
            } else {
                out.write("null")
            }
            out.write(#","image":"#)
            if let i = environment.images[key] {
                var o: JSONObject = ["engine": .string(i.engine), "image": .string(i.image)]
                o["digest"] = i.digest.map(JSONValue.string)
                o["id"] = i.id.map(JSONValue.string)
                o["reason"] = i.reason.map(JSONValue.string)
                out.write(JSONWriter(sortKeys: true).string(.object(o)))
            } else {
                out.write("null")
            }
            out.write(#","files":"#)
            if var files = try records.taskFiles(task: task.task, attempt: a.attempt) {
                for (i, set) in files.sets.enumerated() {
                    if let defined = set.files { fileSets[set.id] = defined }
                    files.sets[i].files = nil
                }
                out.write(files.payloadJSON)
            } else {
                out.write("null")
            }
            if let samples {
                out.write(#","samples":["#)
                try samples.write(task: task.task, attempt: a.attempt, into: out)
                out.write("]")
            }
            out.write("}")
        }
        out.write("]}")
    }

    /// An attempt's fields, in the schema's order.
    static func writeAttempt(_ a: AttemptRecord, outputs: String, into out: BufferedOutput) {
        out.write(#""attempt":\#(a.attempt),"state":"#)
        out.write(string(a.state.rawValue))
        for (name, t) in [("submitted_at", a.submittedAt), ("started_at", a.startedAt), ("ended_at", a.endedAt)] {
            out.write(",\"\(name)\":" + (t.map(time) ?? "null"))
        }
        for (name, v) in [("backend", a.backend), ("native_id", a.nativeID), ("host", a.host)] {
            out.write(",\"\(name)\":" + (v.map(string) ?? "null"))
        }
        let integers: [(String, Int64?)] = [
            ("pid", a.pid.map(Int64.init)), ("exit_code", a.exitCode.map(Int64.init)), ("signal", a.signal.map(Int64.init)), ("peak_rss", a.peakRSS),
            ("read_bytes", a.readBytes), ("write_bytes", a.writeBytes), ("samples", Int64(a.samples)),
        ]
        for (name, v) in integers { out.write(",\"\(name)\":" + (v.map(String.init) ?? "null")) }
        for (name, v) in [("wall_time", a.wallTime), ("cpu_user", a.cpuUser), ("cpu_system", a.cpuSystem)] {
            out.write(",\"\(name)\":" + (v.map { JSONNumber($0).literal } ?? "null"))
        }
        out.write(#","failure_reason":"# + (a.failureReason.map(string) ?? "null"))
        out.write(#","figures":"# + (a.figures.map { string($0.rawValue) } ?? "null"))
        out.write(#","outputs":"# + outputs)
    }

    /// The samples, by task, attempt and seq, walked beside the tasks: each attempt takes the samples that are its own.
    final class SampleStream {
        let cursor: RecordCursor<SampleRow>
        var pending: SampleRow?

        init(_ cursor: RecordCursor<SampleRow>) throws {
            self.cursor = cursor
            pending = try cursor.next()
        }

        func write(task: String, attempt: Int, into out: BufferedOutput) throws {
            var first = true
            while let s = pending, s.task == task, s.attempt == attempt {
                out.write(first ? "[" : ",[")
                first = false
                out.write(JSONExport.time(s.time))
                for v in [s.cpuUser, s.cpuSystem] { out.write("," + number(v)) }
                for v in [s.rss, s.vms, s.readBytes, s.writeBytes, s.processes, s.threads] { out.write("," + (v.map(String.init) ?? "null")) }
                out.write("]")
                pending = try cursor.next()
            }
        }

        /// A sample's measure as its payload has it: integral values are written without a fraction there.
        func number(_ v: Double?) -> String {
            guard let v, v.isFinite else { return "null" }
            return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : JSONNumber(v).literal
        }
    }

    /// A time as an ISO 8601 JSON string.
    static func time(_ t: Timestamp) -> String { "\"" + t.iso8601 + "\"" }

    /// A JSON string.
    static func string(_ s: String) -> String { JSONWriter().string(.string(s)) }
}

/// Buffered writes to a file descriptor.
final class BufferedOutput {
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    init(_ handle: FileHandle) { self.handle = handle }

    func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 20 { flush() }
    }

    func flush() {
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}

/// An export that could not be written.
public struct ExportError: CodedError {
    public var description: String
    public var errorCode: String
    public var isUsageError: Bool { errorCode == "export.not_an_archive" }
    public init(_ d: String, code: String = "export.failed") {
        description = d
        errorCode = code
    }
}
