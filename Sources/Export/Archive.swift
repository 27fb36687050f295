import CClowdrSystem
import Digest
import EventLog
import Foundation
import SQLite

/// `clowdr archive`: the record of an experiment as one `.tar.gz` to keep beside the derivatives.
///
/// Members (under `clowdr-<experiment>/`): `clowdr.db` (a consistent snapshot taken with SQLite's online backup,
/// also while the experiment runs), `descriptor.json`, `tasks/` (each task's invocation, `<task>.json`, written from
/// the log: the original Clowdr's layout, which the experiment's folder has only with `--invocation-files`; and each
/// attempt's `<task>.<attempt>.stdout` and `.stderr`), the JSON and PROV exports, the HTML report, and
/// `MANIFEST`: `sha256  path` for every other member. Written under a temporary name and renamed, so a crash never
/// leaves a partial archive.
public enum Archive {
    /// Writes `into/clowdr-<id>.tar.gz` for the experiment folder `directory`; returns its path.
    public static func create(experimentDirectory directory: String, into: String) throws -> String {
        let id = (directory as NSString).lastPathComponent
        try FileManager.default.createDirectory(atPath: into, withIntermediateDirectories: true)
        let path = (into as NSString).appendingPathComponent("clowdr-\(id).tar.gz")
        let staging = NSTemporaryDirectory() + "clowdr-archive-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        // The log: a consistent copy even while a writer appends.
        let log = try EventLog(path: directory, mode: .readOnly)
        try log.withConnection { try $0.backup(to: staging + "/clowdr.db") }
        try JSONExport.write(logPath: staging + "/clowdr.db", to: staging + "/clowdr-\(id).json", samples: false)
        try PROVExport.write(
            logPath: staging + "/clowdr.db", descriptorPath: ExperimentLayout(directory: directory).descriptor,
            to: staging + "/clowdr-\(id).prov.json",
            format: .json)
        // The report, from the snapshot (and the attempts' stdout/stderr in the experiment folder).
        let report = try ReportData.build(db: staging + "/clowdr.db", experimentDirectory: directory)
        try AtomicFile.write(to: staging + "/clowdr-\(id).html") { $0.write(try HTMLReport.page(report, title: "clowdr · \(id)")) }

        var members: [(name: String, source: String)] = [
            ("clowdr.db", staging + "/clowdr.db"), ("clowdr-\(id).json", staging + "/clowdr-\(id).json"),
            ("clowdr-\(id).prov.json", staging + "/clowdr-\(id).prov.json"), ("clowdr-\(id).html", staging + "/clowdr-\(id).html"),
        ]
        let fm = FileManager.default
        if fm.fileExists(atPath: directory + "/descriptor.json") { members.append(("descriptor.json", directory + "/descriptor.json")) }
        let layout = ExperimentLayout(directory: directory)
        var taskFiles = try invocationFiles(log: staging + "/clowdr.db", into: staging + "/" + ExperimentLayout.tasksFolder)
        for name in (try? fm.contentsOfDirectory(atPath: layout.tasks)) ?? [] where ExperimentLayout.isTaskFileName(name) && taskFiles[name] == nil {
            taskFiles[name] = layout.tasks + "/" + name
        }
        for name in taskFiles.keys.sorted() { members.append((ExperimentLayout.tasksFolder + "/" + name, taskFiles[name]!)) }
        var manifest = ""
        for m in members { manifest += "\(try SHA256.hex(ofFile: m.source))  \(m.name)\n" }
        try manifest.write(toFile: staging + "/MANIFEST", atomically: false, encoding: .utf8)
        members.append(("MANIFEST", staging + "/MANIFEST"))

        let tmp = path + ".tmp-\(getpid())"
        guard let gz = clowdr_gz_open(tmp, "wb6") else { throw ExportError("cannot create \(tmp)") }
        do {
            let tar = TarWriter(gz: gz)
            for m in members { try tar.add(name: "clowdr-\(id)/" + m.name, file: m.source) }
            try tar.finish()
        } catch {
            _ = clowdr_gz_close(gz)
            unlink(tmp)
            throw error
        }
        guard clowdr_gz_close(gz) == 0 else {
            unlink(tmp)
            throw ExportError("cannot finish \(tmp)")
        }
        let fd = open(tmp, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        guard rename(tmp, path) == 0 else { throw ExportError("cannot rename \(tmp) to \(path): \(String(cString: strerror(errno)))") }
        return path
    }

    /// What `verify` found.
    public struct Verification: Sendable {
        public var members: Int
        public var problems: [String]
        public var ok: Bool { problems.isEmpty }
    }

    /// Writes each planned task's invocation file into `folder`, from the log's `task_planned` events; returns where
    /// each one is, by file name.
    static func invocationFiles(log: String, into folder: String) throws -> [String: String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var files: [String: String] = [:]
        try EventLog(path: log, mode: .readOnly).forEachEvent(lifecycleOnly: true) { e in
            guard e.type == EventType.taskPlanned.rawValue, let task = e.task, case .taskPlanned(let p) = try e.decoded().body else { return }
            let name = ExperimentLayout.invocationName(task)
            try TaskPlanned.invocationFileText(p.invocation).write(toFile: folder + "/" + name, atomically: false, encoding: .utf8)
            files[name] = folder + "/" + name
        }
        return files
    }

    /// Reads an archive and checks every member against its MANIFEST.
    public static func verify(_ path: String) throws -> Verification {
        guard let gz = clowdr_gz_open(path, "rb") else { throw ExportError("cannot open \(path)") }
        defer { _ = clowdr_gz_close(gz) }
        var digests: [String: String] = [:]
        var manifest: String?
        var count = 0
        var header = [UInt8](repeating: 0, count: 512)
        while true {
            guard try readFull(gz, &header), header.contains(where: { $0 != 0 }) else { break }
            let name = tarString(header, 345, 155).isEmpty ? tarString(header, 0, 100) : tarString(header, 345, 155) + "/" + tarString(header, 0, 100)
            guard let size = Int(tarString(header, 124, 12).trimmingCharacters(in: .whitespaces), radix: 8) else {
                throw ExportError("\(path): a member header is damaged")
            }
            let hash = SHA256()
            var remaining = size
            var content: [UInt8] = []
            let isManifest = name.hasSuffix("/MANIFEST")
            var block = [UInt8](repeating: 0, count: 512)
            while remaining > 0 {
                guard try readFull(gz, &block) else { throw ExportError("\(path): \(name) is cut short") }
                let n = min(512, remaining)
                block.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                if isManifest { content += block[0..<n] }
                remaining -= n
            }
            let digest = hash.finalize()
            let member = name.split(separator: "/", maxSplits: 1).dropFirst().first.map(String.init) ?? name
            if isManifest {
                manifest = String(decoding: content, as: UTF8.self)
            } else {
                digests[member] = Hex.lowercase(digest)
            }
            count += 1
        }
        guard let manifest else { return Verification(members: count, problems: ["no MANIFEST in the archive"]) }
        var problems: [String] = []
        var listed = Set<String>()
        for line in manifest.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[1].trimmingCharacters(in: .whitespaces)
            listed.insert(name)
            guard let found = digests[name] else {
                problems.append("\(name): listed in MANIFEST, missing from the archive")
                continue
            }
            if found != String(parts[0]) { problems.append("\(name): sha256 \(found), MANIFEST says \(parts[0])") }
        }
        for name in digests.keys where !listed.contains(name) { problems.append("\(name): in the archive, not in MANIFEST") }
        return Verification(members: count, problems: problems.sorted())
    }

    static func readFull(_ gz: UnsafeMutableRawPointer, _ buffer: inout [UInt8]) throws -> Bool {
        var got = 0
        while got < buffer.count {
            let n = buffer.withUnsafeMutableBytes { clowdr_gz_read(gz, $0.baseAddress! + got, UInt32($0.count - got)) }
            if n < 0 { throw ExportError("the archive is not a valid gzip stream") }
            if n == 0 { return got == buffer.count }
            got += Int(n)
        }
        return true
    }

    static func tarString(_ h: [UInt8], _ offset: Int, _ length: Int) -> String {
        String(decoding: h[offset..<(offset + length)].prefix { $0 != 0 }, as: UTF8.self)
    }

}

/// Writes a ustar archive into a gzip stream, member by member, streaming each file.
final class TarWriter {
    let gz: UnsafeMutableRawPointer

    init(gz: UnsafeMutableRawPointer) { self.gz = gz }

    func write(_ bytes: [UInt8]) throws {
        let n = bytes.withUnsafeBytes { clowdr_gz_write(gz, $0.baseAddress, UInt32($0.count)) }
        guard n == bytes.count else { throw ExportError("cannot write the archive") }
    }

    func add(name: String, file: String) throws {
        guard let h = FileHandle(forReadingAtPath: file) else { throw ExportError("cannot read \(file)") }
        defer { try? h.close() }
        let size = ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.intValue ?? 0
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, _ offset: Int, _ length: Int) {
            for (i, b) in s.utf8.prefix(length).enumerated() { header[offset + i] = b }
        }
        var prefix = ""
        var short = name
        if name.utf8.count > 100,
            let cut = name.utf8.indices.last(where: {
                name.utf8[$0] == UInt8(ascii: "/") && name.utf8.distance(from: name.utf8.startIndex, to: $0) <= 155
            })
        {
            prefix = String(name[..<cut])
            short = String(name[name.index(after: cut)...])
        }
        guard short.utf8.count <= 100 else { throw ExportError("\(name): path too long for the archive") }
        put(short, 0, 100)
        put(String(format: "%07o", 0o644), 100, 8)
        put(String(format: "%07o", 0), 108, 8)
        put(String(format: "%07o", 0), 116, 8)
        put(String(format: "%011o", size), 124, 12)
        put(String(format: "%011o", 0), 136, 12)  // mtime 0: the same record gives the same archive
        put("        ", 148, 8)
        header[156] = UInt8(ascii: "0")
        put("ustar", 257, 6)
        put("00", 263, 2)
        put("clowdr", 265, 32)
        put("clowdr", 297, 32)
        put(prefix, 345, 155)
        let sum = header.reduce(0) { $0 + Int($1) }
        put(String(format: "%06o", sum) + "\0 ", 148, 8)
        try write(header)
        var written = 0
        while true {
            let chunk = h.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            try write([UInt8](chunk))
            written += chunk.count
        }
        guard written == size else { throw ExportError("\(file) changed while it was archived") }
        let pad = (512 - size % 512) % 512
        if pad > 0 { try write([UInt8](repeating: 0, count: pad)) }
    }

    func finish() throws { try write([UInt8](repeating: 0, count: 1024)) }
}
