public import JSON

// The payloads written once per attempt, in bulk (`task_submitted` for every task of an array, `task_started` and
// `task_exited` for every attempt), without `JSONEncoder`: `task_started` through the JSON module's writer,
// `task_submitted` and `task_exited` written straight (for 10,000 submissions, a few milliseconds where `JSONEncoder`
// took 65-126 ms). The text is byte for
// byte what the Codable form gives (`EventBody.encode`: keys in byte order, nil fields left out, slashes
// unescaped); `PayloadJSONTests` compares them.

extension TaskSubmitted {
    /// The payload's JSON, written straight (one per attempt of a submission); nil when a resource's name is not
    /// ASCII (the Codable form then decides the order).
    func fastJSON() -> String? {
        var keys: [String] = []
        if let resources {
            guard resources.keys.allSatisfy({ $0.utf8.allSatisfy { $0 < 0x80 } }) else { return nil }
            keys = resources.keys.sorted()  // ASCII: the same order as the bytes'
        }
        var out: [UInt8] = []
        out.append(contentsOf: #"{"backend":"#.utf8)
        JSONWriter.writeString(backend, into: &out)
        if let nativeID {
            out.append(contentsOf: #","native_id":"#.utf8)
            JSONWriter.writeString(nativeID, into: &out)
        }
        if let resources {
            out.append(contentsOf: #","resources":{"#.utf8)
            for (i, key) in keys.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                JSONWriter.writeString(resources[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

extension TaskStarted {
    /// The clowdr that started the attempt and the host's facts (v2; v3 the EC2 instance type and whether it is
    /// spot), as a JSON object of the fields it has: what the exports and the report show.
    public var hostFacts: JSONObject {
        var o = JSONObject()
        o["clowdr_version"] = clowdrVersion.map(JSONValue.string)
        o["cpu_model"] = cpuModel.map(JSONValue.string)
        o["cpus"] = cpus.map { .number(JSONNumber($0)) }
        o["memory"] = memory.map { .number(JSONNumber($0)) }
        o["kernel"] = kernel.map(JSONValue.string)
        o["os_release"] = osRelease.map(JSONValue.string)
        o["instance_type"] = instanceType.map(JSONValue.string)
        o["spot"] = spot.map(JSONValue.bool)
        return o
    }

    /// The payload's JSON.
    func fastJSON() -> String {
        var json = hostFacts
        json["boot_id"] = bootID.map(JSONValue.string)
        json["host"] = .string(host)
        json["pid"] = .number(JSONNumber(Int(pid)))
        return payloadWriter.string(.object(json))
    }
}

/// Compact, keys in byte order: the Codable form's layout.
private let payloadWriter = JSONWriter(sortKeys: true)

extension TaskExited {
    /// The payload's JSON, written straight (one per attempt); nil when a time is not finite (the Codable form then
    /// says why it cannot be written).
    func fastJSON() -> String? {
        guard wallTime.isFinite, cpuUser.isFinite, cpuSystem.isFinite else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(256 + outputs.count * 160)
        out.append(contentsOf: #"{"cpu_system":"#.utf8)
        Self.write(cpuSystem, into: &out)
        out.append(contentsOf: #","cpu_user":"#.utf8)
        Self.write(cpuUser, into: &out)
        if let exitCode { out.append(contentsOf: #","exit_code":\#(exitCode)"#.utf8) }
        if let failureReason {
            out.append(contentsOf: #","failure_reason":"#.utf8)
            JSONWriter.writeString(failureReason, into: &out)
        }
        out.append(contentsOf: #","outputs":["#.utf8)
        for (i, o) in outputs.enumerated() {
            out.append(contentsOf: (i == 0 ? #"{"id":"# : #",{"id":"#).utf8)
            JSONWriter.writeString(o.id, into: &out)
            out.append(contentsOf: #","path":"#.utf8)
            JSONWriter.writeString(o.path, into: &out)
            if let sha256 = o.sha256 {
                out.append(contentsOf: #","sha256":"#.utf8)
                JSONWriter.writeString(sha256, into: &out)
            }
            if let size = o.size { out.append(contentsOf: #","size":\#(size)"#.utf8) }
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: #"],"peak_rss":\#(peakRSS),"read_bytes":\#(readBytes)"#.utf8)
        if let signal { out.append(contentsOf: #","signal":\#(signal)"#.utf8) }
        out.append(contentsOf: #","wall_time":"#.utf8)
        Self.write(wallTime, into: &out)
        out.append(contentsOf: #","write_bytes":\#(writeBytes)}"#.utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// A finite Double as `JSONEncoder` writes it: Swift's shortest form, without a trailing ".0".
    static func write(_ value: Double, into out: inout [UInt8]) {
        let text = value.description
        out.append(contentsOf: text.hasSuffix(".0") ? text.utf8.dropLast(2) : text.utf8[...])
    }
}

// The same payloads read back without `JSONDecoder` (the controller reads every attempt's start and exit), through
// the JSON module's parser. A reader returns nil for anything but the plain form (a field of another type, a number
// that is not a plain integer where one is wanted, a time that is not finite): `JSONDecoder` then decides, so the
// outcome is always the Codable form's. `PayloadJSONTests` compares them.

/// True when some object of the payload has a key twice: the parser keeps the last value, `JSONDecoder` the first.
/// Every colon outside a string follows a key, so the payload's colons count the keys written, and the parsed
/// objects' sizes the keys kept.
private func hasDuplicateKeys(_ payload: String, _ value: JSONValue) -> Bool {
    var colons = 0
    var inString = false
    var escaped = false
    for b in payload.utf8 {
        if inString {
            if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
        } else if b == UInt8(ascii: "\"") {
            inString = true
        } else if b == UInt8(ascii: ":") {
            colons += 1
        }
    }
    func keys(_ v: JSONValue) -> Int {
        switch v {
        case .object(let o): o.count + o.reduce(0) { $0 + keys($1.value) }
        case .array(let a): a.reduce(0) { $0 + keys($1) }
        default: 0
        }
    }
    return colons != keys(value)
}

/// An optional string member: the string, nil when absent or null, and a failed read for anything else.
private func optionalString(_ value: JSONValue?) -> String?? {
    switch value {
    case nil, .null?: .some(nil)
    case .string(let s)?: .some(s)
    default: nil
    }
}

/// An optional boolean member, as `optionalString` does.
private func optionalBool(_ value: JSONValue?) -> Bool?? {
    switch value {
    case nil, .null?: .some(nil)
    case .bool(let b)?: .some(b)
    default: nil
    }
}

/// An optional integer member, as `optionalString` does.
private func optionalInteger(_ value: JSONValue?) -> Int64?? {
    switch value {
    case nil, .null?: .some(nil)
    case .number(let n)?: n.int64.map { .some($0) }
    default: nil
    }
}

/// A number member (a time), finite.
private func finiteDouble(_ value: JSONValue?) -> Double? {
    guard case .number(let n)? = value else { return nil }
    let d = n.double
    return d.isFinite ? d : nil
}

extension TaskSubmitted {
    static func parseFast(_ o: JSONObject) -> TaskSubmitted? {
        guard case .string(let backend)? = o["backend"], let nativeID = optionalString(o["native_id"]) else { return nil }
        var resources: [String: String]?
        switch o["resources"] {
        case nil, .null?: resources = nil
        case .object(let r)?:
            resources = [:]
            for (key, value) in r {
                guard case .string(let s) = value, resources!.updateValue(s, forKey: key) == nil else { return nil }
            }
        default: return nil
        }
        return TaskSubmitted(backend: backend, nativeID: nativeID, resources: resources)
    }
}

extension TaskStarted {
    static func parseFast(_ o: JSONObject) -> TaskStarted? {
        guard case .string(let host)? = o["host"], let pid = o["pid"]?.int64Value.flatMap({ Int32(exactly: $0) }),
            let bootID = optionalString(o["boot_id"]), let version = optionalString(o["clowdr_version"]), let model = optionalString(o["cpu_model"]),
            let cpus = optionalInteger(o["cpus"]), let memory = optionalInteger(o["memory"]), let kernel = optionalString(o["kernel"]),
            let osRelease = optionalString(o["os_release"]), let instanceType = optionalString(o["instance_type"]), let spot = optionalBool(o["spot"])
        else { return nil }
        return TaskStarted(
            host: host, pid: pid, bootID: bootID, clowdrVersion: version, cpuModel: model, cpus: cpus.flatMap { Int(exactly: $0) }, memory: memory,
            kernel: kernel, osRelease: osRelease, instanceType: instanceType, spot: spot)
    }
}

extension TaskExited {
    static func parseFast(_ o: JSONObject) -> TaskExited? {
        guard let wall = finiteDouble(o["wall_time"]), let user = finiteDouble(o["cpu_user"]), let system = finiteDouble(o["cpu_system"]),
            let peak = o["peak_rss"]?.int64Value, let read = o["read_bytes"]?.int64Value, let written = o["write_bytes"]?.int64Value,
            let exitCode = optionalInteger(o["exit_code"]), let signal = optionalInteger(o["signal"]),
            let failureReason = optionalString(o["failure_reason"]), case .array(let list)? = o["outputs"]
        else { return nil }
        var outputs: [OutputFile] = []
        outputs.reserveCapacity(list.count)
        for item in list {
            guard case .object(let f) = item, case .string(let id)? = f["id"], case .string(let path)? = f["path"],
                let size = optionalInteger(f["size"]), let sha256 = optionalString(f["sha256"])
            else { return nil }
            outputs.append(OutputFile(id: id, path: path, size: size, sha256: sha256))
        }
        guard exitCode.map({ Int32(exactly: $0) != nil }) ?? true, signal.map({ Int32(exactly: $0) != nil }) ?? true else { return nil }
        return TaskExited(
            exitCode: exitCode.map { Int32($0) }, signal: signal.map { Int32($0) }, wallTime: wall, cpuUser: user, cpuSystem: system,
            peakRSS: peak, readBytes: read, writeBytes: written, outputs: outputs, failureReason: failureReason)
    }
}

extension EventBody {
    /// The per-attempt lifecycle payloads read without `JSONDecoder`; nil for another type, or a payload not in the
    /// plain form.
    static func parseFast(_ type: EventType, payload: String) -> EventBody? {
        guard type == .taskStarted || type == .taskExited || type == .taskSubmitted,
            let value = try? JSONParser.parse(payload), case .object(let o) = value, !hasDuplicateKeys(payload, value)
        else { return nil }
        switch type {
        case .taskStarted: return TaskStarted.parseFast(o).map(EventBody.taskStarted)
        case .taskExited: return TaskExited.parseFast(o).map(EventBody.taskExited)
        default: return TaskSubmitted.parseFast(o).map(EventBody.taskSubmitted)
        }
    }
}

extension TaskPlanned {
    /// The payload's JSON, written straight (one per task, all in the transaction that plans the experiment); nil
    /// when a key is not ASCII (the Codable form then decides the order) or a number is not finite.
    func fastJSON() -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(contentsOf: #"{"command_line":"#.utf8)
        JSONWriter.writeString(commandLine, into: &out)
        out.append(contentsOf: #","invocation":"#.utf8)
        guard Self.write(invocation, into: &out) else { return nil }
        out.append(contentsOf: #","labels":{"#.utf8)
        guard labels.keys.allSatisfy(Self.isASCII) else { return nil }
        for (i, key) in labels.keys.sorted().enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.writeString(key, into: &out)
            out.append(UInt8(ascii: ":"))
            JSONWriter.writeString(labels[key]!, into: &out)
        }
        out.append(UInt8(ascii: "}"))
        if let source {
            out.append(contentsOf: #","source":"#.utf8)
            JSONWriter.writeString(source, into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    static func isASCII(_ key: String) -> Bool { key.utf8.allSatisfy { $0 < 0x80 } }

    /// Free-form JSON as its Codable form writes it (`JSONValue+Codable.swift`): integers as integers, other numbers
    /// as `JSONEncoder` writes a Double, object keys in byte order. False when it cannot (see `fastJSON`).
    static func write(_ value: JSONValue, into out: inout [UInt8]) -> Bool {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n):
            if let i = n.int64 {
                out.append(contentsOf: String(i).utf8)
            } else {
                guard n.double.isFinite else { return false }
                TaskExited.write(n.double, into: &out)
            }
        case .string(let s): JSONWriter.writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                guard write(item, into: &out) else { return false }
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            guard o.keys.allSatisfy(isASCII) else { return false }
            out.append(UInt8(ascii: "{"))
            for (i, key) in o.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                guard write(o[key]!, into: &out) else { return false }
            }
            out.append(UInt8(ascii: "}"))
        }
        return true
    }
}

extension TaskFiles {
    /// The payload's JSON, as the log stores it.
    public var payloadJSON: String { fastJSON() }

    /// The payload's JSON, written straight (one per attempt, with hundreds to thousands of files: `JSONEncoder`
    /// took tens of milliseconds for 10,000).
    func fastJSON() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64 + files.count * 160)
        out.append(UInt8(ascii: "{"))
        if let calls { out.append(contentsOf: #""calls":\#(calls),"#.utf8) }
        if let cwd {
            out.append(contentsOf: #""cwd":"#.utf8)
            JSONWriter.writeString(cwd, into: &out)
            out.append(UInt8(ascii: ","))
        }
        out.append(contentsOf: #""files":"#.utf8)
        FileUse.write(files, into: &out)
        if let reason {
            out.append(contentsOf: #","reason":"#.utf8)
            JSONWriter.writeString(reason, into: &out)
        }
        out.append(contentsOf: #","sets":["#.utf8)
        for (i, set) in sets.enumerated() {
            out.append(contentsOf: (i == 0 ? "{" : ",{").utf8)
            if let files = set.files {
                out.append(contentsOf: #""files":"#.utf8)
                FileUse.write(files, into: &out)
                out.append(UInt8(ascii: ","))
            }
            out.append(contentsOf: #""id":"#.utf8)
            JSONWriter.writeString(set.id, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: #"],"traced":\#(traced)"#.utf8)
        if let undeclared {
            out.append(contentsOf: #","undeclared":["#.utf8)
            for (i, path) in undeclared.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeString(path, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

extension FileUse {
    /// Uses as a JSON array, as their Codable form writes them (keys in byte order, nil fields left out): the form a
    /// set's id is the SHA-256 of.
    public static func write(_ uses: [FileUse], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, u) in uses.enumerated() {
            out.append(UInt8(ascii: i == 0 ? "{" : ","))
            if i > 0 { out.append(UInt8(ascii: "{")) }
            if let image = u.image {
                out.append(contentsOf: #""image":"#.utf8)
                JSONWriter.writeString(image, into: &out)
                out.append(UInt8(ascii: ","))
            }
            out.append(contentsOf: #""kind":""#.utf8)
            out.append(contentsOf: u.kind.rawValue.utf8)
            out.append(UInt8(ascii: "\""))
            if let mtimeNs = u.mtimeNs { out.append(contentsOf: #","mtime_ns":\#(mtimeNs)"#.utf8) }
            out.append(contentsOf: #","path":"#.utf8)
            JSONWriter.writeString(u.path, into: &out)
            if let sha256 = u.sha256 {
                out.append(contentsOf: #","sha256":"#.utf8)
                JSONWriter.writeString(sha256, into: &out)
            }
            if let size = u.size { out.append(contentsOf: #","size":\#(size)"#.utf8) }
            if let to = u.to {
                out.append(contentsOf: #","to":"#.utf8)
                JSONWriter.writeString(to, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
    }
}
