public import Boutiques
public import ClowdrErrors
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

/// Why a plan, a run or a rerun could not be made, with what to do: most often a usage error (exit 2); a conflict
/// with another controller is not.
public struct PlanError: CodedError {
    public var message: String
    public var errorCode: String
    public var isUsageError: Bool
    public init(_ message: String, code: String = "plan.invalid", usage: Bool = true) {
        self.message = message
        errorCode = code
        isUsageError = usage
    }
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
    /// The dataset a remote location names (`s3://bucket/ds`), listed; nil for a local path.
    public var remoteDataset: @Sendable (String) throws -> (any DatasetTree)? = { _ in nil }

    public init(descriptor: Descriptor, workingDirectory: String) {
        self.descriptor = descriptor
        self.workingDirectory = workingDirectory
    }

    /// The invocations given at `path` (their sources): the file itself, or a folder's `*.json` files sorted by name.
    public static func invocationSources(_ path: String) throws(PlanError) -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw PlanError("invocation '\(path)' does not exist: give a JSON file or a folder of them", code: "plan.invocation_missing")
        }
        guard isDir.boolValue else { return [path] }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        if names.isEmpty { throw PlanError("invocation folder '\(path)' holds no .json file", code: "plan.invocation_folder_empty") }
        return names.map { (path as NSString).appendingPathComponent($0) }
    }

    /// Every task of the invocation(s) at `path`, and what was passed over or looks wrong (nothing of it an
    /// error), for a person to read before the run.
    public struct Plan: Sendable {
        public var tasks: [PlannedTask]
        public var warnings: [String]
    }

    /// Plans every task of the invocation(s) at `path`.
    public func plan(_ path: String) throws -> Plan {
        var expanded: [(JSONObject, [String: String], String)] = []
        var warnings: [String] = []
        let files = try Planner.invocationSources(path)
        var invocations: [JSONObject] = []
        for file in files {
            guard case .object(let inv) = try BoutiquesDocument.load(file) else {
                throw BoutiquesError(
                    .invalidInvocation,
                    [BoutiquesIssue(file: file, pointer: "", rule: "invocation.type", message: "an invocation must be a JSON object")])
            }
            invocations.append(inv)
        }
        for (file, inv) in zip(files, invocations) {
            let labels = files.count > 1 || files[0] != path ? Planner.fileLabels(file, inv, among: invocations) : [:]
            var items: [(JSONObject, [String: String], String)] = [(inv, labels, file)]
            if bids { items = try items.flatMap { try bidsExpand($0.0, labels: $0.1, source: $0.2, file: file, warnings: &warnings) } }
            for id in sweeps { items = try items.flatMap { try sweep(id, $0.0, labels: $0.1, source: $0.2, file: file) } }
            expanded += items
        }
        let renderer = Renderer(descriptor, workingDirectory: workingDirectory)
        let tasks = try expanded.enumerated().map { k, item in
            PlannedTask(
                id: String(k), invocation: item.0, labels: item.1, source: item.2, rendered: try renderer.render(.object(item.0), file: item.2))
        }
        return Plan(tasks: tasks, warnings: warnings)
    }

    /// The labels of a task planned from one file of a folder of invocations: the file's name (without `.json`) as
    /// `invocation`, and each parameter whose value is not the same in every file of the folder.
    static func fileLabels(_ file: String, _ inv: JSONObject, among all: [JSONObject]) -> [String: String] {
        var labels = ["invocation": String(((file as NSString).lastPathComponent as NSString).deletingPathExtension)]
        let keys = Set(all.flatMap(\.keys))
        for key in keys where key != "invocation" && !all.allSatisfy({ $0[key] == all[0][key] }) {
            labels[key] = inv[key].map(PythonFormat.str) ?? "-"
        }
        return labels
    }

    /// One invocation per value of the list-valued input `id`.
    func sweep(_ id: String, _ inv: JSONObject, labels: [String: String], source: String, file: String) throws(PlanError) -> [(
        JSONObject, [String: String], String
    )] {
        guard descriptor.input(id) != nil else {
            throw PlanError(
                "--sweep \(id): the descriptor has no input '\(id)' (inputs: \(descriptor.inputs.map(\.id).joined(separator: ", ")))",
                code: "plan.sweep_unknown_input")
        }
        guard let value = inv[id] else {
            throw PlanError("--sweep \(id): \(file) has no value for '\(id)'; give it a list of the values to sweep", code: "plan.sweep_no_value")
        }
        guard case .array(let values) = value, !values.isEmpty else {
            throw PlanError(
                "--sweep \(id): '\(id)' in \(file) must be a non-empty list of values to sweep, found \(value.shortText)",
                code: "plan.sweep_not_a_list")
        }
        // A list input swept over plain values gets one value a task, as a one-item list; over lists, one list each.
        let isList = descriptor.input(id)?.list == true
        let flat = values.allSatisfy { $0.arrayValue == nil }
        if isList, !flat, !values.allSatisfy({ $0.arrayValue != nil }) {
            throw PlanError(
                "--sweep \(id): '\(id)' is a list input: sweep a list of values (one a task) or a list of lists, not a mix of both; found \(value.shortText)",
                code: "plan.sweep_mixed_lists")
        }
        return values.map { v in
            var copy = inv
            copy[id] = isList && flat ? .array([v]) : v
            var l = labels
            l[id] = PythonFormat.str(v)
            return (copy, l, source + " sweep \(id)=\(PythonFormat.str(v))")
        }
    }

    /// One invocation per participant x session of the BIDS dataset given as a folder input: the given
    /// `participant_label` / `session_label` values (with or without their `sub-` / `ses-` prefix), each checked
    /// against the dataset, else every participant and session that has data.
    func bidsExpand(_ inv: JSONObject, labels: [String: String], source: String, file: String, warnings: inout [String]) throws(PlanError)
        -> [(JSONObject, [String: String], String)]
    {
        if inv["analysis_level"]?.stringValue == "group" { return [(inv, labels, source)] }
        let hasSessions = descriptor.input("session_label") != nil
        guard descriptor.input("participant_label") != nil else {
            throw PlanError(
                "--bids: the descriptor has no 'participant_label' input to give each task its participant", code: "plan.bids_no_participant_input")
        }
        // The labels as given are checked as `clowdr validate -i` checks them, with its words: a list input takes a list.
        let validator = InvocationValidator(descriptor)
        let issues = ["participant_label", "session_label"].flatMap { id in inv[id].map { validator.issues(of: id, value: $0, file: file) } ?? [] }
        if !issues.isEmpty { throw PlanError("\(BoutiquesError(.invalidInvocation, issues))", code: BoutiquesError.Code.invalidInvocation.rawValue) }
        let (root, tree) = try bidsDataset(inv, file: file)
        let dataset = BIDSDataset(root: root, tree: tree)
        warnings += dataset.warnings
        // Labels may be given with or without their prefix, as BIDS apps take them.
        func labelList(_ v: JSONValue?, prefix: String) -> [String]? {
            guard let v else { return nil }
            let values = v.stringValue.map { [$0] } ?? v.arrayValue?.compactMap { $0.stringValue ?? $0.numberValue?.literal } ?? []
            return values.map { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : $0 }
        }
        var participants = dataset.participants.keys.sorted()
        if let given = labelList(inv["participant_label"], prefix: "sub-"), !given.isEmpty {
            let missing = given.filter { dataset.participants[$0] == nil }
            if !missing.isEmpty {
                throw PlanError(
                    "--bids: \(file): participant_label \(BIDSDataset.names(missing, "sub-")) not found with data in \(dataset.root) "
                        + "(it has \(participants.isEmpty ? "none" : BIDSDataset.names(participants, "sub-")))", code: "plan.bids_participant_missing"
                )
            }
            participants = given
        }
        if participants.isEmpty {
            throw PlanError("--bids: the BIDS dataset \(dataset.root) has no sub-* folder with data", code: "plan.bids_no_participant")
        }
        let sessionsGiven = labelList(inv["session_label"], prefix: "ses-").flatMap { $0.isEmpty ? nil : $0 }
        if hasSessions, let sessionsGiven {
            let known = Set(participants.flatMap { dataset.participants[$0] ?? [] })
            let missing = sessionsGiven.filter { !known.contains($0) }
            if !missing.isEmpty {
                throw PlanError(
                    "--bids: \(file): session_label \(BIDSDataset.names(missing, "ses-")) not found with data in \(dataset.root)",
                    code: "plan.bids_session_missing")
            }
        }
        var out: [(JSONObject, [String: String], String)] = []
        for p in participants {
            var sessions: [String?] = [nil]
            if hasSessions, let found = dataset.participants[p], !found.isEmpty {
                sessions = sessionsGiven?.filter(found.contains) ?? found
                for s in sessionsGiven ?? [] where !found.contains(s) { warnings.append("sub-\(p) has no ses-\(s) with data: not planned") }
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

    /// The dataset: the `bids_dir` input's folder, else the first File input whose value is a folder holding
    /// `dataset_description.json`. A path that does not exist, or is no BIDS dataset, is an error that names it.
    func bidsDataset(_ inv: JSONObject, file: String) throws(PlanError) -> (String, any DatasetTree) {
        let fileInputs = descriptor.inputs.filter { $0.type == .file }.compactMap { i in inv[i.id]?.stringValue.map { (i.id, $0) } }
        for (id, value) in fileInputs {
            let tree: (any DatasetTree)?
            do { tree = try remoteDataset(value) } catch {
                throw PlanError("--bids: \(file): \(id) '\(value)' cannot be listed: \(error)", code: "plan.bids_dataset_unreadable", usage: false)
            }
            guard let tree else { continue }
            let root = value.hasSuffix("/") ? String(value.dropLast()) : value
            if tree.fileExists(root + "/dataset_description.json") { return (root, tree) }
            throw PlanError(
                "--bids: \(file): \(id) '\(value)' is not a BIDS dataset: it has no dataset_description.json", code: "plan.bids_not_a_dataset")
        }
        let paths = fileInputs.map { ($0.0, $0.1, PythonFormat.abspath($0.1, cwd: workingDirectory)) }
        if let found = paths.first(where: { FileManager.default.fileExists(atPath: $0.2 + "/dataset_description.json") }) {
            return (found.2, LocalDatasetTree())
        }
        guard let (id, value, path) = paths.first(where: { $0.0 == "bids_dir" }) ?? paths.first else {
            throw PlanError(
                "--bids: \(file) gives no folder input, so there is no BIDS dataset to plan from (give bids_dir)", code: "plan.bids_no_dataset")
        }
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            throw PlanError("--bids: \(file): \(id) '\(value)' does not exist (looked for \(path))", code: "plan.bids_dataset_missing")
        }
        throw PlanError(
            "--bids: \(file): \(id) '\(value)' is not a BIDS dataset: \(isDir.boolValue ? "the folder has no dataset_description.json" : "it is a file, not a folder")",
            code: "plan.bids_not_a_dataset")
    }
}
