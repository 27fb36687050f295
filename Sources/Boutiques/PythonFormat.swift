public import JSON

/// How bosh (Python) turns values into text. Command lines must match bosh byte for byte, so these follow
/// Python's rules exactly: `repr` of ints and floats, `str` of booleans and None, `shlex.quote`, and the
/// `os.path` functions bosh uses.
public enum PythonFormat {
    /// `str(value)` for a JSON value as Python's json module would have loaded it.
    public static func str(_ v: JSONValue) -> String {
        switch v {
        case .null: "None"
        case .bool(let b): b ? "True" : "False"
        case .number(let n): repr(n)
        case .string(let s): s
        case .array(let items): "[" + items.map(reprOf).joined(separator: ", ") + "]"
        case .object(let o): "{" + o.entries.map { "\(quotedRepr($0.key)): \(reprOf($0.value))" }.joined(separator: ", ") + "}"
        }
    }

    /// `repr(value)`: strings in quotes (for values inside lists), the rest as `str`.
    public static func reprOf(_ v: JSONValue) -> String {
        if case .string(let s) = v { return quotedRepr(s) }
        return str(v)
    }

    /// Python's repr of a string: single quotes unless the string holds a single quote and no double quote.
    public static func quotedRepr(_ s: String) -> String {
        let q: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(q)
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(ch) == q {
                    out += "\\" + String(q)
                } else if ch.value < 0x20 || ch.value == 0x7F {
                    out += "\\x" + (ch.value < 16 ? "0" : "") + String(ch.value, radix: 16)
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        out.append(q)
        return out
    }

    /// `repr` of a number loaded from JSON: a literal without `.`, `e` or `E` is a Python int (exact, any size);
    /// anything else is a float, written with the shortest round-trip digits in Python's layout.
    public static func repr(_ n: JSONNumber) -> String {
        if n.isIntegerLiteral {
            var s = Substring(n.literal)
            let negative = s.first == "-"
            if negative { s = s.dropFirst() }
            let digits = s.drop { $0 == "0" }
            if digits.isEmpty { return "0" }
            return (negative ? "-" : "") + digits
        }
        if let plain = plainShortestDecimal(n.literal) { return plain }
        return repr(n.double)
    }

    /// The literal itself when it is already what `repr` would write: `-?D.F` (no exponent) with no leading zero
    /// before a non-zero integer part, a fraction not ending in 0, at most 15 significant digits (any decimal of at
    /// most 15 digits reads back from its double unchanged, so no shorter text names that double), and a value in
    /// repr's fixed-notation range [1e-4, 1e16). Anything else goes through the general route.
    static func plainShortestDecimal(_ literal: String) -> String? {
        var u = literal.utf8[...]
        if u.first == UInt8(ascii: "-") { u = u.dropFirst() }
        guard let dot = u.firstIndex(of: UInt8(ascii: ".")) else { return nil }
        let intPart = u[..<dot]
        let frac = u[u.index(after: dot)...]
        guard !intPart.isEmpty, !frac.isEmpty, frac.last != UInt8(ascii: "0") else { return nil }
        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        guard intPart.allSatisfy(isDigit), frac.allSatisfy(isDigit) else { return nil }
        let significant: Int
        if intPart.count == 1 && intPart.first == UInt8(ascii: "0") {
            // 0.000ddd: at most 3 zeros after the point (1e-4 <= value), then the significant digits.
            let zeros = frac.prefix { $0 == UInt8(ascii: "0") }.count
            guard zeros <= 3 else { return nil }
            significant = frac.count - zeros
        } else {
            guard intPart.first != UInt8(ascii: "0"), intPart.count <= 16 else { return nil }
            significant = intPart.count + frac.count
        }
        return significant <= 15 ? literal : nil
    }

    /// Python's `repr(float)`: fixed notation when the decimal exponent is in (-4, 16], else `d.ddde±XX`.
    public static func repr(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description has the same shortest round-trip digits; only the layout differs.
        var text = Substring(d.magnitude.description)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = text[..<e]
        }
        var digits = ""
        var pointAt = text.count
        if let dot = text.firstIndex(of: ".") {
            pointAt = text.distance(from: text.startIndex, to: dot)
            digits = String(text[..<dot]) + String(text[text.index(after: dot)...])
        } else {
            digits = String(text)
        }
        // value = 0.<digits> x 10^decpt, with leading zeros removed from digits.
        var decpt = pointAt + exponent
        while digits.first == "0" {
            digits.removeFirst()
            decpt -= 1
        }
        while digits.count > 1, digits.last == "0" { digits.removeLast() }
        let sign = d < 0 ? "-" : ""
        if decpt > -4 && decpt <= 16 {
            if decpt <= 0 { return sign + "0." + String(repeating: "0", count: -decpt) + digits }
            if digits.count <= decpt { return sign + digits + String(repeating: "0", count: decpt - digits.count) + ".0" }
            let i = digits.index(digits.startIndex, offsetBy: decpt)
            return sign + digits[..<i] + "." + digits[i...]
        }
        let e = decpt - 1
        let mantissa = digits.count == 1 ? digits : String(digits.prefix(1)) + "." + digits.dropFirst()
        let expDigits = String(abs(e))
        return sign + mantissa + "e" + (e < 0 ? "-" : "+") + (expDigits.count < 2 ? "0" : "") + expDigits
    }

    /// `shlex.quote`: unchanged when every character is ASCII `[A-Za-z0-9_@%+=:,./-]`, `''` when empty, otherwise
    /// in single quotes with each `'` written as `'"'"'`.
    public static func shellQuote(_ s: String) -> String {
        if s.isEmpty { return "''" }
        if s.allUTF8(satisfy: isSafe) { return s }
        var out = "'"
        for ch in s {
            if ch == "'" { out += "'\"'\"'" } else { out.append(ch) }
        }
        return out + "'"
    }

    private static func isSafe(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "_"), UInt8(ascii: "@"), UInt8(ascii: "%"), UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: ":"),
            UInt8(ascii: ","), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    /// `os.path.basename`: what follows the last `/`.
    public static func basename(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: i)...])
    }

    /// `os.path.abspath`: joined to `cwd` when relative, then `.`, `..` and repeated slashes removed lexically
    /// (no symbolic link is resolved).
    public static func abspath(_ path: String, cwd: String) -> String {
        let joined = path.hasPrefix("/") ? path : cwd + "/" + path
        var parts: [Substring] = []
        for p in joined.split(separator: "/", omittingEmptySubsequences: true) {
            if p == "." { continue }
            if p == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(p)
        }
        // POSIX keeps a leading "//" as is; Python's normpath does too.
        let lead = joined.hasPrefix("//") && !joined.hasPrefix("///") ? "//" : "/"
        return lead + parts.joined(separator: "/")
    }
}
