/// A value bound to a statement parameter or read from a column.
public enum SQLiteValue: Sendable, Equatable, Hashable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var description: String {
        switch self {
        case .null: "NULL"
        case .integer(let v): String(v)
        case .real(let v): String(v)
        case .text(let v): v
        case .blob(let v): "<\(v.count) bytes>"
        }
    }
}

extension SQLiteValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByNilLiteral {
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(nilLiteral: ()) { self = .null }
}

extension SQLiteValue {
    /// `.text(s)` for a string, `.null` for nil.
    @inlinable public static func text(_ value: String?) -> SQLiteValue { if let value { .text(value) } else { .null } }
    /// `.integer(v)` for a number, `.null` for nil.
    @inlinable public static func integer(_ value: Int64?) -> SQLiteValue { if let value { .integer(value) } else { .null } }
    @inlinable public static func integer(_ value: Int?) -> SQLiteValue { if let value { .integer(Int64(value)) } else { .null } }
    @inlinable public static func integer(_ value: Int32?) -> SQLiteValue { if let value { .integer(Int64(value)) } else { .null } }
    /// `.real(v)` for a number, `.null` for nil.
    @inlinable public static func real(_ value: Double?) -> SQLiteValue { if let value { .real(value) } else { .null } }

    /// The integer, if this is one.
    public var int64: Int64? { if case .integer(let v) = self { v } else { nil } }
    /// The number as a Double, if this is an integer or a real.
    public var double: Double? {
        switch self {
        case .integer(let v): Double(v)
        case .real(let v): v
        default: nil
        }
    }
    /// The text, if this is text.
    public var string: String? { if case .text(let v) = self { v } else { nil } }
}
