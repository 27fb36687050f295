/// Writes JSON text. Compact by default (`{"a":1,"b":[true,null]}`); `pretty` indents as Python's
/// `json.dumps(indent=N)` does. Numbers are written as their literals, keys in the order they have.
public struct JSONWriter: Sendable {
    /// Spaces per level of indentation; nil for compact output.
    public var indent: Int?
    /// Sort object keys (byte order of UTF-8), for canonical output.
    public var sortKeys: Bool
    /// Escape every non-ASCII character as `\uXXXX`, as Python's `json.dumps` does by default.
    public var asciiOnly: Bool

    public init(indent: Int? = nil, sortKeys: Bool = false, asciiOnly: Bool = false) {
        self.indent = indent
        self.sortKeys = sortKeys
        self.asciiOnly = asciiOnly
    }

    /// The text of `value`.
    public func string(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the text of `value` to `out`.
    public func write(_ value: JSONValue, into out: inout [UInt8]) {
        write(value, into: &out, level: 0)
    }

    private func newline(_ out: inout [UInt8], level: Int) {
        guard let indent else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: indent * level))
    }

    private func write(_ value: JSONValue, into out: inout [UInt8], level: Int) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.literal.utf8)
        case .string(let s): JSONWriter.writeString(s, into: &out, asciiOnly: asciiOnly)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (k, item) in items.enumerated() {
                if k > 0 { out.append(contentsOf: indent == nil ? [0x2C] : [0x2C]) }
                newline(&out, level: level + 1)
                write(item, into: &out, level: level + 1)
            }
            if !items.isEmpty { newline(&out, level: level) }
            out.append(UInt8(ascii: "]"))
        case .object(let obj):
            out.append(UInt8(ascii: "{"))
            let entries = sortKeys ? obj.entries.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) } : obj.entries
            for (k, entry) in entries.enumerated() {
                if k > 0 { out.append(0x2C) }
                newline(&out, level: level + 1)
                JSONWriter.writeString(entry.key, into: &out, asciiOnly: asciiOnly)
                out.append(UInt8(ascii: ":"))
                if indent != nil { out.append(0x20) }
                write(entry.value, into: &out, level: level + 1)
            }
            if !entries.isEmpty { newline(&out, level: level) }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `s` as a JSON string literal, escaping quotes, backslashes and control characters.
    public static func writeString(_ s: String, into out: inout [UInt8], asciiOnly: Bool = false) {
        out.append(0x22)
        // Most strings (ids, names, paths) need no escape: copied in one go.
        var s = s
        let plain = s.withUTF8 { u in
            guard !u.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || (asciiOnly && $0 >= 0x80) }) else { return false }
            out.append(contentsOf: u)
            return true
        }
        if plain {
            out.append(0x22)
            return
        }
        if asciiOnly {
            for u in s.utf16 {
                if u < 0x80 {
                    escapeASCII(UInt8(u), into: &out)
                } else {
                    out.append(contentsOf: [0x5C, UInt8(ascii: "u")])
                    for shift in stride(from: 12, through: 0, by: -4) { out.append(hex[Int((u >> UInt16(shift)) & 0xF)]) }
                }
            }
        } else {
            for b in s.utf8 {
                if b < 0x80 { escapeASCII(b, into: &out) } else { out.append(b) }
            }
        }
        out.append(0x22)
    }

    private static func escapeASCII(_ b: UInt8, into out: inout [UInt8]) {
        switch b {
        case 0x22: out.append(contentsOf: [0x5C, 0x22])
        case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
        case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
        case 0..<0x20:
            out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
        default: out.append(b)
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text of this value.
    public var description: String { JSONWriter().string(self) }
}
