import Foundation
public import JSON

/// What a task will run: the complete invocation, the command line, the output files and the config files.
public struct RenderedInvocation: Sendable, Equatable {
    /// The invocation with defaults added.
    public var invocation: JSONObject
    /// The command line, for `/bin/sh -c`.
    public var commandLine: String
    /// Output id to path (as bosh's `evaluate output-files/` gives them), in descriptor order. An optional
    /// conditional output none of whose conditions holds is absent.
    public var outputs: [(id: String, path: String)]
    /// Config files to write before running (from `file-template`): path and content (no trailing newline).
    public var configFiles: [(path: String, content: String)]

    public static func == (a: RenderedInvocation, b: RenderedInvocation) -> Bool {
        a.invocation == b.invocation && a.commandLine == b.commandLine && a.outputs.map(\.id) == b.outputs.map(\.id)
            && a.outputs.map(\.path) == b.outputs.map(\.path) && a.configFiles.map(\.path) == b.configFiles.map(\.path)
            && a.configFiles.map(\.content) == b.configFiles.map(\.content)
    }

    /// The path of an output.
    public func output(_ id: String) -> String? { outputs.first { $0.id == id }?.path }
}

/// Renders invocations into command lines exactly as bosh 0.5.33 does, with one deliberate difference: values
/// are substituted in a single pass over the template, so text inside one value is never taken for another
/// input's value-key (bosh's sequential substitution can put a value unquoted on the command line that way).
/// Output names keep bosh's own two-pass, sequential resolution: forward references between outputs need it,
/// and the names are quoted when they reach the command line.
public struct Renderer: Sendable {
    public let descriptor: Descriptor
    public let validator: InvocationValidator
    /// Relative output paths with `uses-absolute-path` are made absolute against this folder.
    public var workingDirectory: String

    private let params: [Param]
    private let inputIDs: Set<String>
    /// Bytes that begin some value-key: a text without any of them cannot hold a key.
    private let keyStarts: [Bool]
    /// For each template of the descriptor, the parameters whose keys occur in it.
    private let candidates: [String: [Int]]

    public init(_ descriptor: Descriptor, workingDirectory: String) {
        self.descriptor = descriptor
        self.validator = InvocationValidator(descriptor)
        self.workingDirectory = workingDirectory
        inputIDs = Set(descriptor.inputs.map(\.id))
        params =
            descriptor.inputs.map {
                Param(
                    id: $0.id, type: $0.type, valueKey: $0.valueKey, flag: $0.commandLineFlag, flagSeparator: $0.flagSeparator,
                    listSeparator: $0.listSeparator)
            }
            + descriptor.outputs.map {
                Param(id: $0.id, type: nil, valueKey: $0.valueKey, flag: $0.commandLineFlag, flagSeparator: $0.flagSeparator, listSeparator: nil)
            }
        var starts = [Bool](repeating: false, count: 256)
        for p in params { if let k = p.keyBytes { starts[Int(k[0])] = true } }
        keyStarts = starts
        var templates = [descriptor.commandLine]
        for o in descriptor.outputs {
            templates += [o.pathTemplate].compactMap { $0 } + (o.conditionalPathTemplate ?? []).map(\.path) + (o.fileTemplate ?? [])
        }
        var cands: [String: [Int]] = [:]
        let all = params
        for t in templates {
            let bytes = Array(t.utf8)
            cands[t] = all.indices.filter { all[$0].keyBytes.map { Bytes.find($0, in: bytes) != nil } ?? false }
        }
        candidates = cands
    }

    /// An input or an output, as substitution sees it (outputs have no type). A class: the renderer's inner loop
    /// passes it around without copying its strings.
    final class Param: Sendable {
        let id: String
        let type: Descriptor.InputType?
        let valueKey: String?
        let flag: String?
        let flagSeparator: String?
        let listSeparator: String?
        /// The value-key's bytes, and with a space before it (nil when the parameter has no value-key).
        let keyBytes: [UInt8]?
        let spacedKeyBytes: [UInt8]?

        init(id: String, type: Descriptor.InputType?, valueKey: String?, flag: String?, flagSeparator: String?, listSeparator: String?) {
            self.id = id
            self.type = type
            self.valueKey = valueKey
            self.flag = flag
            self.flagSeparator = flagSeparator
            self.listSeparator = listSeparator
            if let k = valueKey, !k.isEmpty {
                keyBytes = Array(k.utf8)
                spacedKeyBytes = Array((" " + k).utf8)
            } else {
                keyBytes = nil
                spacedKeyBytes = nil
            }
        }
    }

    /// Validates the invocation (adding defaults) and renders it.
    public func render(_ json: JSONValue, file: String? = nil) throws(BoutiquesError) -> RenderedInvocation {
        let inv = try validator.validate(json, file: file)
        return try render(validated: inv, file: file)
    }

    /// Renders an invocation that already has its defaults and passed validation.
    public func render(validated inv: JSONObject, file: String? = nil) throws(BoutiquesError) -> RenderedInvocation {
        // Each parameter's value by its index (inputs, then outputs): no lookup by name in the inner loop.
        var values = Values(params.map { p in p.type == nil ? nil : inv[p.id] })
        let out = try outputNames(&values, inv: inv, file: file)
        var configs: [(String, String)] = []
        for (k, o) in descriptor.outputs.enumerated() {
            guard let lines = o.fileTemplate, case .string(let path)? = values.vals[descriptor.inputs.count + k] else { continue }
            let rendered = try lines.map { (line) throws(BoutiquesError) -> String in
                try substitute(
                    line, values, useFlags: false, unfound: .clear, stripped: o.strippedExtensions, isOutput: false, escape: true, singlePass: true,
                    file: file)
            }
            configs.append((path, rendered.joined(separator: "\n")))
        }
        let cmd = try substitute(
            descriptor.commandLine, values, useFlags: true, unfound: .remove, stripped: [], isOutput: false, escape: true, singlePass: true,
            file: file)
        return RenderedInvocation(invocation: inv, commandLine: cmd, outputs: out, configFiles: configs)
    }

    /// The value of every parameter by index, and which are outputs already named (bosh's `inv ∪ out`).
    struct Values {
        var vals: [JSONValue?]
        var named: [Bool]
        init(_ vals: [JSONValue?]) {
            self.vals = vals
            named = Array(repeating: false, count: vals.count)
        }
    }

    /// Output names: two passes over the outputs in descriptor order (so an output may name a later one).
    func outputNames(_ values: inout Values, inv: JSONObject, file: String?) throws(BoutiquesError) -> [(id: String, path: String)] {
        let first = descriptor.inputs.count
        for _ in 0..<2 {
            for (k, o) in descriptor.outputs.enumerated() {
                var name: String
                if let conds = o.conditionalPathTemplate {
                    var chosen: String?
                    for c in conds {
                        if c.condition == "default" {
                            chosen = c.path
                            break
                        }
                        do {
                            if try ConditionExpression.evaluate(c.condition, invocation: inv, inputIDs: inputIDs) {
                                chosen = c.path
                                break
                            }
                        } catch {
                            throw BoutiquesError(
                                .evaluation,
                                [
                                    BoutiquesIssue(
                                        file: file, pointer: o.pointer + "/conditional-path-template", rule: "condition", message: "\(error)")
                                ])
                        }
                    }
                    guard let chosen else {
                        // bosh reuses the previous output's name here (or crashes); an optional output is absent instead.
                        if !o.optional {
                            throw BoutiquesError(
                                .evaluation,
                                [
                                    BoutiquesIssue(
                                        file: file, pointer: o.pointer + "/conditional-path-template", rule: "condition",
                                        message: "no condition holds and there is no \"default\" for the required output \"\(o.id)\"")
                                ])
                        }
                        values.vals[first + k] = nil
                        values.named[first + k] = false
                        continue
                    }
                    name = chosen
                } else {
                    name = values.vals[first + k]?.stringValue ?? o.pathTemplate ?? ""
                }
                name = try substitute(
                    name, values, useFlags: false, unfound: .keep, stripped: o.strippedExtensions, isOutput: true, escape: false, singlePass: false,
                    file: file)
                if o.usesAbsolutePath { name = PythonFormat.abspath(name, cwd: workingDirectory) }
                values.vals[first + k] = .string(name)
                values.named[first + k] = true
            }
        }
        return descriptor.outputs.enumerated().compactMap { k, o in values.vals[first + k]?.stringValue.map { (o.id, $0) } }
    }

    enum Unfound {
        /// Remove the key (with the space before it, when some occurrence has one).
        case remove
        /// The whole line becomes empty (config files).
        case clear
        /// Leave the key as it is (output names).
        case keep
    }

    /// What happens to a value-key: replaced by text, removed where a space precedes it, removed everywhere, left.
    enum Action {
        case replace([UInt8])
        case removeSpaced
        case removeAll
        case keep
    }

    /// bosh's substitution routine (`replaceKeysInTemplate`), parameter by parameter in descriptor order.
    func substitute(
        _ template: String, _ values: Values, useFlags: Bool, unfound: Unfound, stripped: [String], isOutput: Bool, escape: Bool, singlePass: Bool,
        file: String?
    ) throws(BoutiquesError) -> String {
        // No byte that could begin a key: nothing to substitute (checked before copying the text).
        guard template.utf8.contains(where: { keyStarts[Int($0)] }) else { return template }
        let original = Array(template.utf8)
        var actions: [(key: [UInt8], action: Action)] = []
        var text = original
        // Only the parameters whose keys occur in the template, unless a value brings in a possible key start
        // (then, as bosh does, every later key is looked for in the new text).
        let listed = candidates[template]
        var order = listed ?? Array(params.indices)
        var position = 0
        while position < order.count {
            let n = order[position]
            position += 1
            let p = params[n]
            // A key that is not in the text changes nothing, whatever its value: skip the formatting.
            guard let key = p.keyBytes, Bytes.find(key, in: singlePass ? original : text) != nil else { continue }
            let action: Action
            if let value = values.vals[n] {
                let esc = (escape && (p.type == .string || p.type == .file)) || values.named[n]
                var v: String
                var isFalse = false
                switch value {
                case .array(let items):
                    v = items.map { esc ? PythonFormat.shellQuote(PythonFormat.str($0)) : PythonFormat.str($0) }.joined(
                        separator: p.listSeparator ?? " ")
                default:
                    if esc {
                        guard case .string(let s) = value else {
                            throw BoutiquesError(
                                .evaluation,
                                [
                                    BoutiquesIssue(
                                        file: file, pointer: "/" + JSONSchemaValidator.escape(p.id), rule: "invocation.type",
                                        message: "\(value.shortText) is not a string and cannot be quoted for the shell")
                                ])
                        }
                        v = PythonFormat.shellQuote(s)
                    } else {
                        v = PythonFormat.str(value)
                        isFalse = value == .bool(false)
                    }
                }
                if useFlags, let flag = p.flag {
                    if p.type == .flag {
                        v = isFalse ? "" : flag
                    } else {
                        v = flag + (p.flagSeparator ?? " ") + v
                    }
                }
                if p.type == .string || p.type == .file {
                    for e in stripped where !e.isEmpty { v = v.replacingAll(e, with: "") }
                    if p.type == .file && isOutput, let at = Bytes.find(key, in: text), at > 0 { v = PythonFormat.basename(v) }
                }
                action = v.isEmpty ? .removeSpaced : .replace(Array(v.utf8))
            } else {
                switch unfound {
                case .remove: action = Bytes.find(p.spacedKeyBytes!, in: singlePass ? original : text) != nil ? .removeSpaced : .removeAll
                case .clear: return ""
                case .keep: action = .keep
                }
            }
            if singlePass {
                actions.append((key, action))
            } else {
                switch action {
                case .replace(let v):
                    text = Bytes.replaceAll(key, with: v, in: text)
                    if listed != nil, order.count < params.count, v.contains(where: { keyStarts[Int($0)] }) {
                        order = Array(order[..<position]) + Array((n + 1)..<params.count)
                    }
                case .removeSpaced: text = Bytes.replaceAll(p.spacedKeyBytes!, with: [], in: text)
                case .removeAll: text = Bytes.replaceAll(key, with: [], in: text)
                case .keep: break
                }
            }
        }
        return String(decoding: singlePass ? Renderer.singlePass(original, actions) : text, as: UTF8.self)
    }

    /// Applies every key's action in one scan of the template: what a value brings in is never scanned again.
    static func singlePass(_ t: [UInt8], _ actions: [(key: [UInt8], action: Action)]) -> [UInt8] {
        let keys = actions.map(\.key)
        var first = [Bool](repeating: false, count: 256)
        for k in keys where !k.isEmpty { first[Int(k[0])] = true }
        var out: [UInt8] = []
        out.reserveCapacity(t.count + 64)
        var lastIsTemplateSpace = false
        var i = 0
        scan: while i < t.count {
            if first[Int(t[i])] {
                for (n, k) in keys.enumerated() where !k.isEmpty && i + k.count <= t.count && t[i] == k[0] {
                    var match = true
                    for j in 1..<k.count where t[i + j] != k[j] {
                        match = false
                        break
                    }
                    guard match else { continue }
                    switch actions[n].action {
                    case .replace(let v):
                        out.append(contentsOf: v)
                        lastIsTemplateSpace = false
                    case .removeSpaced:
                        if lastIsTemplateSpace {
                            out.removeLast()
                        } else {
                            out.append(contentsOf: k)
                        }
                        lastIsTemplateSpace = false
                    case .removeAll:
                        break
                    case .keep:
                        out.append(contentsOf: k)
                        lastIsTemplateSpace = false
                    }
                    i += k.count
                    continue scan
                }
            }
            out.append(t[i])
            lastIsTemplateSpace = t[i] == 0x20
            i += 1
        }
        return out
    }
}

/// Byte-level search and replace (the standard library's `String.contains(String)` builds a searcher per call,
/// far too slow for the renderer's inner loop).
enum Bytes {
    /// The offset of the first occurrence of `needle` (Python's `str.find`, in bytes).
    static func find(_ needle: [UInt8], in hay: [UInt8], from start: Int = 0) -> Int? {
        guard !needle.isEmpty, hay.count - start >= needle.count else { return nil }
        return hay.withUnsafeBytes { h in
            needle.withUnsafeBytes { k in
                let base = h.baseAddress!
                let first = Int32(k[0])
                var i = start
                let last = h.count - k.count
                while i <= last {
                    guard let p = memchr(base + i, first, last - i + 1) else { return nil }
                    let at = base.distance(to: UnsafeRawPointer(p))
                    if memcmp(base + at, k.baseAddress!, k.count) == 0 { return at }
                    i = at + 1
                }
                return nil
            }
        }
    }

    /// Every occurrence of `needle` replaced (Python's `str.replace`).
    static func replaceAll(_ needle: [UInt8], with replacement: [UInt8], in hay: [UInt8]) -> [UInt8] {
        guard var at = find(needle, in: hay) else { return hay }
        var out: [UInt8] = []
        out.reserveCapacity(hay.count + replacement.count)
        var from = 0
        while true {
            out.append(contentsOf: hay[from..<at])
            out.append(contentsOf: replacement)
            from = at + needle.count
            guard let next = find(needle, in: hay, from: from) else { break }
            at = next
        }
        out.append(contentsOf: hay[from...])
        return out
    }
}

extension String {
    /// Every occurrence of `target` replaced by `replacement` (Python's `str.replace`).
    func replacingAll(_ target: String, with replacement: String) -> String {
        let hay = Array(utf8)
        let needle = Array(target.utf8)
        guard Bytes.find(needle, in: hay) != nil else { return self }
        return String(decoding: Bytes.replaceAll(needle, with: Array(replacement.utf8), in: hay), as: UTF8.self)
    }
}
