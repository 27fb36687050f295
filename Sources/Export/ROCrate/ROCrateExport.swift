import Boutiques
import EventLog
import Foundation
import JSON
import Query
import SQLite

/// `clowdr export rocrate`: the experiment as a Workflow Run RO-Crate that conforms to the Provenance Run Crate
/// profile 0.5 (`ExperimentCrate` says what each entity is), as a folder or a `.zip`.
///
/// Files of the crate: `ro-crate-metadata.json`, `README.md`, `descriptor.json` (the main workflow),
/// `invocations.json` (every task's invocation, by task), `tasks/<task>.<attempt>.stdout` and `.stderr` (those not empty:
/// the experiment folder's layout, so `clowdr query` and `clowdr status` work on a crate as on an experiment), `clowdr.db` (a consistent snapshot of the log), `clowdr-<id>.json` and
/// `clowdr-<id>.prov.json` (the JSON and PROV exports), and with `withData` the outputs of the tasks' latest
/// attempts under `data/` (their absolute paths below it). Without it, files outside the crate are referenced by
/// `file://` URIs. The crate is written in a temporary folder beside the target and renamed into place (a zip is
/// written under a temporary name and renamed), so a crash never leaves a partial crate under the real name.
public enum ROCrateExport {
    public struct Options: Sendable {
        /// An SPDX license identifier or a URL; nil: the crate says none was stated.
        public var license: String?
        /// The organization publishing the record (the user's affiliation); nil: the crate says none was named.
        public var publisher: String?
        /// The organization's web address.
        public var publisherURL: String?
        /// Copy the outputs into the crate.
        public var withData: Bool

        public init(license: String? = nil, publisher: String? = nil, publisherURL: String? = nil, withData: Bool = false) {
            self.license = license
            self.publisher = publisher
            self.publisherURL = publisherURL
            self.withData = withData
        }
    }

    /// Writes the crate of the experiment folder `directory` to `output`: a folder, or a zip when it ends in `.zip`.
    /// An existing folder is replaced only when it is a crate (it holds `ro-crate-metadata.json`). `progress` is told
    /// each step as it starts (what it writes), for a progress line.
    public static func write(
        experimentDirectory directory: String, to output: String, options: Options, progress: ((Step) -> Void)? = nil
    ) throws {
        let fm = FileManager.default
        let zip = output.lowercased().hasSuffix(".zip")
        if !zip, fm.fileExists(atPath: output), !fm.fileExists(atPath: output + "/ro-crate-metadata.json") {
            throw ExportError(
                "\(output) exists and is not an RO-Crate: clowdr writes a crate into a new folder (or replaces a crate); choose another -o",
                code: "export.not_a_crate")
        }
        let staging = output + ".staging-\(getpid())"
        try? fm.removeItem(atPath: staging)
        try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        do {
            var steps = Steps(count: stagingSteps + (zip ? 2 : 1), tell: progress)  // then the metadata, and the zip
            try stage(experimentDirectory: directory, into: staging, options: options, steps: &steps)
            if zip {
                steps.start("the zip")
                try pack(staging, into: output)
            } else {
                try replace(output, with: staging)
            }
        } catch {
            try? fm.removeItem(atPath: staging)
            throw error
        }
        if zip { try? fm.removeItem(atPath: staging) }
    }

    /// One step of writing a crate (or an archive): its number, of how many, and what it writes.
    public struct Step: Sendable, Equatable {
        public var number: Int
        public var count: Int
        public var what: String
    }

    /// Numbers the steps of one crate or archive as they start, and tells a caller of each.
    struct Steps {
        let count: Int
        let tell: ((Step) -> Void)?
        var started = 0

        init(count: Int, tell: ((Step) -> Void)?) {
            self.count = count
            self.tell = tell
        }

        mutating func start(_ what: String) {
            started += 1
            tell?(Step(number: started, count: count, what: what))
        }
    }

    /// The steps `stageFiles` takes: the log, the JSON and PROV exports, the invocations, the data (or none), the
    /// streams.
    static let stagingSteps = 6

    /// Writes every file of the crate into `staging`: its files, then its metadata.
    static func stage(experimentDirectory directory: String, into staging: String, options: Options, steps: inout Steps) throws {
        let parts = try stageFiles(experimentDirectory: directory, into: staging, options: options, steps: &steps)
        steps.start("ro-crate-metadata.json")
        try writeMetadata(parts, into: staging)
    }

    /// Writes the crate's files but its metadata into `staging`; returns what the metadata lists (a caller adds its
    /// own files, as the archive adds the report, before `writeMetadata`).
    static func stageFiles(
        experimentDirectory directory: String, into staging: String, options: Options, steps: inout Steps
    ) throws -> ExperimentCrate.Parts {
        let layout = ExperimentLayout(directory: directory)
        let id = (directory as NSString).lastPathComponent
        guard FileManager.default.fileExists(atPath: layout.descriptor) else {
            throw ExportError("\(layout.descriptor): missing; an experiment's folder holds its descriptor (is \(directory) an experiment?)")
        }
        let descriptor = try DescriptorValidator.load(layout.descriptor)
        try FileManager.default.copyItem(atPath: layout.descriptor, toPath: staging + "/descriptor.json")
        let db = staging + "/" + EventLog.fileName
        steps.start("a copy of the log")
        try EventLog(path: directory, mode: .readOnly).withConnection { try $0.backup(to: db) }
        steps.start("the JSON export")
        try JSONExport.write(logPath: db, to: staging + "/clowdr-\(id).json", samples: false)
        steps.start("the PROV export")
        try PROVExport.write(logPath: db, descriptorPath: layout.descriptor, to: staging + "/clowdr-\(id).prov.json", format: .json)
        steps.start("invocations.json")
        let tasks = try writeInvocations(log: db, to: staging + "/invocations.json")
        steps.start(options.withData ? "the outputs' copies" : "skipping the data (--with-data copies it)")
        let copies = options.withData ? try copyOutputs(log: db, into: staging) : [:]
        steps.start("the tasks' output streams")
        let logs = try copyStreams(of: layout, into: staging + "/" + ExperimentLayout.tasksFolder)
        try readme(id: id, descriptor: descriptor).write(toFile: staging + "/README.md", atomically: false, encoding: .utf8)
        return ExperimentCrate.Parts(
            descriptor: descriptor, invocations: "invocations.json", tasks: tasks,
            files: [
                ("README.md", "README.md", "What this crate is and how to read it."),
                (
                    EventLog.fileName, EventLog.fileName,
                    "The experiment's event log (SQLite): every launch, sample, exit and rerun; clowdr query reads it."
                ),
                ("clowdr-\(id).json", "clowdr-\(id).json", "The complete record as JSON (clowdr export json; schema/experiment.schema.json)."),
                ("clowdr-\(id).prov.json", "clowdr-\(id).prov.json", "The record as W3C PROV-JSON (clowdr export prov)."),
            ],
            copies: copies, logs: logs, license: options.license, publisher: options.publisher, publisherURL: options.publisherURL)
    }

    /// Writes `ro-crate-metadata.json` for the staged files, from the staged log.
    static func writeMetadata(_ parts: ExperimentCrate.Parts, into staging: String) throws {
        let db = staging + "/" + EventLog.fileName
        try ExperimentRecords.read(path: db) { records in
            try AtomicFile.write(to: staging + "/ro-crate-metadata.json") { out in
                try ExperimentCrate(records: records, parts: parts, graph: try CrateGraphWriter(out)).write()
            }
        }
        // The snapshot is complete in clowdr.db: readers' empty write-ahead files are not part of the crate.
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
    }

    /// Writes every task's invocation into one JSON object, by task in the order they were planned (100,000 files of
    /// a few hundred bytes would cost more than the rest of the crate); returns how many tasks.
    static func writeInvocations(log: String, to path: String) throws -> Int {
        var count = 0
        try ExperimentRecords.read(path: log) { records in
            try AtomicFile.write(to: path) { out in
                out.write("{")
                try records.forEachPlan { p in
                    out.write((count == 0 ? "\n" : ",\n") + JSONWriter().string(.string(p.task)) + ":")
                    out.write(try p.invocation.map { JSONWriter(sortKeys: true).string(try JSONParser.parse($0)) } ?? "null")
                    count += 1
                }
                out.write("\n}\n")
            }
        }
        return count
    }

    /// Copies the outputs of each task's latest attempt that exist into `data/` (their absolute path below it);
    /// returns where each went in the crate, by its path.
    static func copyOutputs(log: String, into staging: String) throws -> [String: String] {
        var latest: [String: [PROVExport.Output]] = [:]  // task -> the outputs of its latest exit
        try ExperimentRecords.read(path: log) { records in try records.forEachExit { latest[$0.task] = try $0.existingOutputs() } }
        var copies: [String: String] = [:]
        let fm = FileManager.default
        for task in latest.keys.sorted() {
            for o in latest[task]! {
                let absolute = RecordedPath.absolute(o.path)
                var isDirectory: ObjCBool = false
                guard copies[absolute] == nil, fm.fileExists(atPath: absolute, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                let inCrate = "data" + absolute
                try fm.createDirectory(atPath: staging + "/" + (inCrate as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try fm.copyItem(atPath: absolute, toPath: staging + "/" + inCrate)
                copies[absolute] = CrateVocabulary.relativeURI(inCrate)
            }
        }
        return copies
    }

    /// Copies each attempt's stdout and stderr that are not empty into `folder`; returns their names.
    static func copyStreams(of layout: ExperimentLayout, into folder: String) throws -> Set<String> {
        let fm = FileManager.default
        var names = Set<String>()
        for name in (try? fm.contentsOfDirectory(atPath: layout.tasks)) ?? [] where name.hasSuffix(".stdout") || name.hasSuffix(".stderr") {
            let source = layout.tasks + "/" + name
            guard let size = (try? fm.attributesOfItem(atPath: source))?[.size] as? NSNumber, size.intValue > 0 else { continue }
            if names.isEmpty { try fm.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            // A finished attempt's streams never change: a hard link where the crate is on the same filesystem (a
            // copy of 100,000 small files costs a minute on some), a copy where it is not.
            if link(source, folder + "/" + name) != 0 { try fm.copyItem(atPath: source, toPath: folder + "/" + name) }
            names.insert(name)
        }
        return names
    }

    /// Puts the staged crate at `output`, replacing a crate there.
    static func replace(_ output: String, with staging: String) throws {
        let fm = FileManager.default
        let old = output + ".old-\(getpid())"
        let had = fm.fileExists(atPath: output)
        if had { guard rename(output, old) == 0 else { throw ExportError("cannot move \(output) aside: \(String(cString: strerror(errno)))") } }
        guard rename(staging, output) == 0 else {
            let why = String(cString: strerror(errno))
            if had { _ = rename(old, output) }
            throw ExportError("cannot rename \(staging) to \(output): \(why)")
        }
        if had { try? fm.removeItem(atPath: old) }
    }

    /// Zips the staged crate into `output` (under a temporary name, renamed into place).
    static func pack(_ staging: String, into output: String) throws {
        let tmp = output + ".tmp-\(getpid())"
        let zip = try ZipWriter(path: tmp)
        do {
            let fm = FileManager.default
            let names = (fm.subpaths(atPath: staging) ?? []).filter { name in
                var isDirectory: ObjCBool = false
                return fm.fileExists(atPath: staging + "/" + name, isDirectory: &isDirectory) && !isDirectory.boolValue
            }
            // The metadata first: a reader that streams the zip meets it before the data.
            for name in names.sorted(by: { ($0 == "ro-crate-metadata.json" ? "" : $0) < ($1 == "ro-crate-metadata.json" ? "" : $1) }) {
                try zip.add(name: name, file: staging + "/" + name)
            }
            try zip.finish()
        } catch {
            zip.abandon()
            unlink(tmp)
            throw error
        }
        guard rename(tmp, output) == 0 else { throw ExportError("cannot rename \(tmp) to \(output): \(String(cString: strerror(errno)))") }
    }

    static func readme(id: String, descriptor: Descriptor) -> String {
        """
        # clowdr experiment \(id)

        \(descriptor.name) \(descriptor.toolVersion), run by clowdr over each task's invocation. This folder is a
        Workflow Run RO-Crate (Provenance Run Crate profile 0.5): `ro-crate-metadata.json` describes every attempt
        of every task as a CreateAction (its inputs, outputs with SHA-256, times, status, resource usage, host and
        container image).

        - `descriptor.json`: the Boutiques descriptor, the crate's main workflow.
        - `invocations.json`: each task's invocation, by task.
        - `clowdr.db`: the event log; `clowdr query`, `clowdr status` and `clowdr export` read it.
        - `clowdr-\(id).json`, `clowdr-\(id).prov.json`: the JSON and W3C PROV exports.

        """
    }
}
