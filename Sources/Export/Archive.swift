import CClowdrSystem
import Digest
import EventLog
import Foundation
import SQLite

/// `clowdr archive`: the record of an experiment as one `.tar.gz` to keep beside the derivatives. It is an RO-Crate
/// (`clowdr export rocrate`'s, Provenance Run Crate 0.5) with the HTML report and a MANIFEST added.
///
/// Members (under `clowdr-<experiment>/`): `ro-crate-metadata.json`, `clowdr.db` (a consistent snapshot taken with
/// SQLite's online backup, also while the experiment runs), `descriptor.json`, `invocations.json`, `tasks/` (each
/// attempt's `<task>.<attempt>.stdout` and `.stderr` that are not empty: the experiment folder's layout, so
/// `clowdr query` and `clowdr status` work on the unpacked archive), the JSON and PROV exports, the HTML report,
/// `README.md`, and `MANIFEST`: `sha256  path` for every other member. Written under a temporary name and renamed,
/// so a crash never leaves a partial archive.
///
/// Into a BIDS dataset (a folder with `dataset_description.json`, such as the derivatives the experiment wrote), the
/// archive goes to its `code/clowdr/`: BIDS keeps `code/` for what was used to make the dataset, and validators
/// leave it alone; a folder of clowdr's own at the top (BEP028's proposed `prov/`) is an error to today's validator.
public enum Archive {
    /// Where `create` puts the archive of an experiment for `into`: `into/code/clowdr/` in a BIDS dataset, else `into`.
    public static func folder(into: String) -> String {
        FileManager.default.fileExists(atPath: into + "/dataset_description.json") ? into + "/code/clowdr" : into
    }

    /// Writes the archive of the experiment folder `directory` into `folder(into:)`; returns its path.
    /// `progress` is told each step as it starts (what it writes), for a progress line.
    public static func create(
        experimentDirectory directory: String, into: String, options: ROCrateExport.Options = .init(),
        progress: ((ROCrateExport.Step) -> Void)? = nil
    ) throws -> String {
        let id = (directory as NSString).lastPathComponent
        let folder = folder(into: into)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = (folder as NSString).appendingPathComponent("clowdr-\(id).tar.gz")
        let staging = NSTemporaryDirectory() + "clowdr-archive-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        var steps = ROCrateExport.Steps(count: ROCrateExport.stagingSteps + 4, tell: progress)
        var parts = try ROCrateExport.stageFiles(experimentDirectory: directory, into: staging, options: options, steps: &steps)
        // The report, from the snapshot (and the attempts' stdout/stderr in the experiment folder).
        steps.start("the report")
        let report = try ReportData.build(db: staging + "/" + EventLog.fileName, experimentDirectory: directory)
        try AtomicFile.write(to: staging + "/clowdr-\(id).html") { $0.write(try HTMLReport.page(report, title: "clowdr · \(id)")) }
        parts.files.append(("clowdr-\(id).html", "clowdr-\(id).html", "The report: one self-contained HTML page (clowdr export html)."))
        parts.files.append(("MANIFEST", "MANIFEST", "The sha256 of every other member (clowdr archive --verify checks them)."))
        steps.start("ro-crate-metadata.json")
        try ROCrateExport.writeMetadata(parts, into: staging)

        steps.start("MANIFEST")
        let members = try (FileManager.default.subpathsOfDirectory(atPath: staging)).filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: staging + "/" + name, isDirectory: &isDirectory) && !isDirectory.boolValue
        }.sorted()
        var manifest = ""
        for name in members { manifest += "\(try SHA256.hex(ofFile: staging + "/" + name))  \(name)\n" }
        try manifest.write(toFile: staging + "/MANIFEST", atomically: false, encoding: .utf8)
        steps.start("the tar.gz")
        try writeTar(members + ["MANIFEST"], from: staging, under: "clowdr-\(id)/", to: path)
        return path
    }

    /// Writes the gzip'd tar of `members` (paths under `staging`) at `path`, under a temporary name, synced, renamed.
    static func writeTar(_ members: [String], from staging: String, under prefix: String, to path: String) throws {
        let tmp = path + ".tmp-\(getpid())"
        guard let gz = clowdr_gz_open(tmp, "wb6") else { throw ExportError("cannot create \(tmp)") }
        do {
            let tar = TarWriter(gz: gz)
            for m in members { try tar.add(name: prefix + m, file: staging + "/" + m) }
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
    }

    /// What `verify` found.
    public struct Verification: Sendable {
        public var members: Int
        public var problems: [String]
        public var ok: Bool { problems.isEmpty }
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
