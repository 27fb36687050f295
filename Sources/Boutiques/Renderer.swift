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
    /// Parameter index by input id (inputs come first in `params`).
    private let inputIndex: [String: Int]
    /// Bytes that begin some value-key: a text without any of them cannot hold a key.
    private let keyStarts: [Bool]
    /// The command line, and each output with its templates, compiled once.
    private let commandLine: Template
    private let outputPlans: [OutputPlan]

    public init(_ descriptor: Descriptor, workingDirectory: String) {
        self.descriptor = descriptor
        self.validator = InvocationValidator(descriptor)
        self.workingDirectory = workingDirectory
        inputIDs = Set(descriptor.inputs.map(\.id))
        var index: [String: Int] = [:]
        for (i, input) in descriptor.inputs.enumerated() where index[input.id] == nil { index[input.id] = i }
        inputIndex = index
        let params =
            descriptor.inputs.map {
                Param(
                    id: $0.id, type: $0.type, valueKey: $0.valueKey, flag: $0.commandLineFlag, flagSeparator: $0.flagSeparator,
                    listSeparator: $0.listSeparator)
            }
            + descriptor.outputs.map {
                Param(id: $0.id, type: nil, valueKey: $0.valueKey, flag: $0.commandLineFlag, flagSeparator: $0.flagSeparator, listSeparator: nil)
            }
        self.params = params
        var starts = [Bool](repeating: false, count: 256)
        for p in params { if let k = p.keyBytes { starts[Int(k[0])] = true } }
        keyStarts = starts
        func compile(_ text: String) -> Template { Template(text, params: params, keyStarts: starts) }
        commandLine = compile(descriptor.commandLine)
        outputPlans = descriptor.outputs.enumerated().map { k, o in
            OutputPlan(
                output: o, param: descriptor.inputs.count + k, pathTemplate: o.pathTemplate.map(compile),
                conditional: o.conditionalPathTemplate?.map { ($0.condition, compile($0.path)) }, fileTemplate: o.fileTemplate?.map(compile))
        }
    }

    /// A text that substitution works on, with what is known before any invocation: its bytes and the parameters
    /// whose keys occur in it. Descriptor templates are compiled once; other texts (names given in an invocation,
    /// a first pass's output names) are compiled when they could hold a key.
    final class Template: Sendable {
        let text: String
        let bytes: [UInt8]
        /// Whether some byte could begin a key (when not, substitution leaves the text as it is).
        let mayHoldKey: Bool
        /// The parameters whose keys occur in the text, in order; nil: look for every parameter's key.
        let candidates: [Int]?

        /// The template cut into literal text and keys (slots of `candidates`), and for each candidate whether its
        /// key occurs with a space before it: what single-pass substitution needs (nil for texts known only now).
        let pieces: [Piece]?
        let spacedKey: [Bool]
        /// The candidates' keys, by slot.
        let keys: [[UInt8]]

        init(_ text: String, params: [Param], keyStarts: [Bool]) {
            self.text = text
            let b = Array(text.utf8)
            bytes = b
            mayHoldKey = Renderer.mayHoldKey(text, keyStarts)
            let listed = params.indices.filter { params[$0].keyBytes.map { Bytes.find($0, in: b) != nil } ?? false }
            candidates = listed
            keys = listed.map { params[$0].keyBytes! }
            pieces = Renderer.pieces(of: b, keys: keys)
            spacedKey = listed.map { Bytes.find(params[$0].spacedKeyBytes!, in: b) != nil }
        }

        /// A text known only now: every parameter's key is looked for.
        init(adHoc text: String, keyStarts: [Bool]) {
            self.text = text
            bytes = Array(text.utf8)
            mayHoldKey = Renderer.mayHoldKey(text, keyStarts)
            candidates = nil
            pieces = nil
            spacedKey = []
            keys = []
        }
    }

    /// An output and its compiled templates (a class: the loops over outputs pass it without copying its fields).
    final class OutputPlan: Sendable {
        let id: String
        let pointer: String
        let optional: Bool
        let usesAbsolutePath: Bool
        let strippedExtensions: [String]
        /// The output's index among the parameters.
        let param: Int
        let pathTemplate: Template?
        let conditional: [(condition: String, path: Template)]?
        let fileTemplate: [Template]?

        init(
            output: Descriptor.Output, param: Int, pathTemplate: Template?, conditional: [(condition: String, path: Template)]?,
            fileTemplate: [Template]?
        ) {
            id = output.id
            pointer = output.pointer
            optional = output.optional
            usesAbsolutePath = output.usesAbsolutePath
            strippedExtensions = output.strippedExtensions
            self.param = param
            self.pathTemplate = pathTemplate
            self.conditional = conditional
            self.fileTemplate = fileTemplate
        }
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
        var values = Values([JSONValue?](repeating: nil, count: params.count), inputs: descriptor.inputs.count)
        for (key, value) in inv.entries { if let i = inputIndex[key] { values.vals[i] = value } }
        let out = try outputNames(&values, inv: inv, file: file)
        var configs: [(String, String)] = []
        for plan in outputPlans {
            guard let lines = plan.fileTemplate, case .string(let path)? = values.vals[plan.param] else { continue }
            let rendered = try lines.map { (line) throws(BoutiquesError) -> String in
                try substitute(
                    line, values, useFlags: false, unfound: .clear, stripped: plan.strippedExtensions, isOutput: false, escape: true,
                    singlePass: true, file: file)
            }
            configs.append((path, rendered.joined(separator: "\n")))
        }
        let cmd = try substitute(
            commandLine, values, useFlags: true, unfound: .remove, stripped: [], isOutput: false, escape: true, singlePass: true, file: file)
        return RenderedInvocation(invocation: inv, commandLine: cmd, outputs: out, configFiles: configs)
    }

    /// The value of every parameter by index, and which are outputs already named (bosh's `inv ∪ out`).
    struct Values {
        var vals: [JSONValue?]
        var named: [Bool]
        /// Output names often share an input (`[PREFIX]_mask.nii.gz`, `[PREFIX]_mesh.vtk`, ...): what an input's key
        /// becomes in a name is worked out once per render (inputs' values never change while names are made).
        let nameActions: NameActions
        init(_ vals: [JSONValue?], inputs: Int) {
            self.vals = vals
            named = Array(repeating: false, count: vals.count)
            nameActions = NameActions(inputs: inputs)
        }
    }

    /// Per render: the action of input `n`'s key in an output name without stripped extensions, at the start of
    /// the name (slot 2n) or after it (slot 2n+1, where a File input gives its basename).
    final class NameActions {
        var slots: [Action?]
        init(inputs: Int) { slots = Array(repeating: nil, count: 2 * inputs) }
    }

    /// Output names: two passes over the outputs in descriptor order (so an output may name a later one).
    func outputNames(_ values: inout Values, inv: JSONObject, file: String?) throws(BoutiquesError) -> [(id: String, path: String)] {
        for _ in 0..<2 {
            for plan in outputPlans {
                let o = plan
                let k = plan.param
                let template: Template
                if let conds = plan.conditional {
                    var chosen: Template?
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
                        values.vals[k] = nil
                        values.named[k] = false
                        continue
                    }
                    template = chosen
                } else if let named = values.vals[k]?.stringValue {
                    // A name from the invocation or the first pass: only worth compiling when it could hold a key.
                    guard Renderer.mayHoldKey(named, keyStarts) else {
                        if o.usesAbsolutePath { values.vals[k] = .string(PythonFormat.abspath(named, cwd: workingDirectory)) }
                        values.named[k] = true
                        continue
                    }
                    template = Template(adHoc: named, keyStarts: keyStarts)
                } else if let t = plan.pathTemplate {
                    template = t
                } else {
                    template = Template(adHoc: "", keyStarts: keyStarts)
                }
                var name = try substitute(
                    template, values, useFlags: false, unfound: .keep, stripped: o.strippedExtensions, isOutput: true, escape: false,
                    singlePass: false,
                    file: file)
                if o.usesAbsolutePath { name = PythonFormat.abspath(name, cwd: workingDirectory) }
                values.vals[k] = .string(name)
                values.named[k] = true
            }
        }
        return outputPlans.compactMap { plan in values.vals[plan.param]?.stringValue.map { (plan.id, $0) } }
    }

    /// Whether a text (or a value's bytes) holds a byte that can start a value-key: only then can it bring in a key.
    static func mayHoldKey(_ text: String, _ keyStarts: [Bool]) -> Bool { text.containsUTF8 { keyStarts[Int($0)] } }
    static func mayHoldKey(_ bytes: [UInt8], _ keyStarts: [Bool]) -> Bool { bytes.contains { keyStarts[Int($0)] } }

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
    ///
    /// `singlePass` (command lines and config files, whose templates are compiled): every key's action is decided
    /// first, then the template's pieces are written out once, so no value is ever scanned for keys. Otherwise
    /// (output names, as bosh does): each key is replaced in the text as it stands after the keys before it.
    func substitute(
        _ template: Template, _ values: Values, useFlags: Bool, unfound: Unfound, stripped: [String], isOutput: Bool, escape: Bool,
        singlePass: Bool, file: String?
    ) throws(BoutiquesError) -> String {
        // No byte that could begin a key: nothing to substitute.
        guard template.mayHoldKey else { return template.text }
        if singlePass, let pieces = template.pieces, let listed = template.candidates {
            var actions: [Action] = []
            actions.reserveCapacity(listed.count)
            for (slot, n) in listed.enumerated() {
                let spaced = template.spacedKey[slot]
                guard
                    let action = try action(
                        n, values, useFlags: useFlags, unfound: unfound, stripped: stripped, isOutput: isOutput, escape: escape, keyAfterStart: true,
                        spacedKeyPresent: spaced, file: file)
                else { return "" }
                actions.append(action)
            }
            return Renderer.write(pieces, of: template.bytes, actions: actions, keys: template.keys)
        }
        // What parameter n's key becomes, its key first found at byte `at`: from the per-render cache of output
        // names when it can be, else worked out (nil: the text becomes empty).
        func actionOf(_ n: Int, at: Int, spaced: @autoclosure () -> Bool) throws(BoutiquesError) -> Action? {
            let cacheSlot = isOutput && stripped.isEmpty && 2 * n < values.nameActions.slots.count ? 2 * n + (at > 0 ? 1 : 0) : nil
            if let cacheSlot, let cached = values.nameActions.slots[cacheSlot] { return cached }
            guard
                let computed = try self.action(
                    n, values, useFlags: useFlags, unfound: unfound, stripped: stripped, isOutput: isOutput, escape: escape, keyAfterStart: at > 0,
                    spacedKeyPresent: spaced(), file: file)
            else { return nil }
            if let cacheSlot, unfound == .keep { values.nameActions.slots[cacheSlot] = computed }
            return computed
        }
        // One key in the template (`[PREFIX]_mask.nii.gz`): replacing it everywhere at once is what the sequential
        // substitution below does, unless its value brings in a possible key start (then later keys are looked
        // for in the new text). The compiled pieces give the name without searching.
        if let pieces = template.pieces, let listed = template.candidates, listed.count == 1 {
            let first: Int
            if case .text(let r)? = pieces.first { first = r.count } else { first = 0 }
            guard let action = try actionOf(listed[0], at: first, spaced: template.spacedKey[0]) else { return "" }
            if case .replace(let v) = action, Renderer.mayHoldKey(v, keyStarts) {
                // Falls through to the sequential substitution.
            } else {
                return Renderer.write(pieces, of: template.bytes, actions: [action], keys: template.keys)
            }
        }
        var text = template.bytes
        // Only the parameters whose keys occur in the template, unless a value brings in a possible key start
        // (then, as bosh does, every later key is looked for in the new text).
        let listed = template.candidates
        var order = listed ?? Array(params.indices)
        var position = 0
        while position < order.count {
            let n = order[position]
            position += 1
            let p = params[n]
            // A key that is not in the text changes nothing, whatever its value: skip the formatting.
            guard let key = p.keyBytes, let at = Bytes.find(key, in: text) else { continue }
            guard let action = try actionOf(n, at: at, spaced: Bytes.find(p.spacedKeyBytes!, in: text) != nil) else { return "" }
            switch action {
            case .replace(let v):
                text = Bytes.replaceAll(key, with: v, in: text)
                if listed != nil, order.count < params.count, Renderer.mayHoldKey(v, keyStarts) {
                    order = Array(order[..<position]) + Array((n + 1)..<params.count)
                }
            case .removeSpaced: text = Bytes.replaceAll(p.spacedKeyBytes!, with: [], in: text)
            case .removeAll: text = Bytes.replaceAll(key, with: [], in: text)
            case .keep: break
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// What becomes of parameter `n`'s key: its value formatted as bosh formats it (quoting, list separator, flag,
    /// stripped extensions, the basename of a File output referenced after the start of a name), or what an
    /// absent value does. nil: the whole text becomes empty (`unfound: .clear`).
    private func action(
        _ n: Int, _ values: Values, useFlags: Bool, unfound: Unfound, stripped: [String], isOutput: Bool, escape: Bool, keyAfterStart: Bool,
        spacedKeyPresent: @autoclosure () -> Bool, file: String?
    ) throws(BoutiquesError) -> Action? {
        let p = params[n]
        guard let value = values.vals[n] else {
            switch unfound {
            case .remove: return spacedKeyPresent() ? .removeSpaced : .removeAll
            case .clear: return nil
            case .keep: return .keep
            }
        }
        let esc = (escape && (p.type == .string || p.type == .file)) || values.named[n]
        var v: String
        var isFalse = false
        switch value {
        case .array(let items):
            v = items.map { esc ? PythonFormat.shellQuote(PythonFormat.str($0)) : PythonFormat.str($0) }.joined(separator: p.listSeparator ?? " ")
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
            if p.type == .file && isOutput && keyAfterStart { v = PythonFormat.basename(v) }
        }
        return v.isEmpty ? .removeSpaced : .replace(Array(v.utf8))
    }

    /// A compiled template's pieces: literal text, or the key of the candidate in that slot.
    enum Piece: Sendable {
        case text(Range<Int>)
        case key(slot: Int)
    }

    /// Cuts a template into pieces, taking at each position the first candidate (in parameter order) whose key
    /// starts there, exactly as a left-to-right scan of the template would.
    static func pieces(of t: [UInt8], keys: [[UInt8]]) -> [Piece] {
        var first = [Bool](repeating: false, count: 256)
        for k in keys where !k.isEmpty { first[Int(k[0])] = true }
        var pieces: [Piece] = []
        var literalStart = 0
        var i = 0
        scan: while i < t.count {
            if first[Int(t[i])] {
                for (slot, k) in keys.enumerated() where !k.isEmpty && i + k.count <= t.count && t[i..<(i + k.count)].elementsEqual(k) {
                    if literalStart < i { pieces.append(.text(literalStart..<i)) }
                    pieces.append(.key(slot: slot))
                    i += k.count
                    literalStart = i
                    continue scan
                }
            }
            i += 1
        }
        if literalStart < t.count { pieces.append(.text(literalStart..<t.count)) }
        return pieces
    }

    /// The text the pieces make with each key's action applied, written straight into the new String's storage (one
    /// allocation: the length is bounded first). A key removed "with its space" takes the template space just before
    /// it, when the text written last is one; otherwise the key stays (bosh removes " KEY" only).
    static func write(_ pieces: [Piece], of t: [UInt8], actions: [Action], keys: [[UInt8]]) -> String {
        var capacity = 0
        for piece in pieces {
            switch piece {
            case .text(let r): capacity += r.count
            case .key(let slot):
                if case .replace(let v) = actions[slot] { capacity += v.count } else { capacity += keys[slot].count }
            }
        }
        return String(unsafeUninitializedCapacity: capacity) { out in
            var n = 0
            func append(_ bytes: ArraySlice<UInt8>) {
                bytes.withUnsafeBufferPointer { b in
                    if b.count > 0 { UnsafeMutableRawPointer(out.baseAddress! + n).copyMemory(from: b.baseAddress!, byteCount: b.count) }
                }
                n += bytes.count
            }
            var lastIsTemplateSpace = false
            for piece in pieces {
                switch piece {
                case .text(let r):
                    append(t[r])
                    lastIsTemplateSpace = t[r.upperBound - 1] == 0x20
                case .key(let slot):
                    switch actions[slot] {
                    case .replace(let v):
                        append(v[...])
                        lastIsTemplateSpace = false
                    case .removeSpaced:
                        if lastIsTemplateSpace { n -= 1 } else { append(keys[slot][...]) }
                        lastIsTemplateSpace = false
                    case .removeAll:
                        break
                    case .keep:
                        append(keys[slot][...])
                        lastIsTemplateSpace = false
                    }
                }
            }
            return n
        }
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
        out.reserveCapacity(hay.count + max(0, replacement.count - needle.count) * 2)
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
