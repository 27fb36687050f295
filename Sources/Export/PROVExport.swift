import Boutiques
import EventLog
import Foundation
import JSON
import Query

/// `clowdr export prov`: the experiment as W3C PROV (PROV-JSON or PROV-N).
///
/// - Agents: the user (prov:Person) and clowdr (prov:SoftwareAgent, with its version), clowdr acting on the
///   user's behalf.
/// - The descriptor is a prov:Plan; each task's invocation is an entity; each attempt is an activity with its
///   start and end, exit code, signal, peak RSS, CPU time and wall time as typed `clowdr:` attributes, associated
///   with clowdr and the plan.
/// - An attempt `used` its invocation and its input files; each output `wasGeneratedBy` its attempt (with its
///   sha256) and `wasDerivedFrom` the inputs; a rerun attempt `wasInformedBy` the attempt it replaces.
/// - Where the attempt's files were observed (`task_files`), the files it read or executed are entities it `used`,
///   and those it wrote, created or renamed into place entities it generated, derived from what it read, each
///   with its sha256; system files (programs, libraries: `FileGroup.system`) are left out.
///
/// Valid by construction: every relation names declared elements, every time is an xsd:dateTime, qualified
/// names are typed as such. The output is deterministic for a given log.
public enum PROVExport {
    public enum Format: String, Sendable, CaseIterable { case json, provn }

    /// The namespace of clowdr's identifiers and attributes.
    public static let namespace = "https://clowdr.example/ns/"

    struct Element {
        var kind: String  // entity, activity, agent
        var id: String
        var attributes: [(String, Attr)]
    }
    enum Attr {
        case qname(String)
        case string(String)
        case int(Int64)
        case double(Double)
        case time(String)
    }
    struct Relation {
        var kind: String
        var args: [(String, String?)]  // role name, qualified name or nil
        var attributes: [(String, Attr)] = []
    }

    /// Writes the PROV document of the log at `logPath`. The descriptor at `descriptorPath` (the experiment's copy)
    /// says which inputs are files: an invocation's values of File inputs become the entities each attempt used.
    /// Without it (a bare log), no input file is declared.
    ///
    /// Streams: elements and relations go to spool files (temporary, unlinked) as they are made, one per section of
    /// the document, then are copied into the output in order; memory holds the ids declared, not the document.
    public static func write(logPath: String, descriptorPath: String?, to output: String, format: Format) throws {
        let fileInputs = try descriptorPath.flatMap(fileInputIDs) ?? []
        let writer: any PROVWriter = try format == .json ? PROVJSONWriter() : PROVNWriter()
        try ExperimentRecords.read(path: logPath) { try build($0, fileInputs: fileInputs, into: writer) }
        try AtomicFile.write(to: output) { try writer.finish(into: $0) }
    }

    /// The ids of the descriptor's File inputs; nil when there is no descriptor at `path`.
    static func fileInputIDs(_ path: String) throws -> Set<String>? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return Set(try DescriptorValidator.load(path).inputs.filter { $0.type == .file }.map(\.id))
    }

    /// A qualified name's local part: letters, digits and `_ - .` kept, everything else percent-encoded.
    static func local(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"):
                out.append(Character(Unicode.Scalar(b)))
            default: out += String(format: "_%02X", b)
            }
        }
        return out
    }

    /// The document under construction: elements declared once each, in order, and relations, handed to the writer.
    struct Document {
        let writer: any PROVWriter
        private var declared = Set<String>()
        /// The entities some activity generated (observed files: one generation each).
        var generated = Set<String>()

        init(writer: any PROVWriter) { self.writer = writer }

        mutating func declare(_ e: Element) {
            if declared.insert(e.id).inserted { writer.element(e) }
        }
        func relate(_ kind: String, _ args: [(String, String?)]) { writer.relation(Relation(kind: kind, args: args)) }
    }

    /// The ids every attempt refers to: clowdr, acting for the user, and the descriptor, its plan.
    struct Agents {
        var clowdr: String
        var plan: String
    }

    /// An output of an attempt that exists.
    typealias Output = (id: String, path: String, sha: String?)

    static func build(_ records: ExperimentRecords, fileInputs: Set<String>, into writer: any PROVWriter) throws {
        var doc = Document(writer: writer)
        let agents = try declareAgents(records.experiment(), into: &doc)
        let inputs = try inputFiles(records, fileInputs: fileInputs)
        let outputs = try outputsByAttempt(records)
        let labels = try labelsByTask(records)
        let starts = try records.payloadsByAttempt(.taskStarted) { if case .taskStarted(let p) = $0 { p } else { nil } }
        let images = try records.payloadsByAttempt(.imageResolved) { if case .imageResolved(let p) = $0 { p } else { nil } }
        var sets: [String: [FileUse]] = [:]  // the shared sets decoded so far
        var previous: [String: String] = [:]  // task -> its previous attempt's activity
        try records.forEachAttempt(.task) { task, a in
            let act = declareAttempt(
                task, a, labels: labels[task], environment: (starts["\(task)/\(a.attempt)"], images["\(task)/\(a.attempt)"]), agents: agents,
                into: &doc)
            let used = declareInputs(of: task, activity: act, inputs: inputs[task] ?? [], labels: labels[task], into: &doc)
            declareOutputs(outputs["\(task)/\(a.attempt)"] ?? [], of: task, attempt: a.attempt, activity: act, derivedFrom: used, into: &doc)
            // Each attempt's files read when its turn comes (100,000 attempts' would not fit in memory at once).
            if let record = try records.taskFiles(task: task, attempt: a.attempt), record.traced {
                let uses = try records.uses(of: record, sets: &sets)
                let declared = (outputs["\(task)/\(a.attempt)"] ?? []).map { ($0.path, outputID(task, a.attempt, $0.id)) }
                declareObserved(uses, activity: act, declaredOutputs: Dictionary(declared, uniquingKeysWith: { a, _ in a }), into: &doc)
            }
            if let before = previous[task] { doc.relate("wasInformedBy", [("prov:informed", act), ("prov:informant", before)]) }
            previous[task] = act
        }
    }

    /// The user, clowdr and the descriptor, from `experiment_created`.
    static func declareAgents(_ created: ExperimentRow?, into doc: inout Document) throws -> Agents {
        let payload = try created.map { try JSONParser.parse($0.payload) }
        let user = payload?["user"]?.stringValue ?? "unknown"
        let version = payload?["clowdr_version"]?.stringValue ?? "unknown"
        let descriptorSHA = payload?["descriptor_sha256"]?.stringValue ?? "unknown"
        let toolName = payload?["tool_name"]?.stringValue ?? ""
        let userID = "clowdr:user_" + local(user)
        let agents = Agents(clowdr: "clowdr:clowdr_" + local(version), plan: "clowdr:descriptor_" + local(descriptorSHA))
        doc.declare(Element(kind: "agent", id: userID, attributes: [("prov:type", .qname("prov:Person")), ("prov:label", .string(user))]))
        doc.declare(
            Element(
                kind: "agent", id: agents.clowdr, attributes: [("prov:type", .qname("prov:SoftwareAgent")), ("clowdr:version", .string(version))]))
        doc.declare(
            Element(
                kind: "entity", id: agents.plan,
                attributes: [("prov:type", .qname("prov:Plan")), ("clowdr:sha256", .string(descriptorSHA)), ("prov:label", .string(toolName))]))
        doc.relate("actedOnBehalfOf", [("prov:delegate", agents.clowdr), ("prov:responsible", userID)])
        return agents
    }

    /// Each task's input files: its invocation's values of the File inputs (one path, or a list of them).
    static func inputFiles(_ records: ExperimentRecords, fileInputs: Set<String>) throws -> [String: [String]] {
        var inputs: [String: [String]] = [:]
        guard !fileInputs.isEmpty else { return inputs }
        try records.forEachPlan { plan in
            guard let text = plan.invocation, case .object(let invocation) = try JSONParser.parse(text) else { return }
            var files: [String] = []
            for (id, v) in invocation where fileInputs.contains(id) {
                for item in (v.arrayValue ?? [v]) { if let path = item.stringValue { files.append(path) } }
            }
            inputs[plan.task] = files
        }
        return inputs
    }

    /// Each attempt's outputs that exist, by "task/attempt".
    static func outputsByAttempt(_ records: ExperimentRecords) throws -> [String: [Output]] {
        var outputs: [String: [Output]] = [:]
        try records.forEachExit { outputs["\($0.task)/\($0.attempt)"] = try $0.existingOutputs() }
        return outputs
    }

    /// Each task's labels (participant, session, swept values...), as people read them.
    static func labelsByTask(_ records: ExperimentRecords) throws -> [String: String] {
        var labels: [String: String] = [:]
        try records.forEachTask(labelled: true) { labels[$0.task] = TaskLabels.text($0.labels) }
        return labels
    }

    /// The attempt's activity, associated with clowdr and the plan; returns its id.
    static func declareAttempt(
        _ task: String, _ a: AttemptRecord, labels: String?, environment: (start: TaskStarted?, image: ImageResolved?) = (nil, nil), agents: Agents,
        into doc: inout Document
    ) -> String {
        let act = "clowdr:attempt_\(local(task))_\(a.attempt)"
        var attrs: [(String, Attr)] = []
        if let t = a.startedAt { attrs.append(("prov:startTime", .time(t.iso8601))) }
        if let t = a.endedAt { attrs.append(("prov:endTime", .time(t.iso8601))) }
        attrs += [("prov:type", .qname("clowdr:Attempt")), ("clowdr:task", .string(task)), ("clowdr:state", .string(a.state.rawValue))]
        if let l = labels { attrs += [("prov:label", .string("task \(task) attempt \(a.attempt) (\(l))")), ("clowdr:labels", .string(l))] }
        if let v = a.exitCode { attrs.append(("clowdr:exitCode", .int(Int64(v)))) }
        if let v = a.signal { attrs.append(("clowdr:signal", .int(Int64(v)))) }
        if let v = a.peakRSS { attrs.append(("clowdr:peakRSS", .int(v))) }
        if let u = a.cpuUser { attrs.append(("clowdr:cpuTime", .double(u + (a.cpuSystem ?? 0)))) }
        if let w = a.wallTime { attrs.append(("clowdr:wallTime", .double(w))) }
        attrs += environmentAttributes(environment.start, environment.image)
        doc.declare(Element(kind: "activity", id: act, attributes: attrs))
        doc.relate("wasAssociatedWith", [("prov:activity", act), ("prov:agent", agents.clowdr), ("prov:plan", agents.plan)])
        return act
    }

    /// The task's invocation and input files, used by the attempt; returns the input files' ids.
    static func declareInputs(of task: String, activity act: String, inputs: [String], labels: String?, into doc: inout Document) -> [String] {
        let invocation = "clowdr:invocation_\(local(task))"
        var attrs: [(String, Attr)] = [("prov:type", .qname("clowdr:Invocation")), ("clowdr:task", .string(task))]
        if let l = labels { attrs.append(("clowdr:labels", .string(l))) }
        doc.declare(Element(kind: "entity", id: invocation, attributes: attrs))
        doc.relate("used", [("prov:activity", act), ("prov:entity", invocation)])
        return inputs.map { path in
            let id = "clowdr:file_" + local(path)
            doc.declare(Element(kind: "entity", id: id, attributes: [("prov:type", .qname("clowdr:File")), ("prov:location", .string(path))]))
            doc.relate("used", [("prov:activity", act), ("prov:entity", id)])
            return id
        }
    }

    /// The attempt's outputs, generated by it and derived from its inputs.
    static func declareOutputs(
        _ outputs: [Output], of task: String, attempt: Int, activity act: String, derivedFrom inputs: [String], into doc: inout Document
    ) {
        for o in outputs {
            let id = outputID(task, attempt, o.id)
            var attrs: [(String, Attr)] = [("prov:type", .qname("clowdr:File")), ("prov:location", .string(o.path))]
            if let sha = o.sha { attrs.append(("clowdr:sha256", .string(sha))) }
            doc.declare(Element(kind: "entity", id: id, attributes: attrs))
            doc.relate("wasGeneratedBy", [("prov:entity", id), ("prov:activity", act)])
            for input in inputs where input != id { doc.relate("wasDerivedFrom", [("prov:generatedEntity", id), ("prov:usedEntity", input)]) }
        }
    }

    /// What an attempt was observed to read and make: files used, files generated and derived from them (an output
    /// the descriptor declares is that output's entity already, and is not declared twice).
    static func declareObserved(_ uses: [FileUse], activity act: String, declaredOutputs: [String: String], into doc: inout Document) {
        // A file's version: its path and hash (so an output read by a later attempt is the same entity).
        func entity(_ path: String, _ sha: String?) -> String {
            let id = "clowdr:file_" + local(path) + (sha.map { "_" + $0.prefix(16) } ?? "")
            var attrs: [(String, Attr)] = [("prov:type", .qname("clowdr:File")), ("prov:location", .string(path))]
            if let sha { attrs.append(("clowdr:sha256", .string(sha))) }
            doc.declare(Element(kind: "entity", id: id, attributes: attrs))
            return id
        }
        var read: [String] = []
        for u in uses where u.kind.consumes && FileGroup.of(u) != .system {
            let id = entity(u.path, u.sha256)
            doc.relate("used", [("prov:activity", act), ("prov:entity", id)])
            read.append(id)
        }
        for u in uses where u.kind.produces || u.kind == .renamed {
            let path = u.kind == .renamed ? (u.to ?? u.path) : u.path
            if let declared = declaredOutputs[path] {  // generated already: derived from what was read as well
                for input in read { doc.relate("wasDerivedFrom", [("prov:generatedEntity", declared), ("prov:usedEntity", input)]) }
                continue
            }
            guard u.sha256 != nil else { continue }  // gone: a temporary file
            let id = entity(path, u.sha256)
            // Generated once: an attempt that made the same bytes again (a rerun) generated no new entity.
            guard doc.generated.insert(id).inserted else { continue }
            doc.relate("wasGeneratedBy", [("prov:entity", id), ("prov:activity", act)])
            for input in read where input != id { doc.relate("wasDerivedFrom", [("prov:generatedEntity", id), ("prov:usedEntity", input)]) }
        }
    }

    /// What the attempt ran with: the clowdr that started it, its host's facts, its container image as resolved.
    static func environmentAttributes(_ s: TaskStarted?, _ i: ImageResolved?) -> [(String, Attr)] {
        var attrs: [(String, Attr)] = []
        if let v = s?.clowdrVersion { attrs.append(("clowdr:clowdrVersion", .string(v))) }
        if let v = s?.cpuModel { attrs.append(("clowdr:cpuModel", .string(v))) }
        if let v = s?.cpus { attrs.append(("clowdr:cpus", .int(Int64(v)))) }
        if let v = s?.memory { attrs.append(("clowdr:memory", .int(v))) }
        if let v = s?.kernel { attrs.append(("clowdr:kernel", .string(v))) }
        if let v = s?.osRelease { attrs.append(("clowdr:osRelease", .string(v))) }
        if let v = s?.instanceType { attrs.append(("clowdr:instanceType", .string(v))) }
        if let v = s?.spot { attrs.append(("clowdr:spot", .string(v ? "true" : "false"))) }
        if let i { attrs.append(("clowdr:image", .string(i.image))) }
        if let v = i?.digest { attrs.append(("clowdr:imageDigest", .string(v))) }
        if let v = i?.id { attrs.append(("clowdr:imageID", .string(v))) }
        return attrs
    }

    static func outputID(_ task: String, _ attempt: Int, _ output: String) -> String { "clowdr:output_\(local(task))_\(attempt)_\(local(output))" }

    static func js(_ s: String) -> String { JSONWriter().string(.string(s)) }

    static func attrJSON(_ a: Attr) -> String {
        switch a {
        case .qname(let q): return #"{"$":\#(PROVExport.js(q)),"type":"prov:QUALIFIED_NAME"}"#
        case .string(let s): return PROVExport.js(s)
        case .int(let v): return #"{"$":\#(v),"type":"xsd:long"}"#
        case .double(let d): return #"{"$":\#(JSONNumber(d).literal),"type":"xsd:double"}"#
        case .time(let t): return PROVExport.js(t)
        }
    }

    static func attrPROVN(_ a: Attr) -> String {
        switch a {
        case .qname(let q): return "'\(q)'"
        case .string(let s): return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        case .int(let v): return "\"\(v)\" %% xsd:long"
        case .double(let d): return "\"\(JSONNumber(d).literal)\" %% xsd:double"
        case .time(let t): return "\"\(t)\" %% xsd:dateTime"
        }
    }
}
