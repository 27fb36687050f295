import JSON

// Hand-written JSON for the payloads written once per attempt, in bulk (`task_submitted` for every task of an array,
// `task_started` for every attempt): `JSONEncoder` took about 60% of the time of appending 10,000 submissions.
// The text is byte for byte what the Codable form gives (`EventBody.encode`: keys in byte order, nil fields left
// out, slashes unescaped); `PayloadJSONTests` compares the two.

extension TaskSubmitted {
    /// The payload's JSON; nil when a resource's name is not ASCII (the Codable form then decides the order).
    func fastJSON() -> String? {
        var json = ObjectText()
        json.member("backend", string: backend)
        if let nativeID { json.member("native_id", string: nativeID) }
        if let resources {
            guard resources.keys.allSatisfy({ $0.utf8.allSatisfy { $0 < 0x80 } }) else { return nil }
            var inner = ObjectText()
            for key in resources.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) { inner.member(key, string: resources[key]!) }
            json.member("resources", raw: inner.closed())
        }
        return String(decoding: json.closed(), as: UTF8.self)
    }
}

extension TaskStarted {
    /// The payload's JSON.
    func fastJSON() -> String {
        var json = ObjectText()
        if let bootID { json.member("boot_id", string: bootID) }
        json.member("host", string: host)
        json.member("pid", raw: Array(String(pid).utf8))
        return String(decoding: json.closed(), as: UTF8.self)
    }
}

/// The text of one JSON object, its members written in the order given (the caller gives them sorted).
private struct ObjectText {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]

    private mutating func name(_ name: String) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        JSONWriter.writeString(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func member(_ name: String, string value: String) {
        self.name(name)
        JSONWriter.writeString(value, into: &bytes)
    }

    /// A member whose value is already JSON text.
    mutating func member(_ name: String, raw value: [UInt8]) {
        self.name(name)
        bytes += value
    }

    func closed() -> [UInt8] { bytes + [UInt8(ascii: "}")] }
}
