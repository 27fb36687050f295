public import JSON

/// The conditions of `conditional-path-template` entries, such as `opt1 and (opt2 > 10.00)`.
///
/// bosh rewrites each input id into its value (a bare number when `str(value)` without `.` and `-` is all digits,
/// otherwise a double-quoted string, so a Flag becomes `"True"` or `"False"`), turns the whole condition into
/// `False` when it names an input that has no value, and hands the result to Python's `eval`. This evaluates the
/// same subset of Python with the same semantics: `and`/`or` return an operand, a non-empty string is true (so a
/// false Flag is truthy, as in bosh), and ordering a string against a number is an error.
public enum ConditionExpression {
    /// Words allowed in a condition besides input ids.
    static let keywords: Set<String> = [
        "and", "or", "not", "in", "is", "True", "False", "None", "true", "false", "if", "else", "lambda", "for", "while", "def", "class",
        "return", "import", "from", "as", "with", "pass", "break", "continue", "global", "nonlocal", "del", "yield", "assert", "try",
        "except", "finally", "raise", "async", "await", "elif",
    ]

    enum Token: Equatable {
        case open, close
        case op(String)
        case number(String)
        case string(String)
        case word(String)
    }

    /// Splits a condition into tokens; nil when it holds a character that has no place in one.
    static func tokenize(_ text: String) -> [Token]? {
        var out: [Token] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace {
                i += 1
            } else if c == "(" {
                out.append(.open)
                i += 1
            } else if c == ")" {
                out.append(.close)
                i += 1
            } else if "=!<>".contains(c) {
                if i + 1 < chars.count, chars[i + 1] == "=" {
                    out.append(.op(String([c, "="])))
                    i += 2
                } else if c == "<" || c == ">" {
                    out.append(.op(String(c)))
                    i += 1
                } else {
                    return nil
                }
            } else if c == "\"" || c == "'" {
                var j = i + 1
                var s = ""
                while j < chars.count, chars[j] != c {
                    s.append(chars[j])
                    j += 1
                }
                guard j < chars.count else { return nil }
                out.append(.string(s))
                i = j + 1
            } else if c.isNumber || c == "." || (c == "-" && i + 1 < chars.count && (chars[i + 1].isNumber || chars[i + 1] == ".")) {
                var j = i + 1
                while j < chars.count,
                    chars[j].isNumber || chars[j] == "." || chars[j] == "e" || chars[j] == "E"
                        || ((chars[j] == "-" || chars[j] == "+") && (chars[j - 1] == "e" || chars[j - 1] == "E"))
                {
                    j += 1
                }
                out.append(.number(String(chars[i..<j])))
                i = j
            } else if c.isLetter || c == "_" {
                var j = i + 1
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                out.append(.word(String(chars[i..<j])))
                i = j
            } else {
                return nil
            }
        }
        return out
    }

    /// The identifier-like words of a condition (for the "non-ID string" rule).
    static func words(_ text: String) -> [String] {
        (tokenize(text) ?? []).compactMap { if case .word(let w) = $0 { w } else { nil } }
    }

    /// The descriptor-time check: only ids and `and`/`or`/`true`/`false`/`True`/`False` as words, and both sides
    /// of every comparison of the same type (an id stands for its input's type, a number literal is Number,
    /// true/false is Flag, anything else String).
    static func typeChecks(_ text: String, types: [String: Descriptor.InputType]) -> Bool {
        guard let tokens = tokenize(text) else { return false }
        let allowed: Set<String> = ["and", "or", "true", "false", "True", "False"]
        func type(_ t: Token) -> String? {
            switch t {
            case .number: return "Number"
            case .string: return "String"
            case .word(let w):
                if let ty = types[w] { return ty.rawValue }
                if ["true", "false", "True", "False"].contains(w) { return "Flag" }
                return "String"
            default: return nil
            }
        }
        for (k, t) in tokens.enumerated() {
            if case .word(let w) = t, types[w] == nil, !allowed.contains(w) { return false }
            if case .op = t {
                guard k > 0, k + 1 < tokens.count, let a = type(tokens[k - 1]), let b = type(tokens[k + 1]), a == b else { return false }
            }
        }
        return true
    }

    /// A Python value of the evaluated expression.
    enum Value {
        case number(Double)
        case string(String)
        case bool(Bool)

        var truthy: Bool {
            switch self {
            case .number(let d): d != 0
            case .string(let s): !s.isEmpty
            case .bool(let b): b
            }
        }
    }

    /// Why a condition could not be evaluated (bosh crashes with a Python exception in these cases).
    public struct EvaluationError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Evaluates a condition against the invocation's values, as bosh does.
    public static func evaluate(_ text: String, invocation: JSONObject, inputIDs: Set<String>) throws(EvaluationError) -> Bool {
        guard let raw = tokenize(text) else { throw EvaluationError(description: "cannot read the condition \"\(text)\"") }
        var tokens: [Token] = []
        for t in raw {
            guard case .word(let w) = t, inputIDs.contains(w) else {
                tokens.append(t)
                continue
            }
            guard let v = invocation[w], v != .null else { return false }
            let s = PythonFormat.str(v)
            let digits = s.filter { $0 != "." && $0 != "-" }
            tokens.append(!digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber) ? .number(s) : .string(s))
        }
        var parser = Parser(tokens: tokens)
        let v = try parser.orExpr()
        guard parser.i == tokens.count else { throw EvaluationError(description: "unexpected text after the end of the condition \"\(text)\"") }
        return v.truthy
    }

    struct Parser {
        let tokens: [Token]
        var i = 0

        mutating func orExpr() throws(EvaluationError) -> Value {
            var v = try andExpr()
            while i < tokens.count, tokens[i] == .word("or") {
                i += 1
                let rhs = try andExpr()
                if !v.truthy { v = rhs }
            }
            return v
        }

        mutating func andExpr() throws(EvaluationError) -> Value {
            var v = try notExpr()
            while i < tokens.count, tokens[i] == .word("and") {
                i += 1
                let rhs = try notExpr()
                if v.truthy { v = rhs }
            }
            return v
        }

        mutating func notExpr() throws(EvaluationError) -> Value {
            if i < tokens.count, tokens[i] == .word("not") {
                i += 1
                return .bool(!(try notExpr()).truthy)
            }
            return try comparison()
        }

        mutating func comparison() throws(EvaluationError) -> Value {
            var left = try atom()
            var result: Value?
            while i < tokens.count, case .op(let op) = tokens[i] {
                i += 1
                let right = try atom()
                let ok = try Parser.compare(left, op, right)
                if !ok { result = .bool(false) } else if result == nil { result = .bool(true) }
                left = right
            }
            return result ?? left
        }

        mutating func atom() throws(EvaluationError) -> Value {
            guard i < tokens.count else { throw EvaluationError(description: "the condition ends too early") }
            let t = tokens[i]
            i += 1
            switch t {
            case .open:
                let v = try orExpr()
                guard i < tokens.count, tokens[i] == .close else { throw EvaluationError(description: "a '(' is not closed") }
                i += 1
                return v
            case .number(let n):
                guard let d = Double(n) else { throw EvaluationError(description: "'\(n)' is not a number") }
                return .number(d)
            case .string(let s): return .string(s)
            case .word("True"): return .bool(true)
            case .word("False"): return .bool(false)
            case .word(let w): throw EvaluationError(description: "name '\(w)' is not defined (Python spells the booleans True and False)")
            default: throw EvaluationError(description: "unexpected token in condition")
            }
        }

        static func number(_ v: Value) -> Double? {
            switch v {
            case .number(let d): d
            case .bool(let b): b ? 1 : 0
            case .string: nil
            }
        }

        static func compare(_ a: Value, _ op: String, _ b: Value) throws(EvaluationError) -> Bool {
            if case .string(let x) = a, case .string(let y) = b { return order(x, op, y) }
            guard let x = number(a), let y = number(b) else {
                if op == "==" { return false }
                if op == "!=" { return true }
                throw EvaluationError(description: "'\(op)' cannot order a string and a number")
            }
            return order(x, op, y)
        }

        /// `x op y` for one of the six comparison operators.
        static func order<T: Comparable>(_ x: T, _ op: String, _ y: T) -> Bool {
            switch op {
            case "==": x == y
            case "!=": x != y
            case "<": x < y
            case "<=": x <= y
            case ">": x > y
            default: x >= y
            }
        }
    }
}
