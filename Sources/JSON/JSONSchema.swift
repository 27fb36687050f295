/// A JSON Schema validator for the draft-04 vocabulary that Boutiques uses: `type`, `enum`, `properties`,
/// `additionalProperties`, `required`, `dependencies`, `items`, `minItems`, `maxItems`, `uniqueItems`,
/// `minLength`, `maxLength`, `pattern`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (draft-04
/// booleans), `allOf`, `anyOf`, `oneOf`, `not`, `minProperties`. Other keywords (`title`, `description`, `id`,
/// and later drafts' `propertyNames`) are ignored, as a draft-04 validator does.
///
/// Unlike a first-error validator it reports every violation, each with the JSON pointer of the offending value.
public struct JSONSchemaValidator: Sendable {
    /// One violation: where it is (a JSON pointer into the instance) and what is wrong.
    public struct Violation: Sendable, Equatable, CustomStringConvertible {
        /// JSON pointer of the offending value, e.g. `/inputs/3/value-key` ("" for the whole document).
        public var pointer: String
        /// The schema keyword that failed (`type`, `required`, ...).
        public var keyword: String
        /// What was expected and what was found.
        public var message: String
        public var description: String { "\(pointer.isEmpty ? "/" : pointer): \(message)" }
    }

    public let schema: JSONValue

    public init(schema: JSONValue) { self.schema = schema }

    /// Every violation of the schema by `instance`; empty when it is valid.
    public func validate(_ instance: JSONValue) -> [Violation] {
        var out: [Violation] = []
        check(instance, against: schema, at: "", into: &out)
        return out
    }

    /// True when `instance` satisfies the schema.
    public func isValid(_ instance: JSONValue) -> Bool { validate(instance).isEmpty }

    /// Escapes one reference token of a JSON pointer (RFC 6901).
    public static func escape(_ token: String) -> String {
        var out = ""
        for c in token {
            switch c {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.append(c)
            }
        }
        return out
    }

    private func check(_ v: JSONValue, against s: JSONValue, at path: String, into out: inout [Violation]) {
        guard case .object(let schema) = s else { return }
        func fail(_ keyword: String, _ message: String, at p: String? = nil) {
            out.append(Violation(pointer: p ?? path, keyword: keyword, message: message))
        }

        if let t = schema["type"] {
            let allowed = t.arrayValue?.compactMap(\.stringValue) ?? [t.stringValue].compactMap { $0 }
            if !allowed.contains(where: { JSONSchemaValidator.matches(v, type: $0) }) {
                let expected =
                    allowed.count == 1 ? "of type '\(allowed[0])'" : "of one of the types \(allowed.map { "'\($0)'" }.joined(separator: ", "))"
                fail("type", "\(v.shortText) is not \(expected)")
                return  // the other keywords would only repeat the same problem
            }
        }
        if let e = schema["enum"]?.arrayValue, !e.contains(where: { JSONSchemaValidator.equal($0, v) }) {
            fail("enum", "\(v.shortText) is not one of \(JSONValue.array(e).shortText)")
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            guard let subs = schema[key]?.arrayValue else { continue }
            let results = subs.map { sub -> [Violation] in
                var o: [Violation] = []
                check(v, against: sub, at: path, into: &o)
                return o
            }
            switch key {
            case "allOf": out += results.flatMap { $0 }
            case "anyOf":
                if !results.contains(where: \.isEmpty) {
                    let best = results.min { $0.count < $1.count } ?? []
                    fail(
                        "anyOf",
                        "\(v.shortText) is not valid under any of the given schemas"
                            + (best.isEmpty ? "" : " (closest: \(best.map(\.description).joined(separator: "; ")))"))
                }
            default:
                let passing = results.filter(\.isEmpty).count
                if passing == 0 {
                    let best = results.min { $0.count < $1.count } ?? []
                    fail(
                        "oneOf",
                        "\(v.shortText) is not valid under any of the given schemas"
                            + (best.isEmpty ? "" : " (closest: \(best.map(\.description).joined(separator: "; ")))"))
                } else if passing > 1 {
                    fail("oneOf", "\(v.shortText) is valid under \(passing) of the given schemas, exactly one is allowed")
                }
            }
        }
        if let not = schema["not"] {
            var o: [Violation] = []
            check(v, against: not, at: path, into: &o)
            if o.isEmpty { fail("not", "\(v.shortText) should not be valid under \(not.shortText)") }
        }

        switch v {
        case .string(let str):
            let n = str.unicodeScalars.count
            if let m = schema["minLength"]?.int64Value, n < m { fail("minLength", "\(v.shortText) is shorter than \(m) characters") }
            if let m = schema["maxLength"]?.int64Value, n > m { fail("maxLength", "\(v.shortText) is longer than \(m) characters") }
            if let p = schema["pattern"]?.stringValue, !JSONSchemaValidator.search(p, in: str) {
                fail("pattern", "\(v.shortText) does not match '\(p)'")
            }
        case .number(let num):
            let x = num.double
            if let m = schema["minimum"]?.doubleValue {
                let exclusive = schema["exclusiveMinimum"]?.boolValue == true
                if exclusive ? !(x > m) : !(x >= m) {
                    fail("minimum", "\(num.literal) is less than \(exclusive ? "or equal to " : "")the minimum of \(schema["minimum"]!.shortText)")
                }
            }
            if let m = schema["maximum"]?.doubleValue {
                let exclusive = schema["exclusiveMaximum"]?.boolValue == true
                if exclusive ? !(x < m) : !(x <= m) {
                    fail("maximum", "\(num.literal) is greater than \(exclusive ? "or equal to " : "")the maximum of \(schema["maximum"]!.shortText)")
                }
            }
        case .array(let items):
            if let m = schema["minItems"]?.int64Value, items.count < m {
                fail("minItems", "\(v.shortText) is too short: at least \(m) items expected, found \(items.count)")
            }
            if let m = schema["maxItems"]?.int64Value, items.count > m {
                fail("maxItems", "\(v.shortText) is too long: at most \(m) items expected, found \(items.count)")
            }
            if schema["uniqueItems"]?.boolValue == true {
                for i in items.indices {
                    if let j = items[..<i].firstIndex(where: { JSONSchemaValidator.equal($0, items[i]) }) {
                        fail("uniqueItems", "items \(j) and \(i) are equal; the items must be unique", at: path + "/\(i)")
                        break
                    }
                }
            }
            if let itemSchema = schema["items"] {
                if case .array(let tuple) = itemSchema {
                    for (i, item) in items.enumerated() where i < tuple.count { check(item, against: tuple[i], at: path + "/\(i)", into: &out) }
                } else {
                    for (i, item) in items.enumerated() { check(item, against: itemSchema, at: path + "/\(i)", into: &out) }
                }
            }
        case .object(let obj):
            if let m = schema["minProperties"]?.int64Value, obj.count < m {
                fail("minProperties", "at least \(m) members expected, found \(obj.count)")
            }
            for r in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where obj[r] == nil {
                fail("required", "'\(r)' is a required property")
            }
            let props = schema["properties"]?.objectValue ?? JSONObject()
            for (k, value) in obj {
                if let ps = props[k] { check(value, against: ps, at: path + "/" + JSONSchemaValidator.escape(k), into: &out) }
            }
            switch schema["additionalProperties"] {
            case .bool(false)?:
                let extra = obj.keys.filter { props[$0] == nil }
                if !extra.isEmpty {
                    fail(
                        "additionalProperties",
                        "additional properties are not allowed (\(extra.map { "'\($0)'" }.joined(separator: ", ")) \(extra.count == 1 ? "was" : "were") unexpected)"
                    )
                }
            case .object?:
                for (k, value) in obj where props[k] == nil {
                    check(value, against: schema["additionalProperties"]!, at: path + "/" + JSONSchemaValidator.escape(k), into: &out)
                }
            default: break
            }
            if let deps = schema["dependencies"]?.objectValue {
                for (k, dep) in deps where obj[k] != nil {
                    if case .array(let names) = dep {
                        for n in names.compactMap(\.stringValue) where obj[n] == nil {
                            fail("dependencies", "'\(n)' is a dependency of '\(k)'")
                        }
                    } else {
                        check(v, against: dep, at: path, into: &out)
                    }
                }
            }
        default: break
        }
    }

    /// Draft-04 types: an integer is a number literal without fraction or exponent; booleans are never numbers.
    static func matches(_ v: JSONValue, type: String) -> Bool {
        switch (type, v) {
        case ("string", .string), ("boolean", .bool), ("null", .null), ("object", .object), ("array", .array), ("number", .number): true
        case ("integer", .number(let n)): n.isIntegerLiteral
        default: false
        }
    }

    /// JSON Schema equality: numbers by value (`3.0` equals `3`), booleans never equal numbers, objects unordered.
    public static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)): x.double == y.double
        case (.array(let x), .array(let y)): x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)): x.count == y.count && x.allSatisfy { e in y[e.key].map { equal($0, e.value) } ?? false }
        default: a == b
        }
    }

    /// Regular-expression search (anywhere in the string, as JSON Schema's `pattern` means).
    static func search(_ pattern: String, in string: String) -> Bool {
        guard let regex = try? Regex(pattern) else { return true }
        return (try? regex.firstMatch(in: string)) != nil
    }
}

extension JSONValue {
    /// The value as compact JSON, cut to 80 characters: for messages.
    public var shortText: String {
        let s = JSONWriter().string(self)
        return s.count > 80 ? String(s.prefix(77)) + "..." : s
    }
}
