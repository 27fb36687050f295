import JSON

// The payloads written once per attempt, in bulk (`task_submitted` for every task of an array, `task_started` for
// every attempt), through the JSON module's writer instead of `JSONEncoder`: for 10,000 submissions, 23-45 ms
// instead of 65-126 ms, of an append of about 300 ms. The text is byte for byte what the Codable form gives
// (`EventBody.encode`: keys in byte order, nil fields left out, slashes unescaped); `PayloadJSONTests` compares them.

extension TaskSubmitted {
    /// The payload's JSON; nil when a resource's name is not ASCII (the Codable form then decides the order).
    func fastJSON() -> String? {
        var json = JSONObject()
        json["backend"] = .string(backend)
        json["native_id"] = nativeID.map(JSONValue.string)
        if let resources {
            guard resources.keys.allSatisfy({ $0.utf8.allSatisfy { $0 < 0x80 } }) else { return nil }
            json["resources"] = .object(JSONObject(resources.map { ($0.key, .string($0.value)) }))
        }
        return payloadWriter.string(.object(json))
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
