/// A JSON document as a value. Numbers keep the literal text they were written with (`1`, `1.0`, `1e-05`),
/// objects keep their keys in document order, so a document can be read and written back without change.
public enum JSONValue: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

/// A JSON number as written in the document. `literal` is the exact text; `double` and `int` interpret it.
public struct JSONNumber: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The number's text, exactly as in the source (`-0`, `1.50`, `2E+3`).
    public let literal: String

    public init(literal: String) { self.literal = literal }
    public init(_ value: Int) { literal = String(value) }
    public init(_ value: Int64) { literal = String(value) }
    /// Writes a Double with the shortest text that reads back to the same value.
    public init(_ value: Double) { literal = value.isFinite ? "\(value)" : "null" }

    /// True when the literal has no fraction and no exponent (`3`, `-12`).
    public var isIntegerLiteral: Bool { !literal.containsUTF8 { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } }
    /// The value as a Double.
    public var double: Double { Double(literal) ?? .nan }
    /// The value as an integer, when the literal is an integer that fits in 64 bits.
    public var int64: Int64? { isIntegerLiteral ? Int64(literal) : nil }
    public var description: String { literal }
}

/// A JSON object: keys in document order. A repeated key keeps its first position and its last value,
/// as Python's `json` module does.
public struct JSONObject: Sendable, Equatable, Hashable, Sequence {
    public private(set) var entries: [(key: String, value: JSONValue)]

    public init() { entries = [] }
    public init(_ entries: [(key: String, value: JSONValue)]) {
        self.entries = []
        for (k, v) in entries { self[k] = v }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }

    public subscript(key: String) -> JSONValue? {
        get { JSONObject.index(of: key, in: entries).map { entries[$0].value } }
        set {
            if let i = JSONObject.index(of: key, in: entries) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }

    /// The position of `key`: lengths first (O(1) for native strings), so most keys are told apart without
    /// comparing their text.
    private static func index(of key: String, in entries: [(key: String, value: JSONValue)]) -> Int? {
        let n = key.utf8.count
        return entries.firstIndex { $0.key.utf8.count == n && $0.key == key }
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> { entries.makeIterator() }

    /// Objects are equal when they have the same members, whatever their order (JSON objects are unordered).
    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.entries.count == b.entries.count && a.entries.allSatisfy { b[$0.key] == $0.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(entries.count)
        // Order-independent, to agree with ==.
        var combined = 0
        for (k, v) in entries {
            var h = Hasher()
            h.combine(k)
            h.combine(v)
            combined ^= h.finalize()
        }
        hasher.combine(combined)
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements.map { ($0.0, $0.1) }) }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(JSONNumber(value)) }
    public init(floatLiteral value: Double) { self = .number(JSONNumber(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements.map { ($0.0, $0.1) })) }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// The object's member `key`, or nil when this is not an object or has no such member.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { o[key] } else { nil }
    }

    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var numberValue: JSONNumber? { if case .number(let n) = self { n } else { nil } }
    public var int64Value: Int64? { numberValue?.int64 }
    public var doubleValue: Double? { numberValue?.double }
    public var isNull: Bool { self == .null }

    /// The JSON type's name as JSON Schema spells it: null, boolean, number, string, array, object.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
