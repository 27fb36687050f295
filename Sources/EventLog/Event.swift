import Foundation
import JSON

/// The event types this build knows. A log may hold others (written by a newer clowdr): they are kept and
/// shown as unknown, never dropped.
public enum EventType: String, Sendable, CaseIterable, Codable {
    case experimentCreated = "experiment_created"
    case taskPlanned = "task_planned"
    case taskSubmitted = "task_submitted"
    case taskStarted = "task_started"
    case sample
    case taskExited = "task_exited"
    case taskLaunchFailed = "task_launch_failed"
    case taskLost = "task_lost"
    case taskCancelled = "task_cancelled"
    case taskEnded = "task_ended"
    case rerunRequested = "rerun_requested"
    case segmentRefused = "segment_refused"
    case taskFiles = "task_files"
    case imageResolved = "image_resolved"

    /// Every type's first version: versions count from it.
    public static let firstVersion = 1

    /// The newest version of this type that this build writes and reads. task_ended v2 added `ended_at`;
    /// task_started v2 the clowdr version and the host's facts. The one place versions are named: everything else
    /// says `firstVersion`, `currentVersion`, `reads` or `readable`.
    public var currentVersion: Int {
        switch self {
        case .taskStarted: 3
        case .taskEnded: 2
        default: Self.firstVersion
        }
    }

    /// Whether this build reads `version` of the type: every version up to the current one (an older one decodes
    /// into the current payload type, without the fields it did not have).
    public func reads(_ version: Int) -> Bool { version >= Self.firstVersion && version <= currentVersion }

    /// An SQL condition true for the events of this type at the versions this build reads (over columns `type`,
    /// `version`).
    public var readable: String { "type = '\(rawValue)' AND version BETWEEN \(Self.firstVersion) AND \(currentVersion)" }

    /// An SQL condition true for the events of types and versions this build reads (over columns `type`, `version`).
    public static var readableSQL: String {
        allCases.map { "(+type = '\($0.rawValue)' AND version BETWEEN \(firstVersion) AND \($0.currentVersion))" }.joined(separator: " OR ")
    }

    /// Every type but `sample` is a lifecycle event: committed durably before `append` returns.
    public var isLifecycle: Bool { self != .sample }
}

/// What an event says: one case per known type, or `unknown` with its raw payload.
public enum EventBody: Sendable, Equatable {
    case experimentCreated(ExperimentCreated)
    case taskPlanned(TaskPlanned)
    case taskSubmitted(TaskSubmitted)
    case taskStarted(TaskStarted)
    case sample(Sample)
    case taskExited(TaskExited)
    case taskLaunchFailed(TaskLaunchFailed)
    case taskLost(TaskLost)
    case taskCancelled(TaskCancelled)
    case taskEnded(TaskEnded)
    case rerunRequested(RerunRequested)
    case segmentRefused(SegmentRefused)
    case taskFiles(TaskFiles)
    case imageResolved(ImageResolved)
    /// A type or version this build does not know; `payload` is the JSON text as stored.
    case unknown(type: String, version: Int, payload: String)

    /// The type's name as stored.
    public var type: String {
        switch self {
        case .experimentCreated: EventType.experimentCreated.rawValue
        case .taskPlanned: EventType.taskPlanned.rawValue
        case .taskSubmitted: EventType.taskSubmitted.rawValue
        case .taskStarted: EventType.taskStarted.rawValue
        case .sample: EventType.sample.rawValue
        case .taskExited: EventType.taskExited.rawValue
        case .taskLaunchFailed: EventType.taskLaunchFailed.rawValue
        case .taskLost: EventType.taskLost.rawValue
        case .taskCancelled: EventType.taskCancelled.rawValue
        case .taskEnded: EventType.taskEnded.rawValue
        case .rerunRequested: EventType.rerunRequested.rawValue
        case .segmentRefused: EventType.segmentRefused.rawValue
        case .taskFiles: EventType.taskFiles.rawValue
        case .imageResolved: EventType.imageResolved.rawValue
        case .unknown(let type, _, _): type
        }
    }

    /// The version of the type's payload.
    public var version: Int {
        if case .unknown(_, let version, _) = self { return version }
        return EventType(rawValue: type)?.currentVersion ?? 1
    }
}

/// One event as the program sees it: who it is about (a task's attempt, or the experiment when `task` is nil),
/// when it happened, and what it says.
public struct Event: Sendable, Equatable {
    /// Globally unique and time-ordered.
    public var id: EventID
    /// When it happened (UTC, microseconds).
    public var time: Timestamp
    /// The task it is about; nil for experiment-level events.
    public var task: String?
    /// The attempt of the task it is about (1, 2, ...); nil for the task as a whole (planning) or the experiment.
    public var attempt: Int?
    public var body: EventBody

    public init(id: EventID, time: Timestamp, task: String? = nil, attempt: Int? = nil, body: EventBody) {
        self.id = id
        self.time = time
        self.task = task
        self.attempt = attempt
        self.body = body
    }

    /// The stored form, with the payload encoded as compact JSON with sorted keys.
    public func raw() throws -> RawEvent {
        RawEvent(
            seq: nil, id: id.text, time: time, task: task, attempt: attempt, type: body.type, version: body.version, payload: try body.payloadJSON())
    }
}

extension EventBody {
    /// The payload as compact JSON text with sorted keys.
    public func payloadJSON() throws -> String {
        switch self {
        case .experimentCreated(let p): try Self.encode(p)
        case .taskPlanned(let p): try p.fastJSON() ?? Self.encode(p)
        case .taskSubmitted(let p): try p.fastJSON() ?? Self.encode(p)
        case .taskStarted(let p): p.fastJSON()
        case .taskExited(let p): try p.fastJSON() ?? Self.encode(p)
        case .sample(let p): p.fastJSON()
        case .taskLaunchFailed(let p): try Self.encode(p)
        case .taskLost(let p): try Self.encode(p)
        case .taskCancelled(let p): try Self.encode(p)
        case .taskEnded(let p): try Self.encode(p)
        case .rerunRequested(let p): try Self.encode(p)
        case .segmentRefused(let p): try Self.encode(p)
        case .taskFiles(let p): p.fastJSON()
        case .imageResolved(let p): try Self.encode(p)
        case .unknown(_, _, let payload): payload
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes a stored payload. A type or version this build does not know gives `.unknown`; a known one whose
    /// payload does not match its schema throws.
    public static func decode(type: String, version: Int, payload: String) throws -> EventBody {
        guard let known = EventType(rawValue: type), known.reads(version) else {
            return .unknown(type: type, version: version, payload: payload)
        }
        // The fast readers know every field of every version they read.
        if let fast = parseFast(known, payload: payload) { return fast }
        let data = Data(payload.utf8)
        let d = JSONDecoder()
        switch known {
        case .experimentCreated: return .experimentCreated(try d.decode(ExperimentCreated.self, from: data))
        case .taskPlanned: return .taskPlanned(try d.decode(TaskPlanned.self, from: data))
        case .taskSubmitted: return .taskSubmitted(try d.decode(TaskSubmitted.self, from: data))
        case .taskStarted: return .taskStarted(try d.decode(TaskStarted.self, from: data))
        case .sample: return .sample(try Sample.parseFast(payload) ?? d.decode(Sample.self, from: data))
        case .taskExited: return .taskExited(try d.decode(TaskExited.self, from: data))
        case .taskLaunchFailed: return .taskLaunchFailed(try d.decode(TaskLaunchFailed.self, from: data))
        case .taskLost: return .taskLost(try d.decode(TaskLost.self, from: data))
        case .taskCancelled: return .taskCancelled(try d.decode(TaskCancelled.self, from: data))
        case .taskEnded: return .taskEnded(try d.decode(TaskEnded.self, from: data))
        case .rerunRequested: return .rerunRequested(try d.decode(RerunRequested.self, from: data))
        case .segmentRefused: return .segmentRefused(try d.decode(SegmentRefused.self, from: data))
        case .taskFiles: return .taskFiles(try d.decode(TaskFiles.self, from: data))
        case .imageResolved: return .imageResolved(try d.decode(ImageResolved.self, from: data))
        }
    }
}

/// An event in its stored form: the envelope's columns and the payload as JSON text. This is what the log
/// stores, what segments carry, and what replay reads (it decodes only the payloads it needs).
public struct RawEvent: Sendable, Equatable {
    /// Position in the log (1, 2, 3, ... without gaps); nil until stored.
    public var seq: Int64?
    public var id: String
    public var time: Timestamp
    public var task: String?
    public var attempt: Int?
    public var type: String
    public var version: Int
    /// Compact JSON object text.
    public var payload: String

    public init(seq: Int64?, id: String, time: Timestamp, task: String?, attempt: Int?, type: String, version: Int, payload: String) {
        self.seq = seq
        self.id = id
        self.time = time
        self.task = task
        self.attempt = attempt
        self.type = type
        self.version = version
        self.payload = payload
    }

    /// The known event type, if this build knows it at this version.
    public var knownType: EventType? {
        guard let t = EventType(rawValue: type), t.reads(version) else { return nil }
        return t
    }

    /// The typed event.
    public func decoded() throws -> Event {
        guard let eid = EventID(id) else { throw EventLogError.badEvent(id: id, reason: "the id is not a 26-character ULID") }
        do {
            return Event(
                id: eid, time: time, task: task, attempt: attempt, body: try EventBody.decode(type: type, version: version, payload: payload))
        } catch {
            throw EventLogError.badEvent(id: id, reason: "the \(type) v\(version) payload does not match its schema: \(error)")
        }
    }

    /// One line of a segment file (NDJSON), without the newline.
    public var ndjsonLine: String {
        var out: [UInt8] = []
        out.reserveCapacity(payload.utf8.count + 160)
        writeNDJSONLine(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the event's segment line (without the newline) to `out` (which grows as arrays do: reserving room
    /// line by line would copy the whole buffer at every line).
    public func writeNDJSONLine(into out: inout [UInt8]) {
        out.append(contentsOf: #"{"id":"#.utf8)
        JSONWriter.writeString(id, into: &out)
        out.append(contentsOf: #","time":""#.utf8)
        time.writeISO8601(into: &out)
        out.append(contentsOf: #"","task":"#.utf8)
        if let task { JSONWriter.writeString(task, into: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","attempt":"#.utf8)
        out.append(contentsOf: (attempt.map(String.init) ?? "null").utf8)
        out.append(contentsOf: #","type":"#.utf8)
        JSONWriter.writeString(type, into: &out)
        out.append(contentsOf: #","version":"#.utf8)
        out.append(contentsOf: String(version).utf8)
        out.append(contentsOf: #","payload":"#.utf8)
        out.append(contentsOf: payload.utf8)
        out.append(UInt8(ascii: "}"))
    }

    /// Reads one segment line. Throws a message that says which field is wrong.
    public init(ndjsonLine line: String) throws {
        let value: JSONValue
        do { value = try JSONParser.parse(line, limits: .init(maxBytes: 16 << 20, maxDepth: 64)) } catch {
            throw EventLogError.badEvent(id: "?", reason: "not JSON: \(error)")
        }
        guard case .object(let o) = value else { throw EventLogError.badEvent(id: "?", reason: "a segment line must be a JSON object") }
        guard let id = o["id"]?.stringValue, EventID(id) != nil else {
            throw EventLogError.badEvent(id: "?", reason: "\"id\" must be a 26-character ULID string")
        }
        guard let timeText = o["time"]?.stringValue, let time = Timestamp(iso8601: timeText) else {
            throw EventLogError.badEvent(id: id, reason: "\"time\" must be an ISO 8601 UTC time string")
        }
        guard let type = o["type"]?.stringValue, !type.isEmpty else {
            throw EventLogError.badEvent(id: id, reason: "\"type\" must be a non-empty string")
        }
        guard let version = o["version"]?.int64Value, version >= EventType.firstVersion else {
            throw EventLogError.badEvent(id: id, reason: "\"version\" must be a positive integer")
        }
        guard case .object = o["payload"] else { throw EventLogError.badEvent(id: id, reason: "\"payload\" must be a JSON object") }
        let task: String?
        switch o["task"] {
        case nil, .null?: task = nil
        case .string(let t)?: task = t
        default: throw EventLogError.badEvent(id: id, reason: "\"task\" must be a string or null")
        }
        let attempt: Int?
        switch o["attempt"] {
        case nil, .null?: attempt = nil
        case .number(let n)? where n.int64 != nil: attempt = Int(n.int64!)
        default: throw EventLogError.badEvent(id: id, reason: "\"attempt\" must be an integer or null")
        }
        self.init(
            seq: nil, id: id, time: time, task: task, attempt: attempt, type: type, version: Int(version),
            payload: JSONWriter().string(o["payload"]!))
    }
}

extension Sample {
    /// The payload's JSON, written by hand rather than through `JSONEncoder`: samples are the bulk of every log.
    /// Same keys, in sorted order, as the Codable form. CPU times are written to the microsecond.
    public func fastJSON() -> String {
        // Written on the stack, then copied into a string of just the right size.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Sample.maxJSONBytes) { buf in
            String(decoding: UnsafeBufferPointer(start: buf.baseAddress!, count: writeJSON(to: buf.baseAddress!)), as: UTF8.self)
        }
    }

    /// The most bytes `writeJSON` writes: 8 keys (90 bytes), 8 numbers of at most 21 bytes, braces.
    public static let maxJSONBytes = 256

    /// Writes the payload's JSON at `out`, which has room for `maxJSONBytes`; returns how many bytes it wrote.
    public func writeJSON(to out: UnsafeMutablePointer<UInt8>) -> Int {
        var w = ByteWriter(base: out)
        w.put(#"{"cpu_system":"#)
        w.seconds(cpuSystem)
        w.put(#","cpu_user":"#)
        w.seconds(cpuUser)
        w.put(#","processes":"#)
        w.int(Int64(processes))
        w.put(#","read_bytes":"#)
        w.int(readBytes)
        w.put(#","rss":"#)
        w.int(rss)
        w.put(#","threads":"#)
        w.int(Int64(threads))
        w.put(#","vms":"#)
        w.int(vms)
        w.put(#","write_bytes":"#)
        w.int(writeBytes)
        w.put("}")
        return w.count
    }

    /// Reads the payload written by `fastJSON` without a general JSON parser; nil if the text has another shape
    /// (the caller then falls back to the Codable decoder).
    public static func parseFast(_ payload: String) -> Sample? {
        var fields: [Substring] = []
        fields.reserveCapacity(8)
        var p = Substring(payload)
        guard p.first == "{", p.last == "}" else { return nil }
        p = p.dropFirst().dropLast()
        let expected = ["cpu_system", "cpu_user", "processes", "read_bytes", "rss", "threads", "vms", "write_bytes"]
        for (k, part) in p.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            guard k < expected.count, let colon = part.firstIndex(of: ":") else { return nil }
            guard part[part.startIndex..<colon] == "\"\(expected[k])\"" else { return nil }
            fields.append(part[part.index(after: colon)...])
        }
        guard fields.count == 8, let cs = Double(fields[0]), let cu = Double(fields[1]), let pr = Int32(fields[2]),
            let rb = Int64(fields[3]), let rss = Int64(fields[4]), let th = Int32(fields[5]), let vms = Int64(fields[6]),
            let wb = Int64(fields[7])
        else { return nil }
        return Sample(cpuUser: cu, cpuSystem: cs, rss: rss, vms: vms, readBytes: rb, writeBytes: wb, processes: pr, threads: th)
    }
}

/// Writes ASCII into memory the caller has made room for (the sample encoder's inner loop).
struct ByteWriter {
    let base: UnsafeMutablePointer<UInt8>
    var count = 0

    init(base: UnsafeMutablePointer<UInt8>) { self.base = base }

    mutating func put(_ s: StaticString) {
        (base + count).update(from: s.utf8Start, count: s.utf8CodeUnitCount)
        count += s.utf8CodeUnitCount
    }

    mutating func byte(_ b: UInt8) {
        base[count] = b
        count += 1
    }

    /// Decimal digits of an integer.
    mutating func int(_ v: Int64) {
        if v < 0 { byte(UInt8(ascii: "-")) }
        unsigned(v.magnitude, minDigits: 1)
    }

    /// Decimal digits of `v`, at least `minDigits` of them (zeros in front), written from the last digit back,
    /// two at a time.
    mutating func unsigned(_ v: UInt64, minDigits: Int) {
        let n = max(ByteWriter.digitCount(v), minDigits)
        let start = base + count
        var p = start + n
        var m = v
        while m >= 10 {
            let pair = Int(m % 100) &* 2
            m /= 100
            p -= 2
            p[0] = ByteWriter.pairs[pair]
            p[1] = ByteWriter.pairs[pair &+ 1]
        }
        if p > start {
            p -= 1
            p.pointee = UInt8(truncatingIfNeeded: m) &+ 0x30
            while p > start {
                p -= 1
                p.pointee = 0x30
            }
        }
        count += n
    }

    /// "00", "01", ... "99", back to back.
    private static let pairs: [UInt8] = (0..<100).flatMap { (n: Int) -> [UInt8] in [UInt8(n / 10) + 0x30, UInt8(n % 10) + 0x30] }
    /// 10^0 ... 10^19.
    private static let powersOfTen: [UInt64] = (0..<20).map { (n: Int) -> UInt64 in (0..<n).reduce(1) { p, _ in p * 10 } }

    /// How many decimal digits `v` has (1 for 0).
    static func digitCount(_ v: UInt64) -> Int {
        // log10(2) ~ 1233/4096: a first guess from the bit length, then one comparison.
        let guess = ((64 - v.leadingZeroBitCount) &* 1233) >> 12
        return max(1, guess + (v >= powersOfTen[guess] ? 1 : 0))
    }

    /// Seconds to the microsecond, trailing zeros of the fraction dropped: "12.25", "0.000001", "3".
    mutating func seconds(_ d: Double) {
        guard d.isFinite, abs(d) < 9e12 else { return byte(0x30) }
        let us = Int64((d * 1_000_000).rounded())
        if us < 0 { byte(UInt8(ascii: "-")) }
        let m = us.magnitude
        unsigned(m / 1_000_000, minDigits: 1)
        var frac = m % 1_000_000
        guard frac != 0 else { return }
        byte(UInt8(ascii: "."))
        var width = 6
        while frac % 10 == 0 {
            frac /= 10
            width -= 1
        }
        unsigned(frac, minDigits: width)
    }
}
