import Foundation

/// What replay reads of a sample: the tree's RSS and its cumulative CPU and I/O (an attempt's figures while its
/// worker has reported no exit).
public struct SampleFigures: Sendable, Equatable {
    public var rss: Int64?
    public var cpuUser: Double?
    public var cpuSystem: Double?
    public var readBytes: Int64?
    public var writeBytes: Int64?

    public init(rss: Int64?, cpuUser: Double? = nil, cpuSystem: Double? = nil, readBytes: Int64? = nil, writeBytes: Int64? = nil) {
        self.rss = rss
        self.cpuUser = cpuUser
        self.cpuSystem = cpuSystem
        self.readBytes = readBytes
        self.writeBytes = writeBytes
    }

    /// A typed sample's figures as its stored form reads back (seconds to the microsecond, as the writer writes
    /// them), so that appending and replaying give the same projection to the last bit.
    init(_ s: Sample) {
        self.init(
            rss: s.rss, cpuUser: Self.asWritten(s.cpuUser), cpuSystem: Self.asWritten(s.cpuSystem), readBytes: s.readBytes, writeBytes: s.writeBytes)
    }

    static func asWritten(_ seconds: Double) -> Double {
        guard seconds.isFinite, abs(seconds) < 9e12 else { return 0 }
        return Double(Int64((seconds * 1_000_000).rounded())) / 1_000_000
    }
}

extension Sample {
    /// The figures of a sample payload, read in one pass without building the whole object (replay reads millions).
    static func fastFigures(_ payload: String) -> SampleFigures {
        var payload = payload
        return payload.withUTF8 { fastFigures($0) }
    }

    /// The same, from UTF-8 bytes: each `"key":number` member read in place; a field that is missing or not a plain
    /// decimal number is nil.
    static func fastFigures(_ b: UnsafeBufferPointer<UInt8>) -> SampleFigures {
        var f = SampleFigures(rss: nil)
        let n = b.count
        var i = 0
        while i < n {
            guard b[i] == 0x22 else {
                i += 1
                continue
            }
            // A key: its bytes up to the closing quote, then ':' and a number.
            let keyStart = i + 1
            var j = keyStart
            while j < n, b[j] != 0x22 { j += 1 }
            let keyEnd = j
            guard j + 1 < n, b[j + 1] == 0x3A else { return f }
            j += 2
            let (value, isInteger, end) = number(b, from: j)
            i = end
            guard let value else { continue }
            switch key(b, keyStart, keyEnd) {
            case 1 where isInteger: f.rss = Int64(value)
            case 2: f.cpuUser = value
            case 3: f.cpuSystem = value
            case 4 where isInteger: f.readBytes = Int64(value)
            case 5 where isInteger: f.writeBytes = Int64(value)
            default: break
            }
        }
        return f
    }

    /// Which figure a key names: 1 rss, 2 cpu_user, 3 cpu_system, 4 read_bytes, 5 write_bytes, 0 another.
    static func key(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        func equals(_ s: StaticString) -> Bool {
            guard end - start == s.utf8CodeUnitCount else { return false }
            for k in 0..<s.utf8CodeUnitCount where b[start + k] != s.utf8Start[k] { return false }
            return true
        }
        switch end - start {
        case 3: return equals("rss") ? 1 : 0
        case 8: return equals("cpu_user") ? 2 : 0
        case 10: return equals("cpu_system") ? 3 : (equals("read_bytes") ? 4 : 0)
        case 11: return equals("write_bytes") ? 5 : 0
        default: return 0
        }
    }

    /// A plain decimal number (`123`, `0.25`) at `i`: its value, whether it had no fraction, and where it ends. Nil
    /// for anything else (a sign, an exponent, more than 18 digits), which is then left unread.
    static func number(_ b: UnsafeBufferPointer<UInt8>, from start: Int) -> (Double?, Bool, Int) {
        var i = start
        var whole: Int64 = 0
        var digits = 0
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
            whole = whole &* 10 &+ Int64(b[i] - 0x30)
            digits += 1
            i += 1
        }
        var fraction: Int64 = 0
        var scale: Int64 = 1
        var isInteger = true
        if i < b.count, b[i] == 0x2E {
            isInteger = false
            i += 1
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if scale < 1_000_000_000_000 {
                    fraction = fraction * 10 + Int64(b[i] - 0x30)
                    scale *= 10
                }
                i += 1
            }
        }
        let plain = digits > 0 && digits < 19 && (i == b.count || b[i] == 0x2C || b[i] == 0x7D)
        while i < b.count, b[i] != 0x2C, b[i] != 0x7D { i += 1 }
        guard plain else { return (nil, false, i) }
        // whole.fraction as one exact integer over a power of ten: the correctly rounded value, as `asWritten` gives.
        return (isInteger ? Double(whole) : Double(whole &* scale &+ fraction) / Double(scale), isInteger, i)
    }
}

extension Sample {
    /// The members of a sample payload as clowdr writes it, in order (`"key":`), and which are integers (bit k).
    static let canonicalKeys: [StaticString] = [
        #""cpu_system":"#, #""cpu_user":"#, #""processes":"#, #""read_bytes":"#, #""rss":"#, #""threads":"#, #""vms":"#, #""write_bytes":"#,
    ]
    static let integerMembers: UInt8 = 0b1111_1100

    /// Whether a sample payload is exactly as clowdr writes it: its eight members in order, each a non-negative plain
    /// number (an integer where the schema says so). Such a payload is valid against its schema; read in place,
    /// without building anything (ingest checks millions).
    static func isCanonical(_ payload: String) -> Bool {
        var payload = payload
        return payload.withUTF8 { isCanonical($0) }
    }

    /// The same, of the payload's bytes. Such a payload is canonical compact JSON too.
    static func isCanonical(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        canonicalFigures(b) != nil
    }

    /// The figures of a canonical sample payload (those `fastFigures` reads of it), read in the pass that checks it;
    /// nil when the payload is not canonical.
    static func canonicalFigures(_ b: UnsafeBufferPointer<UInt8>) -> SampleFigures? {
        var f = SampleFigures(rss: nil)
        let n = b.count
        guard n >= 2, b[0] == UInt8(ascii: "{"), b[n - 1] == UInt8(ascii: "}") else { return nil }
        var i = 1
        for k in 0..<8 {
            if k > 0 {
                guard i < n, b[i] == UInt8(ascii: ",") else { return nil }
                i += 1
            }
            let key = canonicalKeys[k]
            let length = key.utf8CodeUnitCount
            guard i + length <= n, memcmp(b.baseAddress! + i, key.utf8Start, length) == 0 else { return nil }
            i += length
            let start = i
            while i < n, b[i] &- 0x30 < 10 { i += 1 }
            // JSON's numbers: no leading zero (then this check implies CompactJSON's).
            guard i > start, i - start < 19, b[start] != UInt8(ascii: "0") || i - start == 1 else { return nil }
            if integerMembers & (1 << k) == 0, i < n, b[i] == UInt8(ascii: ".") {
                i += 1
                let fraction = i
                while i < n, b[i] &- 0x30 < 10 { i += 1 }
                guard i > fraction else { return nil }
            }
            // The figures replay reads (cpu_system, cpu_user, read_bytes, rss, write_bytes), as `number` reads them.
            switch k {
            case 0: f.cpuSystem = number(b, from: start).0
            case 1: f.cpuUser = number(b, from: start).0
            case 3: f.readBytes = number(b, from: start).0.map { Int64($0) }
            case 4: f.rss = number(b, from: start).0.map { Int64($0) }
            case 7: f.writeBytes = number(b, from: start).0.map { Int64($0) }
            default: break
            }
        }
        return i == n - 1 ? f : nil
    }
}
