#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A globally unique, time-ordered event id: a ULID, 26 characters of Crockford base 32 (48 bits of
/// milliseconds since the epoch, then 80 bits that are random per process and increase within a millisecond).
/// Ids made later sort later as text, and two processes never make the same id.
public struct EventID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The 26-character text.
    public let text: String

    /// Accepts exactly 26 characters of Crockford base 32 (upper case), the form this type writes.
    public init?(_ text: String) {
        var text = text
        guard text.withUTF8(EventID.isValid) else { return nil }
        self.text = text
    }

    /// Whether bytes are an id's text: 26 characters of the ULID alphabet.
    static func isValid(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard b.count == 26 else { return false }
        return decodeTable.withUnsafeBufferPointer { table in b.allSatisfy { table[Int($0)] != 0xFF } }
    }

    init(unchecked text: String) { self.text = text }

    public var description: String { text }
    public static func < (a: EventID, b: EventID) -> Bool { a.text < b.text }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let id = EventID(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a 26-character ULID, found \"\(s)\"")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }

    static let alphabet: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    static let decodeTable: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    /// Encodes 48 bits of milliseconds and 80 bits of randomness.
    static func make(milliseconds: UInt64, high: UInt16, low: UInt64) -> EventID {
        // 128 bits: ms(48) | high(16) | low(64); emitted as 26 base-32 digits (the first carries 3 bits).
        var out = [UInt8](repeating: 0, count: 26)
        let hi: UInt64 = (milliseconds << 16) | UInt64(high)  // top 64 bits
        let lo: UInt64 = low  // bottom 64 bits
        for i in 0..<26 {
            let shift = 125 - 5 * i  // bit position of this digit's lowest bit
            var v: UInt64
            if shift >= 64 {
                v = hi >> UInt64(shift - 64)
            } else if shift + 5 <= 64 {
                v = lo >> UInt64(shift)
            } else {
                v = (lo >> UInt64(shift)) | (hi << UInt64(64 - shift))
            }
            v &= 0x1F
            out[i] = alphabet[Int(v)]
        }
        return EventID(unchecked: String(decoding: out, as: UTF8.self))
    }
}

/// Where event ids come from. Injected so that logs and exports are deterministic in tests.
public protocol IDSource: Sendable {
    /// A new id for an event that happens at `time`.
    func next(at time: Timestamp) -> EventID
}

/// Random, monotonic ULIDs: the production id source.
public final class ULIDSource: IDSource, @unchecked Sendable {
    private let lock = Lock()
    private var lastMillis: UInt64 = 0
    private var high: UInt16 = 0
    private var low: UInt64 = 0
    private var rng: SplitMix64

    public init() {
        var system = SystemRandomNumberGenerator()
        rng = SplitMix64(seed: system.next() ^ UInt64(getpid()))
    }

    public func next(at time: Timestamp) -> EventID {
        lock.withLock {
            let ms = UInt64(max(0, time.microseconds / 1000))
            if ms > lastMillis {
                lastMillis = ms
                high = UInt16(truncatingIfNeeded: rng.next())
                low = rng.next() >> 1  // leave headroom so increments within one millisecond never overflow
            } else {
                // Same (or earlier: the clock stepped back) millisecond: keep order by incrementing.
                low &+= 1 + (rng.next() & 0xFFFF)
            }
            return EventID.make(milliseconds: lastMillis, high: high, low: low)
        }
    }
}

/// Ids for tests: the time's milliseconds and a counter, so the same sequence of calls gives the same ids.
public final class SequentialIDSource: IDSource, @unchecked Sendable {
    private let lock = Lock()
    private var counter: UInt64 = 0
    private let stream: UInt16

    /// `stream` tells apart the ids of several sources used in one test (several "processes").
    public init(stream: UInt16 = 0) { self.stream = stream }

    public func next(at time: Timestamp) -> EventID {
        lock.withLock {
            counter += 1
            return EventID.make(milliseconds: UInt64(max(0, time.microseconds / 1000)), high: stream, low: counter)
        }
    }
}

/// A small, fast, seeded pseudo-random generator (SplitMix64): the random part of event ids, and deterministic
/// data for tests and benchmarks. Not for secrets.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
