import Foundation
public import JSON

/// Validates a descriptor: first its structure (`DescriptorSchema`), then every Boutiques rule (value-keys,
/// unique ids, groups, requires/disables, value choices, list bounds, outputs, conditional paths, tests,
/// container index). All problems are reported together, each with its JSON pointer; the rule names and wording
/// follow bosh's so that users who know bosh recognise them.
public enum DescriptorValidator {
    /// Parses and validates a descriptor document. `file` names it in messages.
    public static func validate(_ json: JSONValue, file: String? = nil) throws(BoutiquesError) -> Descriptor {
        let structural = DescriptorSchema.validator.validate(json).map {
            BoutiquesIssue(file: file, pointer: $0.pointer, rule: "schema.\($0.keyword)", message: $0.message)
        }
        if !structural.isEmpty { throw BoutiquesError(.invalidDescriptor, structural) }
        let d = try parse(json, file: file)
        var issues: [BoutiquesIssue] = []
        func add(_ pointer: String, _ rule: String, _ message: String) {
            issues.append(BoutiquesIssue(file: file, pointer: pointer, rule: rule, message: message))
        }
        checkValueKeys(d, add)
        checkIDs(d, add)
        checkOutputs(d, add)
        checkInputs(d, add)
        checkGroups(d, add)
        checkTests(d, add)
        checkContainer(d, add)
        if !issues.isEmpty { throw BoutiquesError(.invalidDescriptor, issues) }
        return d
    }

    /// Loads and validates a descriptor file.
    public static func load(_ path: String) throws(BoutiquesError) -> Descriptor {
        try validate(try BoutiquesDocument.load(path), file: path)
    }

    /// Loads the copy of a descriptor that clowdr validated when it planned the experiment, without validating it
    /// again (the validation is most of the cost of loading, and a worker loads it for every array element).
    public static func loadPlanned(_ path: String) throws(BoutiquesError) -> Descriptor {
        try parse(try BoutiquesDocument.load(path), file: path)
    }

    static func parse(_ json: JSONValue, file: String?) throws(BoutiquesError) -> Descriptor {
        guard case .object(let o) = json else {
            throw BoutiquesError(
                .invalidDescriptor, [BoutiquesIssue(file: file, pointer: "", rule: "schema.type", message: "a descriptor must be a JSON object")])
        }
        return Descriptor(json: o)
    }

    typealias Add = (String, String, String) -> Void

    /// What bosh accepts but is almost always a mistake, each naming the file and JSON pointer: a path-template
    /// (or conditional one) holding a bracketed key, `[OUT_DIR]`, that no input has as its value-key, which is then
    /// written literally (the output lands in a folder named `[OUT_DIR]`). bosh's verdict stands: these are warnings.
    public static func warnings(_ d: Descriptor, file: String) -> [String] {
        let keys = Set(d.inputs.compactMap(\.valueKey))
        var out: [String] = []
        for o in d.outputs {
            var templates: [(pointer: String, text: String)] = o.pathTemplate.map { [(o.pointer + "/path-template", $0)] } ?? []
            for (i, c) in (o.conditionalPathTemplate ?? []).enumerated() { templates.append((o.pointer + "/conditional-path-template/\(i)", c.path)) }
            for t in templates {
                for key in bracketed(t.text) where !keys.contains(key) {
                    out.append(
                        "\(file): \(t.pointer): '\(t.text)' names \(key), which no input has as its value-key: it stays as written, \(key) and all (add an input with \"value-key\": \"\(key)\", or take it out of the template)"
                    )
                }
            }
        }
        return out
    }

    /// The `[NAME]` tokens of a template (letters, digits, _ and - between brackets), in order, each once.
    static func bracketed(_ text: String) -> [String] {
        var found: [String] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "[") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "]") else { break }
            let name = after[..<close]
            if !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
                let token = "[" + name + "]"
                if !found.contains(token) { found.append(token) }
            }
            rest = after[after.index(after: close)...]
        }
        return found
    }

    static func checkValueKeys(_ d: Descriptor, _ add: Add) {
        var haystack = d.commandLine
        for o in d.outputs {
            haystack += "." + (o.fileTemplate ?? []).joined(separator: ".") + "." + (o.pathTemplate ?? "")
            haystack += "." + (o.conditionalPathTemplate ?? []).map(\.path).joined(separator: ".")
        }
        haystack += "||" + d.environment.map(\.value).joined(separator: "||")
        let keyed: [(id: String, key: String, pointer: String)] =
            d.inputs.compactMap { i in i.valueKey.map { (i.id, $0, i.pointer) } }
            + d.outputs.compactMap { o in o.valueKey.map { (o.id, $0, o.pointer) } }
        for k in keyed where !haystack.contains(k.key) {
            add(k.pointer + "/value-key", "KeyError", "\"\(k.key)\" not in command-line or file template or environment variables")
        }
        for a in keyed {
            for b in keyed where a.key != b.key && a.key.contains(b.key) {
                add(a.pointer + "/value-key", "KeyError", "\"\(a.key)\" contains \"\(b.key)\"")
            }
        }
        // Inputs sharing a value-key must be alternatives: members of one mutually-exclusive group.
        var byKey: [String: [Descriptor.Input]] = [:]
        for i in d.inputs { if let k = i.valueKey { byKey[k, default: []].append(i) } }
        for (key, sharing) in byKey where sharing.count > 1 {
            let ids = Set(sharing.map(\.id))
            if d.groups.isEmpty {
                // bosh crashes here (TypeError); say what it means.
                add(
                    sharing[1].pointer + "/value-key", "MutExError",
                    "\"\(key)\" belongs to 2+ IDs (\(sharing.map(\.id).joined(separator: ", "))) that are not in a mutually-exclusive group")
            } else if d.groups.contains(where: { Set($0.members) == ids && $0.mutuallyExclusive != true }) {
                add(sharing[1].pointer + "/value-key", "MutExError", "\"\(key)\" belongs to 2+ non exclusive IDs")
            }
        }
    }

    static func checkIDs(_ d: Descriptor, _ add: Add) {
        let all = d.inputs.map { ($0.id, $0.pointer) } + d.outputs.map { ($0.id, $0.pointer) } + d.groups.map { ($0.id, $0.pointer) }
        for (i, a) in all.enumerated() {
            for b in all[(i + 1)...] where a.0 == b.0 { add(b.1 + "/id", "IdError", "\"\(a.0)\" is non-unique") }
        }
    }

    static func checkOutputs(_ d: Descriptor, _ add: Add) {
        for a in d.outputs {
            for b in d.outputs where a.id != b.id && a.pathTemplate != nil && a.pathTemplate == b.pathTemplate {
                add(a.pointer + "/path-template", "OutputError", "\"\(a.id)\" and \"\(b.id)\" have the same path-template")
            }
        }
        let types = Dictionary(d.inputs.map { ($0.id, $0.type) }, uniquingKeysWith: { a, _ in a })
        for o in d.outputs {
            guard let conds = o.conditionalPathTemplate, !o.optional else { continue }
            let pointer = o.pointer + "/conditional-path-template"
            let defaults = conds.filter { $0.condition == "default" }.count
            if defaults == 0 {
                add(
                    pointer, "OutputError",
                    "\"\(o.id)\". Non-optional output-file with conditional-path-template must contain \"default\" path-template.")
            }
            if defaults > 1 {
                add(pointer, "OutputError", "\"\(o.id)\". Only one \"default\" condition is permitted in a conditional-path-template.")
            }
            for (k, c) in conds.enumerated() where c.condition != "default" {
                for w in ConditionExpression.words(c.condition) where !types.keys.contains(w) && !ConditionExpression.keywords.contains(w) {
                    add(pointer + "/\(k)", "OutputError", "\"\(o.id)\" contains non-python keyword and non-ID string: \"\(w)\"")
                }
                if !ConditionExpression.typeChecks(c.condition, types: types) {
                    add(
                        pointer + "/\(k)", "OutputError",
                        "Conditional output \"\(c.condition)\" contains invalid conditional expression. Verify arguments' type and allowed keywords in expression."
                    )
                }
            }
        }
    }

    static func checkInputs(_ d: Descriptor, _ add: Add) {
        let ids = Set(d.inputs.map(\.id))
        let groupIDs = Set(d.groups.map(\.id))
        let optional = Dictionary(d.inputs.map { ($0.id, $0.optional) }, uniquingKeysWith: { a, _ in a })
        for i in d.inputs {
            let p = i.pointer
            if i.type == .flag {
                if i.commandLineFlag == nil { add(p, "InputError", "\"\(i.id)\" must have a command-line flag") }
                if !i.optional { add(p + "/optional", "InputError", "\"\(i.id)\" is of type Flag, it has to be optional") }
            }
            if i.type == .number, let mn = i.minimum, let mx = i.maximum, mn.double > mx.double {
                add(
                    p + "/minimum", "InputError", "\"\(i.id)\" cannot have greater min (\(PythonFormat.repr(mn))) than max (\(PythonFormat.repr(mx)))"
                )
            }
            if let choices = i.valueChoices, i.type != .number {
                if choices.isEmpty { add(p + "/value-choices", "InputError", "\"\(i.id)\" must have at least one value choice") }
                if let dv = i.defaultValue, dv != .null {
                    let defaults = dv.arrayValue ?? [dv]
                    if !defaults.allSatisfy({ v in choices.contains { JSONSchemaValidator.equal($0, v) } }) {
                        add(p + "/default-value", "InputError", "\"\(i.id)\" cannot have default value outside its choices")
                    }
                }
            }
            if i.list {
                let mn = i.minListEntries
                let mx = i.maxListEntries.flatMap { $0 == 0 ? nil : $0 }
                if let mn, let mx, mn > mx {
                    add(p + "/min-list-entries", "InputError", "\"\(i.id)\" cannot have greater min entries (\(mn)) than max entries (\(mx))")
                }
                if let mn, mn < 0 { add(p + "/min-list-entries", "InputError", "\"\(i.id)\" cannot have negative min entries (\(mn))") }
                if let mx, mx < 0 { add(p + "/max-list-entries", "InputError", "\"\(i.id)\" cannot have non-positive max entries (\(mx))") }
            }
            for r in i.requiresInputs where !ids.contains(r) && !groupIDs.contains(r) {
                add(p + "/requires-inputs", "InputError", "\"\(i.id)\" required id \"\(r)\" not found")
            }
            for x in i.disablesInputs where !ids.contains(x) {
                add(p + "/disables-inputs", "InputError", "\"\(i.id)\" disables id \"\(x)\" not found")
            }
            for x in i.requiresInputs where i.disablesInputs.contains(x) {
                add(p + "/disables-inputs", "InputError", "\"\(i.id)\" requires and disables \"\(x)\"")
            }
            for x in i.disablesInputs where optional[x] == false {
                add(p + "/disables-inputs", "InputError", "\"\(i.id)\" disables required id \"\(x)\"")
            }
            if !i.optional && (!i.requiresInputs.isEmpty || !i.disablesInputs.isEmpty) {
                add(p, "InputError", "\"\(i.id)\" cannot require or disable other inputs")
            }
            let valueOpts = [("value-requires", i.valueRequires), ("value-disables", i.valueDisables)]
            if valueOpts.contains(where: { $0.1 != nil }) && i.valueChoices == nil {
                add(p, "InputError", "\"\(i.id)\" cannot have have value-opts without value-choices defined.")
            }
            if let choices = i.valueChoices {
                let choiceTexts = Set(choices.map { PythonFormat.str($0) })
                for (param, opts) in valueOpts {
                    guard let opts else { continue }
                    if Set(opts.keys) != choiceTexts {
                        add(p + "/" + param, "InputError", "\"\(i.id)\" \(param) list is not the same as the value-choices")
                    }
                    for (_, list) in opts {
                        let targets = list.arrayValue?.compactMap(\.stringValue) ?? []
                        if !targets.allSatisfy(ids.contains) {
                            add(p + "/" + param, "InputError", "\"\(i.id)\" \(param) id \"\(PythonFormat.str(list))\" not found")
                        }
                        for x in targets where optional[x] == false {
                            add(p + "/" + param, "InputError", "\"\(i.id)\" \(param) cannot be used with required input \"\(x)\"")
                        }
                    }
                }
                if let req = i.valueRequires, let dis = i.valueDisables {
                    for (choice, r) in req {
                        let rs = Set(r.arrayValue?.compactMap(\.stringValue) ?? [])
                        for x in dis[choice]?.arrayValue?.compactMap(\.stringValue) ?? [] where rs.contains(x) {
                            add(p, "InputError", "\"\(i.id)\" choice \"\(choice)\" requires and disables \"\(x)\"")
                        }
                    }
                }
            }
        }
    }

    static func checkGroups(_ d: Descriptor, _ add: Add) {
        let byID = Dictionary(d.inputs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for g in d.groups {
            let p = g.pointer
            var seen = Set<String>()
            for m in g.members {
                if byID[m] == nil { add(p + "/members", "GroupError", "\"\(g.id)\" member \"\(m)\" does not exist") }
                if !seen.insert(m).inserted { add(p + "/members", "GroupError", "\"\(g.id)\" member \"\(m)\" appears twice") }
            }
            let members = g.members.compactMap { byID[$0] }
            if g.mutuallyExclusive == true {
                for m in members where !m.optional {
                    add(p, "GroupError", "\"\(g.id)\" is mutually-exclusive and cannot have required members, such as \"\(m.id)\"")
                }
                for a in members {
                    for b in a.requiresInputs where g.members.contains(b) {
                        add(
                            p, "GroupError",
                            "\"\(g.id)\" is mutually-exclusive and cannot have members require one another, such as \"\(a.id)\" and \"\(b)\"")
                    }
                }
                for g2 in d.groups where g2.allOrNone && g2.id != g.id {
                    let shared = g.members.filter(g2.members.contains)
                    for a in shared {
                        for b in shared where a != b {
                            add(
                                p, "GroupError",
                                "mutually-exclusive group \"\(g.id)\" and all-or-none group \"\(g2.id)\" cannot both contain input pairs \"\(a)\" and \"\(b)\""
                            )
                        }
                    }
                }
            }
            if g.oneIsRequired {
                for m in members where !m.optional {
                    add(p, "GroupError", "\"\(g.id)\" is a one-is-required group and contains a required member, \"\(m.id)\"")
                }
                for g2 in d.groups where g2.allOrNone && g2.id != g.id && Set(g.members).isSubset(of: g2.members) {
                    add(p, "GroupError", "\"\(g.id)\" is one-is-required and cannot be a subset of the all-or-none group \"\(g2.id)\"")
                }
            }
            if g.allOrNone {
                if g.oneIsRequired || g.mutuallyExclusive == true {
                    add(p, "GroupError", "\"\(g.id)\" is an all-or-none group and cannot be paired with one-is-required or mutually-exclusive groups")
                }
                for m in members where !m.optional {
                    add(p, "GroupError", "\"\(g.id)\" is an all-or-none group and contains a required member, \"\(m.id)\"")
                }
            }
        }
    }

    static func checkTests(_ d: Descriptor, _ add: Add) {
        guard let tests = d.json["tests"]?.arrayValue else { return }
        let outputIDs = Set(d.outputs.map(\.id))
        var names: [String] = []
        for (k, t) in tests.enumerated() {
            let name = t["name"]?.stringValue ?? ""
            var seen = Set<String>()
            for o in t["assertions"]?["output-files"]?.arrayValue ?? [] {
                guard let id = o["id"]?.stringValue else { continue }
                if !outputIDs.contains(id) { add("/tests/\(k)", "TestError", "\"\(id)\" output id not found, in test \"\(name)\"") }
                if !seen.insert(id).inserted {
                    add("/tests/\(k)", "TestError", "\"\(id)\" output id cannot appear more than once within same test, in test \"\(name)\"")
                }
            }
            if names.contains(name) { add("/tests/\(k)/name", "TestError", "\"\(name)\" test name is non-unique") }
            names.append(name)
        }
    }

    static func checkContainer(_ d: Descriptor, _ add: Add) {
        guard let c = d.container, let image = c.image, let index = c.index, let r = image.range(of: "://") else { return }
        let scheme = String(image[..<r.upperBound])
        if !index.hasPrefix(scheme) {
            add(
                "/container-image/image", "ContainerError",
                "container image \"\(image)\" is prepended by index that doesn't match container index value \"\(index)\"")
        }
    }
}
