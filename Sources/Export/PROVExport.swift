import EventLog
import Foundation
import JSON
import SQLite

/// `clowdr export prov`: the experiment as W3C PROV (PROV-JSON or PROV-N).
///
/// - Agents: the user (prov:Person) and clowdr (prov:SoftwareAgent, with its version), clowdr acting on the
///   user's behalf.
/// - The descriptor is a prov:Plan; each task's invocation is an entity; each attempt is an activity with its
///   start and end, exit code, signal, peak RSS, CPU time and wall time as typed `clowdr:` attributes, associated
///   with clowdr and the plan.
/// - An attempt `used` its invocation and its input files; each output `wasGeneratedBy` its attempt (with its
///   sha256) and `wasDerivedFrom` the inputs; a rerun attempt `wasInformedBy` the attempt it replaces.
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

    public static func write(logPath: String, to output: String, format: Format) throws {
        let log = try EventLog(path: logPath, mode: .readOnly)
        let (elements, relations) = try log.withConnection { try build($0) }
        try AtomicFile.write(to: output) { out in
            switch format {
            case .json: writeJSON(elements, relations, out)
            case .provn: writePROVN(elements, relations, out)
            }
        }
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

    static func build(_ db: Connection) throws -> ([Element], [Relation]) {
        var elements: [Element] = []
        var relations: [Relation] = []
        var declared = Set<String>()
        func declare(_ e: Element) {
            if declared.insert(e.id).inserted { elements.append(e) }
        }
        // The experiment and its agents.
        var user = "unknown"
        var version = "unknown"
        var descriptorSHA = "unknown"
        var toolName = ""
        var inputs: [String: [String]] = [:]  // task -> input file paths
        var outputs: [String: [(id: String, path: String, sha: String?)]] = [:]  // "task/attempt"
        let ev = try db.prepare(
            "SELECT task, attempt, type, payload, time FROM events WHERE type IN ('experiment_created', 'task_planned', 'task_exited') AND version = 1 ORDER BY seq"
        )
        while try ev.step() {
            let payload = try JSONParser.parse(ev.string(3))
            switch ev.string(2) {
            case "experiment_created":
                user = payload["user"]?.stringValue ?? user
                version = payload["clowdr_version"]?.stringValue ?? version
                descriptorSHA = payload["descriptor_sha256"]?.stringValue ?? descriptorSHA
                toolName = payload["tool_name"]?.stringValue ?? ""
            case "task_planned":
                // Input files: invocation values that name existing files are taken as inputs.
                var files: [String] = []
                for (_, v) in payload["invocation"]?.objectValue ?? JSONObject() {
                    for item in (v.arrayValue ?? [v]) {
                        if let s = item.stringValue, s.contains("/") || s.contains(".") { files.append(s) }
                    }
                }
                inputs[ev.string(0)] = files
            default:
                outputs["\(ev.string(0))/\(ev.int64(1))"] = (payload["outputs"]?.arrayValue ?? []).compactMap { o in
                    guard let id = o["id"]?.stringValue, let path = o["path"]?.stringValue, o["size"]?.isNull == false else { return nil }
                    return (id, path, o["sha256"]?.stringValue)
                }
            }
        }
        let userID = "clowdr:user_" + local(user)
        let agentID = "clowdr:clowdr_" + local(version)
        let planID = "clowdr:descriptor_" + local(descriptorSHA)
        declare(Element(kind: "agent", id: userID, attributes: [("prov:type", .qname("prov:Person")), ("prov:label", .string(user))]))
        declare(Element(kind: "agent", id: agentID, attributes: [("prov:type", .qname("prov:SoftwareAgent")), ("clowdr:version", .string(version))]))
        declare(
            Element(
                kind: "entity", id: planID,
                attributes: [("prov:type", .qname("prov:Plan")), ("clowdr:sha256", .string(descriptorSHA)), ("prov:label", .string(toolName))]))
        relations.append(Relation(kind: "actedOnBehalfOf", args: [("prov:delegate", agentID), ("prov:responsible", userID)]))

        // Each task's labels (participant, session, swept values...), as people read them.
        var labels: [String: String] = [:]
        let tasks = try db.prepare("SELECT task, labels FROM tasks WHERE labels IS NOT NULL AND labels != '{}'")
        while try tasks.step() { labels[tasks.string(0)] = TaskLabels.text(tasks.optionalString(1)) }
        let attempts = try db.prepare(
            "SELECT task, attempt, started_at, ended_at, exit_code, signal, peak_rss, cpu_user, cpu_system, wall_time, state FROM attempts ORDER BY CAST(task AS INTEGER), task, attempt"
        )
        var previous: [String: String] = [:]
        while try attempts.step() {
            let task = attempts.string(0)
            let n = attempts.int64(1)
            let act = "clowdr:attempt_\(local(task))_\(n)"
            var attrs: [(String, Attr)] = [
                ("prov:type", .qname("clowdr:Attempt")), ("clowdr:task", .string(task)), ("clowdr:state", .string(attempts.string(10))),
            ]
            if let l = labels[task] { attrs += [("prov:label", .string("task \(task) attempt \(n) (\(l))")), ("clowdr:labels", .string(l))] }
            if let v = attempts.optionalInt64(4) { attrs.append(("clowdr:exitCode", .int(v))) }
            if let v = attempts.optionalInt64(5) { attrs.append(("clowdr:signal", .int(v))) }
            if let v = attempts.optionalInt64(6) { attrs.append(("clowdr:peakRSS", .int(v))) }
            if let u = attempts.optionalDouble(7) { attrs.append(("clowdr:cpuTime", .double(u + (attempts.optionalDouble(8) ?? 0)))) }
            if let w = attempts.optionalDouble(9) { attrs.append(("clowdr:wallTime", .double(w))) }
            var e = Element(kind: "activity", id: act, attributes: attrs)
            e.attributes.insert(("prov:startTime", .time(attempts.optionalInt64(2).map { Timestamp(microseconds: $0).iso8601 } ?? "")), at: 0)
            e.attributes.insert(("prov:endTime", .time(attempts.optionalInt64(3).map { Timestamp(microseconds: $0).iso8601 } ?? "")), at: 1)
            e.attributes.removeAll { if case .time(let t) = $0.1 { return t.isEmpty } else { return false } }
            declare(e)
            relations.append(Relation(kind: "wasAssociatedWith", args: [("prov:activity", act), ("prov:agent", agentID), ("prov:plan", planID)]))
            let invocation = "clowdr:invocation_\(local(task))"
            var invocationAttrs: [(String, Attr)] = [("prov:type", .qname("clowdr:Invocation")), ("clowdr:task", .string(task))]
            if let l = labels[task] { invocationAttrs.append(("clowdr:labels", .string(l))) }
            declare(Element(kind: "entity", id: invocation, attributes: invocationAttrs))
            relations.append(Relation(kind: "used", args: [("prov:activity", act), ("prov:entity", invocation)]))
            var inputIDs: [String] = []
            for path in inputs[task] ?? [] {
                let id = "clowdr:file_" + local(path)
                declare(Element(kind: "entity", id: id, attributes: [("prov:type", .qname("clowdr:File")), ("prov:location", .string(path))]))
                relations.append(Relation(kind: "used", args: [("prov:activity", act), ("prov:entity", id)]))
                inputIDs.append(id)
            }
            for o in outputs["\(task)/\(n)"] ?? [] {
                let id = "clowdr:output_\(local(task))_\(n)_\(local(o.id))"
                var attrs: [(String, Attr)] = [("prov:type", .qname("clowdr:File")), ("prov:location", .string(o.path))]
                if let sha = o.sha { attrs.append(("clowdr:sha256", .string(sha))) }
                declare(Element(kind: "entity", id: id, attributes: attrs))
                relations.append(Relation(kind: "wasGeneratedBy", args: [("prov:entity", id), ("prov:activity", act)]))
                for input in inputIDs where input != id {
                    relations.append(Relation(kind: "wasDerivedFrom", args: [("prov:generatedEntity", id), ("prov:usedEntity", input)]))
                }
            }
            if let before = previous[task] {
                relations.append(Relation(kind: "wasInformedBy", args: [("prov:informed", act), ("prov:informant", before)]))
            }
            previous[task] = act
        }
        return (elements, relations)
    }

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

    static func writeJSON(_ elements: [Element], _ relations: [Relation], _ out: BufferedOutput) {
        out.write(#"{"prefix":{"clowdr":"\#(namespace)","xsd":"http://www.w3.org/2001/XMLSchema#"}"#)
        for kind in ["entity", "activity", "agent"] {
            let items = elements.filter { $0.kind == kind }
            guard !items.isEmpty else { continue }
            out.write(",\n\"\(kind)\":{")
            for (k, e) in items.enumerated() {
                out.write((k == 0 ? "\n" : ",\n") + PROVExport.js(e.id) + ":{")
                out.write(e.attributes.map { PROVExport.js($0.0) + ":" + attrJSON($0.1) }.joined(separator: ","))
                out.write("}")
            }
            out.write("}")
        }
        let kinds = ["used", "wasGeneratedBy", "wasDerivedFrom", "wasInformedBy", "wasAssociatedWith", "actedOnBehalfOf"]
        var counter = 0
        for kind in kinds {
            let items = relations.filter { $0.kind == kind }
            guard !items.isEmpty else { continue }
            out.write(",\n\"\(kind)\":{")
            for (k, r) in items.enumerated() {
                counter += 1
                out.write((k == 0 ? "\n" : ",\n") + "\"_:r\(counter)\":{")
                out.write(r.args.compactMap { a in a.1.map { PROVExport.js(a.0) + ":" + PROVExport.js($0) } }.joined(separator: ","))
                out.write("}")
            }
            out.write("}")
        }
        out.write("}\n")
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

    static func writePROVN(_ elements: [Element], _ relations: [Relation], _ out: BufferedOutput) {
        out.write("document\n  prefix clowdr <\(namespace)>\n")
        for e in elements {
            var attrs = e.attributes
            var times = ""
            if e.kind == "activity" {
                func take(_ name: String) -> String {
                    guard let i = attrs.firstIndex(where: { $0.0 == name }), case .time(let t) = attrs[i].1 else { return "-" }
                    attrs.remove(at: i)
                    return t
                }
                times = ", \(take("prov:startTime")), \(take("prov:endTime"))"
            }
            let list = attrs.isEmpty ? "" : ", [" + attrs.map { "\($0.0)=\(attrPROVN($0.1))" }.joined(separator: ", ") + "]"
            out.write("  \(e.kind)(\(e.id)\(times)\(list))\n")
        }
        var counter = 0
        for r in relations {
            counter += 1
            let args = r.args.map { $0.1 ?? "-" }
            let trailing: String
            switch r.kind {
            case "used", "wasGeneratedBy": trailing = ", -"
            default: trailing = ""
            }
            out.write("  \(r.kind)(_:r\(counter); \(args.joined(separator: ", "))\(trailing))\n")
        }
        out.write("endDocument\n")
    }
}
