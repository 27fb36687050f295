public import Boutiques
import Foundation
public import JSON

/// A task before it runs: its id, its concrete invocation, and what tells it apart from the others.
public struct PlannedTask: Sendable, Equatable {
    /// Stable id: the task's position in plan order ("0", "1", ...).
    public var id: String
    /// The invocation as planned (before defaults; the rendered one is in `rendered`).
    public var invocation: JSONObject
    /// Participant, session, swept values... (label name to value).
    public var labels: [String: String]
    /// Where it came from: the invocation file, and the sweep or BIDS expansion.
    public var source: String
    /// Command line, outputs and config files, from the Boutiques engine.
    public var rendered: RenderedInvocation
}

/// Why a plan could not be made: a usage error (exit 2), with what to do.
public struct PlanError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Turns a descriptor and invocation(s) into tasks: one per invocation file (a folder's files sorted by name, so
/// task ids are stable), then one per combination of swept values (cartesian product, first `--sweep` outermost),
/// or one per BIDS participant x session. Every task is validated and rendered before anything runs.
public struct Planner: Sendable {
    public var descriptor: Descriptor
    /// Ids of list-valued inputs to sweep.
    public var sweeps: [String] = []
    /// Expand over BIDS participants and sessions.
    public var bids = false
    /// Folder the tasks run in (relative paths in invocations resolve against it).
    public var workingDirectory: String

    public init(descriptor: Descriptor, workingDirectory: String) {
        self.descriptor = descriptor
        self.workingDirectory = workingDirectory
    }

    /// The invocation files at `path`: the file itself, or a folder's `*.json` files sorted by name.
    public static func invocationFiles(_ path: String) throws(PlanError) -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw PlanError("invocation '\(path)' does not exist: give a JSON file or a folder of them")
        }
        guard isDir.boolValue else { return [path] }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        if names.isEmpty { throw PlanError("invocation folder '\(path)' holds no .json file") }
        return names.map { (path as NSString).appendingPathComponent($0) }
    }

    /// Plans every task of the invocation(s) at `path`.
    public func plan(_ path: String) throws -> [PlannedTask] {
        var expanded: [(JSONObject, [String: String], String)] = []
        for file in try Planner.invocationFiles(path) {
            guard case .object(let inv) = try BoutiquesDocument.load(file) else {
                throw BoutiquesError(
                    .invalidInvocation,
                    [BoutiquesIssue(file: file, pointer: "", rule: "invocation.type", message: "an invocation must be a JSON object")])
            }
            var items: [(JSONObject, [String: String], String)] = [(inv, [:], file)]
            if bids { items = try items.flatMap { try bidsExpand($0.0, labels: $0.1, source: $0.2, file: file) } }
            for id in sweeps { items = try items.flatMap { try sweep(id, $0.0, labels: $0.1, source: $0.2, file: file) } }
            expanded += items
        }
        let renderer = Renderer(descriptor, workingDirectory: workingDirectory)
        return try expanded.enumerated().map { k, item in
            PlannedTask(
                id: String(k), invocation: item.0, labels: item.1, source: item.2, rendered: try renderer.render(.object(item.0), file: item.2))
        }
    }

    /// One invocation per value of the list-valued input `id`.
    func sweep(_ id: String, _ inv: JSONObject, labels: [String: String], source: String, file: String) throws(PlanError) -> [(
        JSONObject, [String: String], String
    )] {
        guard descriptor.input(id) != nil else {
            throw PlanError("--sweep \(id): the descriptor has no input '\(id)' (inputs: \(descriptor.inputs.map(\.id).joined(separator: ", ")))")
        }
        guard let value = inv[id] else { throw PlanError("--sweep \(id): \(file) has no value for '\(id)'; give it a list of the values to sweep") }
        guard case .array(let values) = value, !values.isEmpty else {
            throw PlanError("--sweep \(id): '\(id)' in \(file) must be a non-empty list of values to sweep, found \(value.shortText)")
        }
        if descriptor.input(id)?.list == true, !values.allSatisfy({ $0.arrayValue != nil }) {
            throw PlanError(
                "--sweep \(id): '\(id)' is a list input, so each swept value must itself be a list (a list of lists), found \(value.shortText)")
        }
        return values.map { v in
            var copy = inv
            copy[id] = v
            var l = labels
            l[id] = PythonFormat.str(v)
            return (copy, l, source + " sweep \(id)=\(PythonFormat.str(v))")
        }
    }

    /// One invocation per participant x session, from `participant_label` / `session_label` lists, else from
    /// the `sub-*` / `ses-*` folders of the BIDS dataset given as a folder input.
    func bidsExpand(_ inv: JSONObject, labels: [String: String], source: String, file: String) throws(PlanError) -> [(
        JSONObject, [String: String], String
    )] {
        if inv["analysis_level"]?.stringValue == "group" { return [(inv, labels, source)] }
        let hasSessions = descriptor.input("session_label") != nil
        guard descriptor.input("participant_label") != nil else {
            throw PlanError("--bids: the descriptor has no 'participant_label' input to give each task its participant")
        }
        // Labels may be given as a list or as one string.
        func labelList(_ v: JSONValue?) -> [String]? {
            guard let v else { return nil }
            if case .string(let s) = v { return [s] }
            return v.arrayValue?.compactMap { $0.stringValue ?? $0.numberValue?.literal }
        }
        var participants = labelList(inv["participant_label"]) ?? []
        let sessionsGiven = labelList(inv["session_label"])
        var dataset: String?
        if participants.isEmpty {
            dataset = bidsDataset(inv)
            guard let dataset else {
                throw PlanError(
                    "--bids: \(file) lists no participant_label, and no folder input is a BIDS dataset (a folder holding dataset_description.json)")
            }
            participants = Planner.subfolders(dataset, prefix: "sub-")
            if participants.isEmpty { throw PlanError("--bids: the BIDS dataset \(dataset) has no sub-* folder") }
        }
        var out: [(JSONObject, [String: String], String)] = []
        for p in participants {
            var sessions: [String?] = [nil]
            if hasSessions {
                if let given = sessionsGiven, !given.isEmpty {
                    sessions = given
                } else if let root = dataset ?? bidsDataset(inv) {
                    let found = Planner.subfolders(root + "/sub-" + p, prefix: "ses-")
                    if !found.isEmpty { sessions = found }
                }
            }
            for s in sessions {
                var copy = inv
                // A list input gets a one-item list, a plain String input the label itself.
                copy["participant_label"] = descriptor.input("participant_label")?.list == false ? .string(p) : [.string(p)]
                var l = labels
                l["participant"] = p
                var src = source + " sub-\(p)"
                if let s {
                    copy["session_label"] = descriptor.input("session_label")?.list == false ? .string(s) : [.string(s)]
                    l["session"] = s
                    src += " ses-\(s)"
                }
                out.append((copy, l, src))
            }
        }
        return out
    }

    /// The first File input whose value is a folder holding dataset_description.json.
    func bidsDataset(_ inv: JSONObject) -> String? {
        for i in descriptor.inputs where i.type == .file {
            guard let v = inv[i.id]?.stringValue else { continue }
            let path = PythonFormat.abspath(v, cwd: workingDirectory)
            if FileManager.default.fileExists(atPath: path + "/dataset_description.json") { return path }
        }
        return nil
    }

    /// Labels of the `prefix*` folders of `dir` (without the prefix), sorted.
    static func subfolders(_ dir: String, prefix: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { n in
            var isDir: ObjCBool = false
            return n.hasPrefix(prefix) && FileManager.default.fileExists(atPath: dir + "/" + n, isDirectory: &isDir) && isDir.boolValue
        }.map { String($0.dropFirst(prefix.count)) }.sorted()
    }
}
