import JSON

extension RawEvent {
    /// Reads a segment line exactly as `ndjsonLine` writes it (members in that order, compact, the payload already
    /// in its stored form) without building its JSON value: how a controller keeps up with thousands of workers.
    /// Nil for any other text, which `init(ndjsonLine:)` then reads (and explains, if it is wrong).
    init?(canonicalLine line: UnsafeBufferPointer<UInt8>) {
        guard let (event, _) = Self.canonical(line) else { return nil }
        self = event
    }

    /// The same, with a canonical sample's figures (read in the pass that checks its payload, so that the ingest
    /// does not read it again for replay); nil figures for any other event.
    static func canonical(_ line: UnsafeBufferPointer<UInt8>) -> (event: RawEvent, figures: SampleFigures?)? {
        var r = LineReader(bytes: line)
        guard r.expect(#"{"id":"#), let id = r.plainString(where: EventID.isValid),
            r.expect(#","time":"#), let time = r.plainBytes().flatMap({ Timestamp(iso8601: $0) }),
            r.expect(#","task":"#), let task = r.plainStringOrNull(),
            r.expect(#","attempt":"#), let attempt = r.integerOrNull(),
            r.expect(#","type":"#), let type = r.plainString(), !type.isEmpty,
            r.expect(#","version":"#), let version = r.integerOrNull() ?? nil, version >= EventType.firstVersion,
            r.expect(#","payload":"#), r.current == UInt8(ascii: "{"), line.last == UInt8(ascii: "}")
        else { return nil }
        let payload = UnsafeBufferPointer(rebasing: line[r.i..<(line.count - 1)])
        // A sample as clowdr writes it is canonical by its own, cheaper check (samples are most of every segment).
        let figures = type == EventType.sample.rawValue ? Sample.canonicalFigures(payload) : nil
        guard figures != nil || CompactJSON.isCanonical(payload) else { return nil }
        let event = RawEvent(
            seq: nil, id: id, time: time, task: task, attempt: attempt.map { Int($0) }, type: type, version: Int(version),
            payload: String(decoding: payload, as: UTF8.self))
        return (event, figures)
    }
}

/// Reads the fixed envelope of a segment line.
private struct LineReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    var current: UInt8? { i < bytes.count ? bytes[i] : nil }

    mutating func expect(_ s: StaticString) -> Bool { CompactJSON.skip(s, in: bytes, at: &i) }

    /// A string of printable ASCII with no escapes (ids, times, task ids, types as clowdr writes them), its bytes
    /// read in place.
    mutating func plainBytes() -> UnsafeBufferPointer<UInt8>? {
        guard current == UInt8(ascii: "\"") else { return nil }
        let start = i + 1
        var j = start
        while j < bytes.count, bytes[j] != UInt8(ascii: "\"") {
            guard bytes[j] >= 0x20 && bytes[j] < 0x80 && bytes[j] != UInt8(ascii: "\\") else { return nil }
            j += 1
        }
        guard j < bytes.count else { return nil }
        i = j + 1
        return UnsafeBufferPointer(rebasing: bytes[start..<j])
    }

    /// The same as a string, when its bytes pass `check`.
    mutating func plainString(where check: (UnsafeBufferPointer<UInt8>) -> Bool = { _ in true }) -> String? {
        guard let b = plainBytes(), check(b) else { return nil }
        return String(decoding: b, as: UTF8.self)
    }

    /// `null`, or a plain string. Nil when neither; `.some(nil)` for null.
    mutating func plainStringOrNull() -> String?? {
        if expect("null") { return .some(nil) }
        return plainString().map { .some($0) }
    }

    /// `null`, or an integer as the writer writes it (no sign but `-`, no leading zeros). Nil when neither.
    mutating func integerOrNull() -> Int64?? {
        if expect("null") { return .some(nil) }
        var negative = false
        if current == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        let start = i
        var v: Int64 = 0
        while let c = current, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(c - UInt8(ascii: "0")))
            guard !o1 && !o2 else { return nil }
            v = a
            i += 1
        }
        guard i > start, !(bytes[start] == UInt8(ascii: "0") && i - start > 1) else { return nil }
        return .some(negative ? -v : v)
    }
}
