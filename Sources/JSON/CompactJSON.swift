/// Whether JSON text is exactly what `JSONWriter()` writes for the value it holds (compact, members in the order
/// they have, non-escaped text as is): then a reader may keep the text as it is instead of parsing and writing it
/// again. Conservative: any doubt (a non-ASCII byte, an escape the writer would not write, a repeated member name,
/// nesting beyond `maxDepth`) answers false, and the caller takes the slow path, which says what is wrong if anything is.
public enum CompactJSON {
    public static func isCanonical(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = 64) -> Bool {
        var scanner = Scanner(bytes: bytes, maxDepth: maxDepth)
        return scanner.value(depth: 0) && scanner.i == bytes.count
    }

    /// Whether `bytes` holds `literal` at `i`; if so, `i` moves past it.
    public static func skip(_ literal: StaticString, in bytes: UnsafeBufferPointer<UInt8>, at i: inout Int) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard i + n <= bytes.count else { return false }
        for k in 0..<n where bytes[i + k] != literal.utf8Start[k] { return false }
        i += n
        return true
    }

    struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        let maxDepth: Int
        var i = 0

        init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        var current: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func value(depth: Int) -> Bool {
            guard let c = current else { return false }
            switch c {
            case UInt8(ascii: "{"): return object(depth: depth + 1)
            case UInt8(ascii: "["): return array(depth: depth + 1)
            case UInt8(ascii: "\""): return string() != nil
            case UInt8(ascii: "t"): return word("true")
            case UInt8(ascii: "f"): return word("false")
            case UInt8(ascii: "n"): return word("null")
            default: return number()
            }
        }

        mutating func word(_ w: StaticString) -> Bool { CompactJSON.skip(w, in: bytes, at: &i) }

        /// A string with only the escapes the writer writes; returns its raw range (for comparing member names).
        mutating func string() -> Range<Int>? {
            guard current == UInt8(ascii: "\"") else { return nil }
            i += 1
            let start = i
            while i < bytes.count {
                let b = bytes[i]
                if b == UInt8(ascii: "\"") {
                    defer { i += 1 }
                    return start..<i
                }
                if b >= 0x80 || b < 0x20 { return nil }
                if b == UInt8(ascii: "\\") {
                    guard i + 1 < bytes.count else { return nil }
                    switch bytes[i + 1] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"):
                        i += 2
                        continue
                    default: return nil  // \u and \/ are read as other text than they are written
                    }
                }
                i += 1
            }
            return nil
        }

        mutating func number() -> Bool {
            func digits(_ s: inout Scanner) -> Int {
                let start = s.i
                while let c = s.current, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") { s.i += 1 }
                return s.i - start
            }
            if current == UInt8(ascii: "-") { i += 1 }
            guard let first = current else { return false }
            if first == UInt8(ascii: "0") {
                i += 1
            } else if digits(&self) == 0 {
                return false
            }
            if current == UInt8(ascii: ".") {
                i += 1
                guard digits(&self) > 0 else { return false }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                i += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { i += 1 }
                guard digits(&self) > 0 else { return false }
            }
            return true
        }

        mutating func array(depth: Int) -> Bool {
            guard depth <= maxDepth else { return false }
            i += 1
            if current == UInt8(ascii: "]") {
                i += 1
                return true
            }
            while true {
                guard value(depth: depth) else { return false }
                switch current {
                case UInt8(ascii: ","): i += 1
                case UInt8(ascii: "]"):
                    i += 1
                    return true
                default: return false
                }
            }
        }

        mutating func object(depth: Int) -> Bool {
            guard depth <= maxDepth else { return false }
            i += 1
            if current == UInt8(ascii: "}") {
                i += 1
                return true
            }
            var names: [Range<Int>] = []
            while true {
                guard let name = string(), current == UInt8(ascii: ":") else { return false }
                // A repeated name is kept once by the parser: not the same text.
                for other in names where other.count == name.count && bytes[other].elementsEqual(bytes[name]) { return false }
                names.append(name)
                i += 1
                guard value(depth: depth) else { return false }
                switch current {
                case UInt8(ascii: ","): i += 1
                case UInt8(ascii: "}"):
                    i += 1
                    return true
                default: return false
                }
            }
        }
    }
}
