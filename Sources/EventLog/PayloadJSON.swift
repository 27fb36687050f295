import JSON

// The payloads written once per attempt, in bulk (`task_submitted` for every task of an array, `task_started` for
// every attempt), without `JSONEncoder`: `task_started` through the JSON module's writer, `task_submitted` written
// straight (for 10,000 submissions, a few milliseconds where `JSONEncoder` took 65-126 ms). The text is byte for
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
    /// The payload's JSON.
    func fastJSON() -> String {
        var json = JSONObject()
        json["boot_id"] = bootID.map(JSONValue.string)
        json["host"] = .string(host)
        json["pid"] = .number(JSONNumber(Int(pid)))
        return payloadWriter.string(.object(json))
    }
}

/// Compact, keys in byte order: the Codable form's layout.
private let payloadWriter = JSONWriter(sortKeys: true)
