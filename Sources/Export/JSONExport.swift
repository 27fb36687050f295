public import ClowdrErrors
import EventLog
import Foundation
import JSON
import SQLite

/// `clowdr export json`: the complete record of an experiment as one JSON document, described by
/// `schema/experiment.schema.json`. Streams: tasks are written one at a time (memory does not grow with samples),
/// into a temporary file renamed into place. The same log gives the same bytes.
public enum JSONExport {
    /// Writes the export of the log at `logPath` to `output` (atomically); samples only when asked.
    public static func write(logPath: String, to output: String, samples: Bool) throws {
        let log = try EventLog(path: logPath, mode: .readOnly)
        try AtomicFile.write(to: output) { out in
            try log.withConnection { db in try export(db, samples: samples, into: out) }
        }
    }

    static func export(_ db: Connection, samples: Bool, into out: BufferedOutput) throws {
        // Plans and outputs from the lifecycle events (one pass, no samples).
        var planned: [String: (invocation: String, commandLine: String)] = [:]
        var outputs: [String: String] = [:]  // "task/attempt" -> outputs JSON
        var created = "null"
        var createdAt = "null"
        let lifecycle = try db.prepare(
            "SELECT task, attempt, type, payload, time FROM events WHERE type IN ('experiment_created', 'task_planned', 'task_exited') AND version = 1 ORDER BY seq"
        )
        while try lifecycle.step() {
            let type = lifecycle.string(2)
            let payload = try JSONParser.parse(lifecycle.string(3))
            switch type {
            case "experiment_created":
                if created == "null" {
                    created = JSONWriter(sortKeys: true).string(payload)
                    createdAt = JSONExport.time(lifecycle.int64(4))
                }
            case "task_planned":
                let task = lifecycle.string(0)
                if planned[task] == nil {
                    planned[task] = (
                        JSONWriter(sortKeys: true).string(payload["invocation"] ?? .null), JSONWriter().string(payload["command_line"] ?? .null)
                    )
                }
            default:
                outputs["\(lifecycle.string(0))/\(lifecycle.int64(1))"] = JSONWriter(sortKeys: true).string(payload["outputs"] ?? .array([]))
            }
        }
        out.write(#"{"format":"clowdr-experiment/1","experiment":"#)
        out.write(created)
        out.write(#","created_at":"#)
        out.write(createdAt)
        out.write(#","tasks":["#)

        let order = "ORDER BY CAST(task AS INTEGER), task"
        let tasks = try db.prepare("SELECT task, state, labels FROM tasks \(order)")
        let attempts = try db.prepare(
            "SELECT attempt, state, submitted_at, started_at, ended_at, backend, native_id, host, pid, exit_code, signal, wall_time, cpu_user, cpu_system, peak_rss, read_bytes, write_bytes, failure_reason, samples FROM attempts WHERE task = ? ORDER BY attempt"
        )
        let sampleRows =
            samples
            ? try db.prepare(
                "SELECT task, attempt, time, json_extract(payload, '$.cpu_user'), json_extract(payload, '$.cpu_system'), json_extract(payload, '$.rss'), json_extract(payload, '$.vms'), json_extract(payload, '$.read_bytes'), json_extract(payload, '$.write_bytes'), json_extract(payload, '$.processes'), json_extract(payload, '$.threads') FROM events WHERE type = 'sample' AND version = 1 ORDER BY CAST(task AS INTEGER), task, attempt, seq"
            )
            : nil
        var pendingSample = try sampleRows?.step() ?? false
        var firstTask = true
        while try tasks.step() {
            let task = tasks.string(0)
            out.write(firstTask ? "\n" : ",\n")
            firstTask = false
            out.write(#"{"task":"#)
            out.write(JSONWriter().string(.string(task)))
            out.write(#","state":"#)
            out.write(JSONWriter().string(.string(tasks.string(1))))
            out.write(#","labels":"#)
            out.write(tasks.optionalString(2) ?? "{}")
            out.write(#","command_line":"#)
            out.write(planned[task]?.commandLine ?? "null")
            out.write(#","invocation":"#)
            out.write(planned[task]?.invocation ?? "null")
            out.write(#","attempts":["#)
            try attempts.bind(.text(task), at: 1)
            var firstAttempt = true
            while try attempts.step() {
                let n = attempts.int64(0)
                out.write(firstAttempt ? "{" : ",{")
                firstAttempt = false
                out.write(#""attempt":\#(n),"state":"#)
                out.write(JSONWriter().string(.string(attempts.string(1))))
                for (i, name) in [(2, "submitted_at"), (3, "started_at"), (4, "ended_at")] {
                    out.write(",\"\(name)\":" + (attempts.optionalInt64(Int32(i)).map(JSONExport.time) ?? "null"))
                }
                for (i, name) in [(5, "backend"), (6, "native_id"), (7, "host")] {
                    out.write(",\"\(name)\":" + (attempts.optionalString(Int32(i)).map { JSONWriter().string(.string($0)) } ?? "null"))
                }
                for (i, name) in [
                    (8, "pid"), (9, "exit_code"), (10, "signal"), (14, "peak_rss"), (15, "read_bytes"), (16, "write_bytes"), (18, "samples"),
                ] {
                    out.write(",\"\(name)\":" + (attempts.optionalInt64(Int32(i)).map(String.init) ?? "null"))
                }
                for (i, name) in [(11, "wall_time"), (12, "cpu_user"), (13, "cpu_system")] {
                    out.write(",\"\(name)\":" + (attempts.optionalDouble(Int32(i)).map { JSONNumber($0).literal } ?? "null"))
                }
                out.write(#","failure_reason":"# + (attempts.optionalString(17).map { JSONWriter().string(.string($0)) } ?? "null"))
                out.write(#","outputs":"# + (outputs["\(task)/\(n)"] ?? "[]"))
                if let s = sampleRows {
                    out.write(#","samples":["#)
                    var firstSample = true
                    while pendingSample, s.string(0) == task, s.int64(1) == n {
                        out.write(firstSample ? "[" : ",[")
                        firstSample = false
                        out.write(JSONExport.time(s.int64(2)))
                        for c in 3...10 { out.write("," + s.value(Int32(c)).jsonText) }
                        out.write("]")
                        pendingSample = try s.step()
                    }
                    out.write("]")
                }
                out.write("}")
            }
            attempts.reset()
            out.write("]}")
        }
        out.write("\n]")
        if samples { out.write(#","sample_columns":["time","cpu_user","cpu_system","rss","vms","read_bytes","write_bytes","processes","threads"]"#) }
        out.write("}\n")
    }

    /// µs since the epoch as an ISO 8601 JSON string.
    static func time(_ us: Int64) -> String { "\"" + Timestamp(microseconds: us).iso8601 + "\"" }
}

extension SQLiteValue {
    /// The value as JSON text.
    var jsonText: String {
        switch self {
        case .null: "null"
        case .integer(let v): String(v)
        case .real(let v): v.isFinite ? JSONNumber(v).literal : "null"
        case .text(let s): JSONWriter().string(.string(s))
        case .blob: "null"
        }
    }
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

/// Files other programs read are written under a temporary name beside the target, synced, then renamed into
/// place: a crash never leaves a partial file under the real name. The path `-` is standard output, streamed.
enum AtomicFile {
    static func write(to path: String, _ body: (BufferedOutput) throws -> Void) throws {
        if path == "-" {
            let out = BufferedOutput(FileHandle.standardOutput)
            try body(out)
            out.flush()
            return
        }
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: nil), let h = FileHandle(forWritingAtPath: tmp) else {
            throw ExportError("cannot create \(tmp)")
        }
        do {
            let out = BufferedOutput(h)
            try body(out)
            out.flush()
            try h.synchronize()
            try h.close()
            guard rename(tmp, path) == 0 else { throw ExportError("cannot rename \(tmp) to \(path): \(String(cString: strerror(errno)))") }
        } catch {
            try? h.close()
            unlink(tmp)
            throw error
        }
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
