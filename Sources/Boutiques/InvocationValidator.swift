public import JSON

/// Validates invocations against a descriptor, as bosh does: defaults are added first (for every input with a
/// non-null `default-value` whose key is absent or null), then the values are checked against the invocation
/// schema (the descriptor's own `invocation-schema` when it has one, else one generated from the inputs: types,
/// integer, value choices, bounds, list lengths, required inputs, no unknown keys), then the group rules and
/// requires/disables. Beyond bosh, String and File values must be strings (bosh crashes on them later).
public struct InvocationValidator: Sendable {
    public let descriptor: Descriptor
    private let schema: JSONSchemaValidator
    private let usesOwnSchema: Bool
    /// The inputs that take part in group or requires/disables rules, and the one-is-required groups.
    private let constraints: [Constraint]
    private let oneIsRequired: [(id: String, members: [Member])]
    /// Worked out once: the inputs with a default (in descriptor order), and the String and File inputs.
    private let defaults: [(id: String, value: JSONValue)]
    private let textInputs: [(id: String, list: Bool, type: Descriptor.InputType)]

    public init(_ descriptor: Descriptor) {
        self.descriptor = descriptor
        let types = Dictionary(descriptor.inputs.map { ($0.id, $0.type) }, uniquingKeysWith: { a, _ in a })
        let grouped = Set(descriptor.groups.filter { $0.mutuallyExclusive != nil }.flatMap(\.members))
        func member(_ id: String) -> Member { Member(id: id, isFlag: types[id] == .flag) }
        constraints = descriptor.inputs.filter { !$0.requiresInputs.isEmpty || !$0.disablesInputs.isEmpty || grouped.contains($0.id) }.map { i in
            var disabled = i.disablesInputs
            for g in descriptor.groups where g.mutuallyExclusive != nil && g.members.contains(i.id) {
                disabled += g.members.filter { $0 != i.id && !disabled.contains($0) }
            }
            return Constraint(
                id: i.id, isFlag: i.type == .flag,
                requires: i.requiresInputs.map { r in
                    (member(r), descriptor.groups.first { $0.id == r }.map { $0.members.map(member) })
                }, disables: disabled.map(member))
        }
        oneIsRequired = descriptor.groups.filter(\.oneIsRequired).map { ($0.id, $0.members.map(member)) }
        defaults = descriptor.inputs.compactMap { i in i.defaultValue.flatMap { $0 == .null ? nil : (i.id, $0) } }
        textInputs = descriptor.inputs.filter { $0.type == .string || $0.type == .file }.map { ($0.id, $0.list, $0.type) }
        if let own = descriptor.invocationSchema {
            schema = JSONSchemaValidator(schema: own)
            usesOwnSchema = true
        } else {
            schema = JSONSchemaValidator(schema: InvocationValidator.generatedSchema(descriptor))
            usesOwnSchema = false
        }
    }

    /// The invocation with defaults added, in bosh's order (given keys first, then defaults in descriptor order).
    public func withDefaults(_ invocation: JSONObject) -> JSONObject {
        var out = invocation
        for (id, value) in defaults {
            switch out[id] {
            case nil, .null?: out[id] = value
            default: break
            }
        }
        return out
    }

    /// Adds defaults and validates; returns the complete invocation or every problem found.
    public func validate(_ json: JSONValue, file: String? = nil) throws(BoutiquesError) -> JSONObject {
        guard case .object(let given) = json else {
            throw BoutiquesError(
                .invalidInvocation,
                [
                    BoutiquesIssue(
                        file: file, pointer: "", rule: "invocation.type", message: "an invocation must be a JSON object, found \(json.typeName)")
                ])
        }
        let inv = withDefaults(given)
        var issues = schema.validate(.object(inv)).map {
            BoutiquesIssue(file: file, pointer: $0.pointer, rule: "invocation.\($0.keyword)", message: $0.message)
        }
        if !usesOwnSchema { issues += groupIssues(inv, file: file) }
        if issues.isEmpty { issues += stringIssues(inv, file: file) }
        if !issues.isEmpty { throw BoutiquesError(.invalidInvocation, issues) }
        return inv
    }

    /// The problems of one input's value alone, worded and placed as `validate` reports them (for values a planner
    /// reads and then replaces, such as `--bids`'s participant_label). None for an input the schema does not name.
    public func issues(of id: String, value: JSONValue, file: String?) -> [BoutiquesIssue] {
        guard !usesOwnSchema, let property = Self.generatedSchema(descriptor)["properties"]?[id] else { return [] }
        return JSONSchemaValidator(schema: property).validate(value).map {
            BoutiquesIssue(file: file, pointer: "/" + id + $0.pointer, rule: "invocation.\($0.keyword)", message: $0.message)
        }
    }

    /// The schema bosh generates for a descriptor's invocations (draft-04).
    public static func generatedSchema(_ d: Descriptor) -> JSONValue {
        var props = JSONObject()
        for i in d.inputs {
            var item = JSONObject()
            if i.integer {
                item["type"] = "integer"
            } else if let choices = i.valueChoices {
                item["enum"] = .array(choices)
            } else {
                switch i.type {
                case .string, .file: item["type"] = "string"
                case .flag: item["type"] = "boolean"
                case .number: item["type"] = "number"
                }
            }
            if let m = i.minimum { item["minimum"] = .number(m) }
            if let m = i.maximum { item["maximum"] = .number(m) }
            if i.exclusiveMinimum { item["exclusiveMinimum"] = true }
            if i.exclusiveMaximum { item["exclusiveMaximum"] = true }
            if i.list {
                var list: JSONObject = ["type": "array", "items": .object(item)]
                if let m = i.minListEntries { list["minItems"] = .number(JSONNumber(m)) }
                if let m = i.maxListEntries, m > 0 { list["maxItems"] = .number(JSONNumber(m)) }
                props[i.id] = .object(list)
            } else {
                props[i.id] = .object(item)
            }
        }
        return .object([
            "type": "object", "additionalProperties": false, "properties": .object(props),
            "required": .array(d.inputs.filter { !$0.optional }.map { .string($0.id) }),
        ])
    }

    /// One-is-required groups, requires-inputs and disables-inputs (with mutually-exclusive groups), as bosh's
    /// generated schema enforces them. All-or-none groups and value-requires/value-disables are not enforced,
    /// as in bosh.
    func groupIssues(_ inv: JSONObject, file: String?) -> [BoutiquesIssue] {
        var issues: [BoutiquesIssue] = []
        func present(_ m: Member) -> Bool { inv[m.id] != nil }
        func active(_ m: Member) -> Bool {
            guard let v = inv[m.id] else { return false }
            return m.isFlag ? v == .bool(true) : true
        }
        for g in oneIsRequired where !g.members.contains(where: active) {
            issues.append(
                BoutiquesIssue(
                    file: file, pointer: "", rule: "invocation.one-is-required",
                    message: "group \"\(g.id)\" needs one of \(g.members.map { "\"\($0.id)\"" }.joined(separator: ", ")) (a Flag member must be true)"
                ))
        }
        for c in constraints {
            guard let value = inv[c.id] else { continue }
            if c.isFlag && value != .bool(true) { continue }
            for (r, group) in c.requires {
                if let group {
                    if !group.contains(where: { !$0.isFlag && present($0) }) {
                        issues.append(
                            BoutiquesIssue(
                                file: file, pointer: "/" + JSONSchemaValidator.escape(c.id), rule: "invocation.requires-inputs",
                                message: "\"\(c.id)\" requires a member of group \"\(r.id)\", none is given"))
                    }
                } else if !active(r) {
                    let what = r.isFlag ? "to be true" : "to be given"
                    issues.append(
                        BoutiquesIssue(
                            file: file, pointer: "/" + JSONSchemaValidator.escape(c.id), rule: "invocation.requires-inputs",
                            message: "\"\(c.id)\" requires \"\(r.id)\" \(what)"))
                }
            }
            for x in c.disables where active(x) || (present(x) && !x.isFlag) {
                issues.append(
                    BoutiquesIssue(
                        file: file, pointer: "/" + JSONSchemaValidator.escape(x.id), rule: "invocation.disables-inputs",
                        message: "\"\(x.id)\" cannot be given together with \"\(c.id)\""))
            }
        }
        return issues
    }

    /// An input named in a rule, and whether it is a Flag (a Flag counts only when true).
    struct Member: Sendable {
        let id: String
        let isFlag: Bool
    }

    /// The rules on one input, worked out from the descriptor once: what it requires (an input, or a member of a
    /// group: the group's members), and what it disables (its disables-inputs and the other members of its
    /// mutually-exclusive groups).
    struct Constraint: Sendable {
        let id: String
        let isFlag: Bool
        let requires: [(input: Member, group: [Member]?)]
        let disables: [Member]
    }

    /// String and File values must be strings, or the command line cannot quote them (bosh crashes there).
    func stringIssues(_ inv: JSONObject, file: String?) -> [BoutiquesIssue] {
        var issues: [BoutiquesIssue] = []
        for i in textInputs {
            guard let v = inv[i.id] else { continue }
            if !i.list, case .string = v { continue }
            let items = i.list ? (v.arrayValue ?? []) : [v]
            for (k, item) in items.enumerated() where item.stringValue == nil {
                let pointer = "/" + JSONSchemaValidator.escape(i.id) + (i.list ? "/\(k)" : "")
                issues.append(
                    BoutiquesIssue(
                        file: file, pointer: pointer, rule: "invocation.type",
                        message: "\(item.shortText) is not a string; a \(i.type.rawValue) input takes strings"))
            }
        }
        return issues
    }
}
