#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A point in time: microseconds since 1970-01-01T00:00:00Z (UTC). Written as ISO 8601 with six fraction digits,
/// `2026-11-22T18:27:19.123456Z`.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Microseconds since the Unix epoch, UTC.
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }
    public init(seconds: Double) { self.microseconds = Int64((seconds * 1_000_000).rounded()) }

    /// Seconds since the Unix epoch.
    public var seconds: Double { Double(microseconds) / 1_000_000 }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.microseconds < b.microseconds }

    /// Seconds from `self` to `later`.
    public func seconds(until later: Timestamp) -> Double { Double(later.microseconds - microseconds) / 1_000_000 }

    public func adding(seconds: Double) -> Timestamp { Timestamp(microseconds: microseconds + Int64((seconds * 1_000_000).rounded())) }

    // MARK: ISO 8601

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    public var iso8601: String {
        var out: [UInt8] = []
        writeISO8601(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `YYYY-MM-DDTHH:MM:SS.ffffffZ` to `out`, digit by digit (no string is made: a segment line holds one).
    public func writeISO8601(into out: inout [UInt8]) {
        var us = microseconds % 1_000_000
        var secs = microseconds / 1_000_000
        if us < 0 {
            us += 1_000_000
            secs -= 1
        }
        var days = secs / 86_400
        var rem = secs % 86_400
        if rem < 0 {
            rem += 86_400
            days -= 1
        }
        let (y, m, d) = Timestamp.civil(fromDays: days)
        if !(0...9999).contains(y) {
            // Years outside 0...9999, as the text form always wrote them: zeros before the sign and digits.
            let text = String(y)
            for _ in text.utf8.count..<max(4, text.utf8.count) { out.append(UInt8(ascii: "0")) }
            out.append(contentsOf: text.utf8)
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            var w = ByteWriter(base: buffer.baseAddress!)
            if (0...9999).contains(y) { w.unsigned(UInt64(y), minDigits: 4) }
            func field(_ separator: Unicode.Scalar, _ value: Int64, _ digits: Int) {
                w.byte(UInt8(ascii: separator))
                w.unsigned(UInt64(value), minDigits: digits)
            }
            field("-", m, 2)
            field("-", d, 2)
            field("T", rem / 3600, 2)
            field(":", rem / 60 % 60, 2)
            field(":", rem % 60, 2)
            field(".", us, 6)
            w.byte(UInt8(ascii: "Z"))
            out.append(contentsOf: UnsafeBufferPointer(start: buffer.baseAddress, count: w.count))
        }
    }

    public var description: String { iso8601 }

    /// Reads `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)`. Returns nil for anything else.
    public init?(iso8601 text: String) {
        var text = text
        guard let t = text.withUTF8({ Timestamp(iso8601: $0) }) else { return nil }
        self = t
    }

    /// The same, from the text's UTF-8 bytes (a segment line's, read in place).
    init?(iso8601 b: UnsafeBufferPointer<UInt8>) {
        func num(_ from: Int, _ n: Int) -> Int64? {
            guard from + n <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + n) {
                guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                v = v * 10 + Int64(b[i] - 0x30)
            }
            return v
        }
        guard b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54 || b[10] == 0x20, b[13] == 0x3A, b[16] == 0x3A,
            let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2), let s = num(17, 2),
            (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var us: Int64 = 0
        if i < b.count, b[i] == 0x2E {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if digits < 6 { us = us * 10 + Int64(b[i] - 0x30) }
                digits += 1
                i += 1
            }
            guard digits > 0, digits <= 9 else { return nil }
            for _ in digits..<6 where digits < 6 { us *= 10 }
        }
        var offset: Int64 = 0
        guard i < b.count else { return nil }
        if b[i] == 0x5A {
            i += 1
        } else if b[i] == 0x2B || b[i] == 0x2D, let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == 0x3A, let om = num(i + 4, 2) {
            offset = (oh * 60 + om) * 60 * (b[i] == 0x2B ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = Timestamp.days(fromCivil: y, mo, d)
        microseconds = ((days * 86_400 + h * 3600 + mi * 60 + s) - offset) * 1_000_000 + us
    }

    // Howard Hinnant's days-from-civil algorithms (proleptic Gregorian calendar).
    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let t = Timestamp(iso8601: text) else {
            throw DecodingError.dataCorruptedError(
                in: c, debugDescription: "expected an ISO 8601 UTC time such as 2026-11-22T18:27:19.123456Z, found \"\(text)\"")
        }
        self = t
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(iso8601)
    }
}

/// Where the current time comes from. Injected so that logs and exports are deterministic in tests.
public protocol TimeSource: Sendable {
    /// The current time.
    func now() -> Timestamp
}

/// The system's real-time clock.
public struct SystemClock: TimeSource {
    public init() {}
    public func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(microseconds: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)
    }
}

/// A clock for tests: starts at a fixed time and advances by a fixed step at every reading.
public final class SteppingClock: TimeSource, @unchecked Sendable {
    private let lock = Lock()
    private var current: Timestamp
    private let step: Int64

    public init(start: Timestamp = Timestamp(microseconds: 1_800_000_000_000_000), stepMicroseconds: Int64 = 1000) {
        current = start
        step = stepMicroseconds
    }

    public func now() -> Timestamp {
        lock.withLock {
            let t = current
            current.microseconds += step
            return t
        }
    }
}
