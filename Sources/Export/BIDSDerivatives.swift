import Boutiques
import EventLog
import Foundation
import JSON
import Query

/// A BIDS derivatives dataset's `dataset_description.json`, made or updated to say what made it: `DatasetType`
/// `derivative`, a `GeneratedBy` entry for the tool (name, version, container with its digest) and one for clowdr
/// (its version, the experiment's id and where its record is), and `SourceDatasets` (the raw dataset's DOI when its
/// description has one, else its location).
///
/// Merged with what the tool wrote: its keys and `GeneratedBy` entries stay, in their order; the tool's own entry
/// gains a `Container` only when it has none; an entry is not added twice (the same experiment described again
/// replaces its own). Written under a temporary name and renamed, under an exclusive lock on the derivatives folder,
/// so experiments finishing at once each add their entry.
public enum BIDSDerivatives {
    /// The BIDS version a description clowdr creates says it follows.
    public static let bidsVersion = "1.10.0"

    public struct Described: Sendable {
        /// The `dataset_description.json` written.
        public var path: String
        /// Whether clowdr made it (the tool wrote none).
        public var created: Bool
    }

    /// Describes the derivatives when the experiment asked for it (its recorded options: a BIDS run, `--bids`, or
    /// `--derivatives DIR`); nil otherwise. Reads the experiment's first event alone to know.
    public static func describeIfAsked(experimentDirectory directory: String) throws -> Described? {
        let created = try ExperimentRecords.read(path: ExperimentLayout(directory: directory).log) { try $0.experiment() }
        let options = try created.map { try JSONParser.parse($0.payload) }?["options"]
        let named = options?["derivatives"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        guard options?["bids"]?.stringValue == "true" || named != nil else { return nil }
        return try describe(experimentDirectory: directory, derivatives: named)
    }

    /// Describes the derivatives of the experiment in `directory`: in `derivatives` when given, else in the folder
    /// its outputs were written to (the part of their paths before `sub-<label>/`). Nil when no output is in a
    /// derivatives folder.
    public static func describe(experimentDirectory directory: String, derivatives: String? = nil) throws -> Described? {
        if let derivatives, derivatives.contains("://") {
            throw ExportError(
                "--derivatives \(derivatives): a derivatives folder on object storage is not described yet; name a folder on this machine",
                code: "export.derivatives_remote")
        }
        let layout = ExperimentLayout(directory: directory)
        let descriptor = try DescriptorValidator.load(layout.descriptor)
        let facts = try ExperimentRecords.read(path: layout.log) { try RunFacts(records: $0, descriptor: descriptor) }
        guard let folder = derivatives.map({ RecordedPath.absolute($0) }) ?? facts.derivativesFolder else { return nil }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/dataset_description.json"
        var created = false
        try withLock(on: folder) {
            let existing = try read(path)
            created = existing == nil
            let merged = merge(existing ?? [:], facts: facts, descriptor: descriptor, experiment: layout)
            try AtomicFile.write(to: path) { $0.write(JSONWriter(indent: 2).string(.object(merged)) + "\n") }
        }
        return Described(path: path, created: created)
    }

    /// What the description needs from the record.
    struct RunFacts {
        var experiment: String
        var clowdrVersion: String
        /// The folder the outputs were written to, when every output under a `sub-` folder agrees.
        var derivativesFolder: String?
        /// The raw dataset's folder (the invocation's BIDS dataset).
        var rawDataset: String?
        /// The container image as the engine resolved it.
        var image: ImageResolved?

        init(records: ExperimentRecords, descriptor: Descriptor) throws {
            let payload = try records.experiment().map { try JSONParser.parse($0.payload) }
            experiment = payload?["experiment"]?.stringValue ?? "unknown"
            clowdrVersion = payload?["clowdr_version"]?.stringValue ?? ClowdrVersion.current
            var roots: [String: Int] = [:]
            try records.forEachExit { x in
                // Outputs on object storage (s3://...) are not in a folder here: left out.
                for o in try x.existingOutputs() where !o.path.contains("://") {
                    if let root = BIDSDerivatives.root(of: RecordedPath.absolute(o.path)) { roots[root, default: 0] += 1 }
                }
            }
            derivativesFolder = roots.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key
            let fileInputs = descriptor.inputs.filter { $0.type == .file }.map(\.id)
            let first = try Self.firstTask(records)
            if let text = try records.plan(of: first)?.invocation, case .object(let invocation) = try JSONParser.parse(text) {
                // Relative paths are the attempt's working directory's (known when its files were observed).
                let base = try records.taskFiles(task: first, attempt: 1)?.cwd
                rawDataset =
                    fileInputs.compactMap { invocation[$0]?.stringValue.map { RecordedPath.absolute($0, base: base) } }
                    .first { FileManager.default.fileExists(atPath: $0 + "/dataset_description.json") }
            }
            image = try records.payloadsByAttempt(.imageResolved) { if case .imageResolved(let p) = $0 { p } else { nil } }.values.first
        }

        static func firstTask(_ records: ExperimentRecords) throws -> String {
            var first: String?
            try records.forEachPlan { if first == nil { first = $0.task } }
            return first ?? ""
        }
    }

    /// The folder above the first `sub-<label>` component of `path` (a derivatives dataset's root), if any.
    static func root(of path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard let i = parts.firstIndex(where: { $0.hasPrefix("sub-") && $0.count > 4 && $0.dropFirst(4).allSatisfy { $0.isLetter || $0.isNumber } }),
            i > 1
        else { return nil }
        return parts[..<i].joined(separator: "/")
    }

    /// The description with clowdr's additions merged into what was there.
    static func merge(_ existing: JSONObject, facts: RunFacts, descriptor: Descriptor, experiment layout: ExperimentLayout) -> JSONObject {
        var d = existing
        if d["Name"] == nil { d["Name"] = .string("\(descriptor.name) derivatives") }
        if d["BIDSVersion"] == nil { d["BIDSVersion"] = .string(bidsVersion) }
        d["DatasetType"] = .string("derivative")
        var generated = d["GeneratedBy"]?.arrayValue ?? []
        let tool = toolEntry(descriptor, image: facts.image)
        if let i = generated.firstIndex(where: { $0["Name"]?.stringValue?.lowercased() == descriptor.name.lowercased() }) {
            if case .object(var own) = generated[i], own["Container"] == nil, let container = tool["Container"] {
                own["Container"] = container
                generated[i] = .object(own)
            }
        } else {
            generated.append(.object(tool))
        }
        let ours = clowdrEntry(facts, record: layout.directory)
        let mark = "experiment \(facts.experiment)"
        if let i = generated.firstIndex(where: { $0["Name"]?.stringValue == "clowdr" && $0["Description"]?.stringValue?.contains(mark) == true }) {
            generated[i] = .object(ours)
        } else {
            generated.append(.object(ours))
        }
        d["GeneratedBy"] = .array(generated)
        if let raw = facts.rawDataset {
            var sources = d["SourceDatasets"]?.arrayValue ?? []
            let source = sourceEntry(raw)
            if !sources.contains(.object(source)) { sources.append(.object(source)) }
            d["SourceDatasets"] = .array(sources)
        }
        return d
    }

    static func toolEntry(_ d: Descriptor, image: ImageResolved?) -> JSONObject {
        var entry: JSONObject = ["Name": .string(d.name), "Version": .string(d.toolVersion), "Description": .string(d.description)]
        if let url = d.json["url"]?.stringValue { entry["CodeURL"] = .string(url) }
        if let c = d.container, let name = c.image ?? c.url {
            var container: JSONObject = ["Type": .string(c.type), "Tag": .string(name)]
            let reference = ImageReference(name)
            if let digest = image?.digest { container["URI"] = .string("docker://\(reference.registry)/\(reference.repository)@\(digest)") }
            entry["Container"] = .object(container)
        }
        return entry
    }

    static func clowdrEntry(_ facts: RunFacts, record: String) -> JSONObject {
        [
            "Name": "clowdr", "Version": .string(facts.clowdrVersion),
            "Description": .string(
                "Run by clowdr as experiment \(facts.experiment); its record (event log, exports) is in \(RecordedPath.absolute(record)) (clowdr status, clowdr export)."
            ),
        ]
    }

    /// The raw dataset: its DOI when its description has one, else its location.
    static func sourceEntry(_ raw: String) -> JSONObject {
        let description = (try? read(raw + "/dataset_description.json")) ?? nil
        if let doi = description?["DatasetDOI"]?.stringValue, !doi.isEmpty {
            var entry: JSONObject = ["DOI": .string(doi)]
            if doi.hasPrefix("doi:") || doi.hasPrefix("10.") {
                entry["URL"] = .string("https://doi.org/" + doi.replacingOccurrences(of: "doi:", with: ""))
            }
            return entry
        }
        return ["URL": .string("file://" + raw)]
    }

    static func read(_ path: String) throws -> JSONObject? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard case .object(let o) = try JSONParser.parse([UInt8](data)) else {
            throw ExportError("\(path): not a JSON object; a BIDS dataset_description.json is one (fix or remove it, then run again)")
        }
        return o
    }

    /// Runs `body` holding an exclusive lock on the folder (flock on its descriptor: nothing left behind).
    static func withLock(on folder: String, _ body: () throws -> Void) throws {
        let fd = open(folder, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw ExportError("cannot open \(folder): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw ExportError("cannot lock \(folder): \(String(cString: strerror(errno)))") }
        defer { flock(fd, LOCK_UN) }
        try body()
    }
}
