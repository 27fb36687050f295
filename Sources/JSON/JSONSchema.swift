/// A JSON Schema validator for the draft-04 vocabulary that Boutiques uses: `type`, `enum`, `properties`,
/// `additionalProperties`, `required`, `dependencies`, `items`, `minItems`, `maxItems`, `uniqueItems`,
/// `minLength`, `maxLength`, `pattern`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (draft-04
/// booleans), `allOf`, `anyOf`, `oneOf`, `not`, `minProperties`. Other keywords (`title`, `description`, `id`,
/// and later drafts' `propertyNames`) are ignored, as a draft-04 validator does.
///
/// The schema is compiled once into typed nodes (patterns too), so validating many documents against one schema
/// costs only the checks. Unlike a first-error validator it reports every violation, each with the JSON pointer
/// of the offending value.
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
    private let root: Node

    public init(schema: JSONValue) {
        self.schema = schema
        root = Node(schema)
    }

    /// Every violation of the schema by `instance`; empty when it is valid.
    public func validate(_ instance: JSONValue) -> [Violation] {
        var out: [Violation] = []
        root.check(instance, at: "", into: &out)
        return out
    }

    /// True when `instance` satisfies the schema.
    public func isValid(_ instance: JSONValue) -> Bool { validate(instance).isEmpty }

    /// Escapes one reference token of a JSON pointer (RFC 6901).
    public static func escape(_ token: String) -> String {
        guard token.containsUTF8(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return token }
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
}

/// One compiled schema object.
/// Immutable after `init`; `Regex` is not declared Sendable, but matching only reads it.
private final class Node: @unchecked Sendable {
    enum Additional {
        case allowed
        case forbidden
        case schema(Node)
    }
    /// A `dependencies` entry: names that must be present too, or a schema the whole object must match. A struct,
    /// not an enum with a class payload: Swift keeps such an enum's case in the pointer's spare bits, which leak
    /// checkers cannot follow (the fuzzer's LeakSanitizer took these nodes for leaks).
    struct Dependency {
        var names: [String] = []
        var schema: Node?
    }

    let types: [String]?
    let enumValues: [JSONValue]?
    let allOf: [Node]
    let anyOf: [Node]
    let oneOf: [Node]
    let not: (node: Node, text: String)?
    let minLength: Int64?
    let maxLength: Int64?
    let pattern: (text: String, regex: Regex<AnyRegexOutput>?)?
    let minimum: (value: Double, text: String, exclusive: Bool)?
    let maximum: (value: Double, text: String, exclusive: Bool)?
    let minItems: Int64?
    let maxItems: Int64?
    let uniqueItems: Bool
    let items: Node?
    let tupleItems: [Node]?
    let minProperties: Int64?
    let required: [String]
    let properties: [String: Node]
    let additional: Additional
    let dependencies: [(key: String, dependency: Dependency)]

    init(_ s: JSONValue) {
        let o = s.objectValue ?? JSONObject()
        if let t = o["type"] { types = t.arrayValue?.compactMap(\.stringValue) ?? [t.stringValue].compactMap { $0 } } else { types = nil }
        enumValues = o["enum"]?.arrayValue
        allOf = o["allOf"]?.arrayValue?.map(Node.init) ?? []
        anyOf = o["anyOf"]?.arrayValue?.map(Node.init) ?? []
        oneOf = o["oneOf"]?.arrayValue?.map(Node.init) ?? []
        not = o["not"].map { (Node($0), $0.shortText) }
        minLength = o["minLength"]?.int64Value
        maxLength = o["maxLength"]?.int64Value
        pattern = o["pattern"]?.stringValue.map { ($0, try? Regex($0)) }
        minimum = o["minimum"].flatMap { v in v.doubleValue.map { ($0, v.shortText, o["exclusiveMinimum"]?.boolValue == true) } }
        maximum = o["maximum"].flatMap { v in v.doubleValue.map { ($0, v.shortText, o["exclusiveMaximum"]?.boolValue == true) } }
        minItems = o["minItems"]?.int64Value
        maxItems = o["maxItems"]?.int64Value
        uniqueItems = o["uniqueItems"]?.boolValue == true
        if case .array(let tuple)? = o["items"] {
            tupleItems = tuple.map(Node.init)
            items = nil
        } else {
            tupleItems = nil
            items = o["items"].map(Node.init)
        }
        minProperties = o["minProperties"]?.int64Value
        required = o["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var props: [String: Node] = [:]
        for (k, v) in o["properties"]?.objectValue ?? JSONObject() { props[k] = Node(v) }
        properties = props
        switch o["additionalProperties"] {
        case .bool(false)?: additional = .forbidden
        case .object?: additional = .schema(Node(o["additionalProperties"]!))
        default: additional = .allowed
        }
        dependencies = (o["dependencies"]?.objectValue ?? JSONObject()).map { e in
            if case .array(let names) = e.value { return (e.key, Dependency(names: names.compactMap(\.stringValue))) }
            return (e.key, Dependency(schema: Node(e.value)))
        }
    }

    typealias Violations = [JSONSchemaValidator.Violation]

    /// Checks `v`, found at the JSON pointer `path`, against this schema; appends what fails to `out`.
    func check(_ v: JSONValue, at path: String, into out: inout Violations) {
        if let types, !types.contains(where: { JSONSchemaValidator.matches(v, type: $0) }) {
            let expected = types.count == 1 ? "of type '\(types[0])'" : "of one of the types \(types.map { "'\($0)'" }.joined(separator: ", "))"
            out.append(.init(pointer: path, keyword: "type", message: "\(v.shortText) is not \(expected)"))
            return  // the other keywords would only repeat the same problem
        }
        checkCombinators(v, at: path, into: &out)
        switch v {
        case .string(let str): checkString(str, v, at: path, into: &out)
        case .number(let num): checkNumber(num, at: path, into: &out)
        case .array(let items): checkArray(items, v, at: path, into: &out)
        case .object(let obj): checkObject(obj, v, at: path, into: &out)
        default: break
        }
    }

    /// `enum`, `allOf`, `anyOf`, `oneOf` and `not`: the keywords that apply to a value of any type.
    func checkCombinators(_ v: JSONValue, at path: String, into out: inout Violations) {
        if let e = enumValues, !e.contains(where: { JSONSchemaValidator.equal($0, v) }) {
            out.append(.init(pointer: path, keyword: "enum", message: "\(v.shortText) is not one of \(JSONValue.array(e).shortText)"))
        }
        for sub in allOf { sub.check(v, at: path, into: &out) }
        for (keyword, subs) in [("anyOf", anyOf), ("oneOf", oneOf)] where !subs.isEmpty {
            let results = subs.map { sub -> Violations in
                var o: Violations = []
                sub.check(v, at: path, into: &o)
                return o
            }
            let passing = results.filter(\.isEmpty).count
            if passing == 0 {
                let best = results.min { $0.count < $1.count } ?? []
                let closest = best.isEmpty ? "" : " (closest: \(best.map(\.description).joined(separator: "; ")))"
                out.append(.init(pointer: path, keyword: keyword, message: "\(v.shortText) is not valid under any of the given schemas" + closest))
            } else if keyword == "oneOf" && passing > 1 {
                out.append(
                    .init(
                        pointer: path, keyword: "oneOf",
                        message: "\(v.shortText) is valid under \(passing) of the given schemas, exactly one is allowed"))
            }
        }
        if let not {
            var o: Violations = []
            not.node.check(v, at: path, into: &o)
            if o.isEmpty { out.append(.init(pointer: path, keyword: "not", message: "\(v.shortText) should not be valid under \(not.text)")) }
        }
    }

    /// `minLength`, `maxLength` (in Unicode scalars) and `pattern`.
    func checkString(_ str: String, _ v: JSONValue, at path: String, into out: inout Violations) {
        if minLength != nil || maxLength != nil {
            let n = str.unicodeScalars.count
            if let m = minLength, n < m {
                out.append(.init(pointer: path, keyword: "minLength", message: "\(v.shortText) is shorter than \(m) characters"))
            }
            if let m = maxLength, n > m {
                out.append(.init(pointer: path, keyword: "maxLength", message: "\(v.shortText) is longer than \(m) characters"))
            }
        }
        if let pattern, let regex = pattern.regex, (try? regex.firstMatch(in: str)) == nil {
            out.append(.init(pointer: path, keyword: "pattern", message: "\(v.shortText) does not match '\(pattern.text)'"))
        }
    }

    /// `minimum` and `maximum`, exclusive or not.
    func checkNumber(_ num: JSONNumber, at path: String, into out: inout Violations) {
        let x = num.double
        if let m = minimum, m.exclusive ? !(x > m.value) : !(x >= m.value) {
            let message = "\(num.literal) is less than \(m.exclusive ? "or equal to " : "")the minimum of \(m.text)"
            out.append(.init(pointer: path, keyword: "minimum", message: message))
        }
        if let m = maximum, m.exclusive ? !(x < m.value) : !(x <= m.value) {
            let message = "\(num.literal) is greater than \(m.exclusive ? "or equal to " : "")the maximum of \(m.text)"
            out.append(.init(pointer: path, keyword: "maximum", message: message))
        }
    }

    /// `minItems`, `maxItems`, `uniqueItems`, and `items` (one schema for all, or one per position).
    func checkArray(_ items: [JSONValue], _ v: JSONValue, at path: String, into out: inout Violations) {
        if let m = minItems, items.count < m {
            out.append(
                .init(pointer: path, keyword: "minItems", message: "\(v.shortText) is too short: at least \(m) items expected, found \(items.count)"))
        }
        if let m = maxItems, items.count > m {
            out.append(
                .init(pointer: path, keyword: "maxItems", message: "\(v.shortText) is too long: at most \(m) items expected, found \(items.count)"))
        }
        if uniqueItems {
            for i in items.indices {
                if let j = items[..<i].firstIndex(where: { JSONSchemaValidator.equal($0, items[i]) }) {
                    out.append(
                        .init(pointer: path + "/\(i)", keyword: "uniqueItems", message: "items \(j) and \(i) are equal; the items must be unique"))
                    break
                }
            }
        }
        if let tupleItems {
            for (i, item) in items.enumerated() where i < tupleItems.count { tupleItems[i].check(item, at: path + "/\(i)", into: &out) }
        } else if let node = self.items {
            for (i, item) in items.enumerated() { node.check(item, at: path + "/\(i)", into: &out) }
        }
    }

    /// `minProperties`, `required`, `properties`, `additionalProperties` and `dependencies`.
    func checkObject(_ obj: JSONObject, _ v: JSONValue, at path: String, into out: inout Violations) {
        if let m = minProperties, obj.count < m {
            out.append(.init(pointer: path, keyword: "minProperties", message: "at least \(m) members expected, found \(obj.count)"))
        }
        for r in required where obj[r] == nil { out.append(.init(pointer: path, keyword: "required", message: "'\(r)' is a required property")) }
        var extra: [String] = []
        for (k, value) in obj {
            if let node = properties[k] {
                node.check(value, at: path + "/" + JSONSchemaValidator.escape(k), into: &out)
            } else {
                switch additional {
                case .allowed: break
                case .forbidden: extra.append(k)
                case .schema(let node): node.check(value, at: path + "/" + JSONSchemaValidator.escape(k), into: &out)
                }
            }
        }
        if !extra.isEmpty {
            let names = extra.map { "'\($0)'" }.joined(separator: ", ")
            out.append(
                .init(
                    pointer: path, keyword: "additionalProperties",
                    message: "additional properties are not allowed (\(names) \(extra.count == 1 ? "was" : "were") unexpected)"))
        }
        for (k, dep) in dependencies where obj[k] != nil {
            for n in dep.names where obj[n] == nil {
                out.append(.init(pointer: path, keyword: "dependencies", message: "'\(n)' is a dependency of '\(k)'"))
            }
            dep.schema?.check(v, at: path, into: &out)
        }
    }
}

extension JSONValue {
    /// The value as compact JSON, cut to 80 characters: for messages.
    public var shortText: String {
        let s = JSONWriter().string(self)
        return s.count > 80 ? String(s.prefix(77)) + "..." : s
    }
}
