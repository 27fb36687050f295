public import ClowdrErrors

/// Why a document could not be read: what was wrong and where (1-based line and column, and byte offset).
public struct JSONParseError: CodedError, Equatable {
    public var errorCode: String { "json.parse" }
    public var isUsageError: Bool { true }

    /// A stable identifier for the kind of problem.
    public enum Code: String, Sendable {
        case syntax = "json.syntax"
        case tooDeep = "json.too_deep"
        case tooLarge = "json.too_large"
        case invalidUTF8 = "json.invalid_utf8"
    }
    public let code: Code
    public let message: String
    public let line: Int
    public let column: Int
    public let offset: Int

    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A strict RFC 8259 parser over UTF-8 bytes, with limits on size and nesting so that hostile input cannot
/// exhaust the stack or memory.
public struct JSONParser {
    /// Limits applied while parsing.
    public struct Limits: Sendable {
        /// The largest document accepted, in bytes.
        public var maxBytes: Int
        /// The deepest nesting of arrays and objects accepted.
        public var maxDepth: Int
        public init(maxBytes: Int = 64 << 20, maxDepth: Int = 256) {
            self.maxBytes = maxBytes
            self.maxDepth = maxDepth
        }
        public static let `default` = Limits()
    }

    /// Parses a whole document; anything but white space after the value is an error.
    public static func parse(_ text: String, limits: Limits = .default) throws(JSONParseError) -> JSONValue {
        var text = text
        return try text.withUTF8 { buf in Result { () throws(JSONParseError) -> JSONValue in try parse(buf, limits: limits) } }.get()
    }

    /// Parses a whole document from bytes.
    public static func parse(_ bytes: [UInt8], limits: Limits = .default) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buf in Result { () throws(JSONParseError) -> JSONValue in try parse(buf, limits: limits) } }.get()
    }

    /// Parses a whole document from a buffer of UTF-8 bytes.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, limits: Limits = .default) throws(JSONParseError) -> JSONValue {
        var p = Cursor(bytes: bytes, limits: limits)
        if bytes.count > limits.maxBytes {
            throw p.error(.tooLarge, "the document is \(bytes.count) bytes, more than the limit of \(limits.maxBytes)", at: 0)
        }
        // A byte-order mark is tolerated at the start, as Python's json does not, but editors write it.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { p.i = 3 }
        p.skipSpace()
        let value = try p.value(depth: 0)
        p.skipSpace()
        if p.i < bytes.count { throw p.error(.syntax, "unexpected \(p.describe(p.i)) after the end of the document") }
        return value
    }
}

private struct Cursor {
    let bytes: UnsafeBufferPointer<UInt8>
    let limits: JSONParser.Limits
    var i = 0

    init(bytes: UnsafeBufferPointer<UInt8>, limits: JSONParser.Limits) {
        self.bytes = bytes
        self.limits = limits
    }

    func error(_ code: JSONParseError.Code, _ message: String, at offset: Int? = nil) -> JSONParseError {
        let at = min(offset ?? i, bytes.count)
        var line = 1
        var lineStart = 0
        for j in 0..<at where bytes[j] == 0x0A {
            line += 1
            lineStart = j + 1
        }
        // Columns count characters, not bytes: skip UTF-8 continuation bytes.
        var column = 1
        for j in lineStart..<at where bytes[j] & 0xC0 != 0x80 { column += 1 }
        return JSONParseError(code: code, message: message, line: line, column: column, offset: at)
    }

    func describe(_ at: Int) -> String {
        guard at < bytes.count else { return "end of input" }
        let b = bytes[at]
        if b >= 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(String(b, radix: 16, uppercase: true))"
    }

    mutating func skipSpace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard i < bytes.count else { throw error(.syntax, "expected a value, found end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error(.syntax, "expected a value, found \(describe(i))")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        let w = UnsafeBufferPointer(start: word.utf8Start, count: n)
        guard i + n <= bytes.count, (0..<n).allSatisfy({ bytes[i + $0] == w[$0] }) else {
            throw error(.syntax, "expected '\(word)', found \(describe(i))")
        }
        i += n
    }

    mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > limits.maxDepth { throw error(.tooDeep, "nesting deeper than the limit of \(limits.maxDepth)") }
        i += 1
        var obj = JSONObject()
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return .object(obj)
        }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                throw error(.syntax, "expected a member name in double quotes, found \(describe(i))")
            }
            let key = try string()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else {
                throw error(.syntax, "expected ':' after member name \"\(key)\", found \(describe(i))")
            }
            i += 1
            skipSpace()
            obj[key] = try value(depth: depth)
            skipSpace()
            guard i < bytes.count else { throw error(.syntax, "unterminated object: expected ',' or '}', found end of input") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if bytes[i] == UInt8(ascii: "}") {
                i += 1
                return .object(obj)
            }
            throw error(.syntax, "expected ',' or '}' in object, found \(describe(i))")
        }
    }

    mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > limits.maxDepth { throw error(.tooDeep, "nesting deeper than the limit of \(limits.maxDepth)") }
        i += 1
        var items: [JSONValue] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            return .array(items)
        }
        while true {
            skipSpace()
            items.append(try value(depth: depth))
            skipSpace()
            guard i < bytes.count else { throw error(.syntax, "unterminated array: expected ',' or ']', found end of input") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if bytes[i] == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            }
            throw error(.syntax, "expected ',' or ']' in array, found \(describe(i))")
        }
    }

    mutating func number() throws(JSONParseError) -> JSONNumber {
        let start = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        func isDigit(_ j: Int) -> Bool { j < bytes.count && bytes[j] >= 0x30 && bytes[j] <= 0x39 }
        guard isDigit(i) else { throw error(.syntax, "expected a digit in number, found \(describe(i))") }
        if bytes[i] == 0x30 {
            i += 1
            if isDigit(i) { throw error(.syntax, "a number cannot have a leading zero") }
        } else {
            while isDigit(i) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard isDigit(i) else { throw error(.syntax, "expected a digit after the decimal point, found \(describe(i))") }
            while isDigit(i) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard isDigit(i) else { throw error(.syntax, "expected a digit in the exponent, found \(describe(i))") }
            while isDigit(i) { i += 1 }
        }
        return JSONNumber(literal: String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
    }

    mutating func string() throws(JSONParseError) -> String {
        let open = i
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<i])
                i += 1
                return try validated(slice, at: start)
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error(.syntax, "a control character (\(describe(i))) must be escaped in a string") }
            i += 1
        }
        var out: [UInt8] = Array(UnsafeBufferPointer(rebasing: bytes[start..<min(i, bytes.count)]))
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "\""):
                i += 1
                guard let s = String(validating: out, as: UTF8.self) else {
                    throw error(.invalidUTF8, "a string is not valid UTF-8", at: start)
                }
                return s
            case UInt8(ascii: "\\"):
                i += 1
                guard i < bytes.count else { break }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        // A high surrogate must be followed by a low one.
                        if i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                            i += 2
                            let low = try hex4()
                            guard low >= 0xDC00 && low < 0xE000 else { throw error(.syntax, "invalid low surrogate in \\u escape") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            scalar = 0xFFFD
                        }
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        scalar = 0xFFFD
                    }
                    appendUTF8(Unicode.Scalar(scalar) ?? "\u{FFFD}", to: &out)
                default:
                    throw error(.syntax, "invalid escape '\\\(Character(Unicode.Scalar(e)))' in string", at: i - 2)
                }
            default:
                if b < 0x20 { throw error(.syntax, "a control character (\(describe(i))) must be escaped in a string") }
                out.append(b)
                i += 1
            }
        }
        throw error(.syntax, "unterminated string", at: open)
    }

    func validated(_ buf: UnsafeBufferPointer<UInt8>, at offset: Int) throws(JSONParseError) -> String {
        guard let s = String(validating: buf, as: UTF8.self) else {
            throw error(.invalidUTF8, "a string is not valid UTF-8", at: offset)
        }
        return s
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw error(.syntax, "incomplete \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: throw error(.syntax, "invalid hex digit \(describe(i)) in \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    func appendUTF8(_ s: Unicode.Scalar, to out: inout [UInt8]) {
        for u in UTF8.encode(s)! { out.append(u) }
    }
}
