import CClowdrSystem
import Foundation

/// Writes a zip file (PKWARE's APPNOTE), member by member: files under 64 MiB deflated in memory, larger ones stored
/// (read twice: the CRC-32 first, then the bytes), so memory stays bounded whatever the outputs weigh. Zip64 records
/// are written when a size, an offset or the number of members passes what the 32-bit fields hold (an experiment of
/// 100,000 tasks has more than 65,535 invocation files). Times are zero (1980-01-01): the same crate gives the same
/// bytes.
final class ZipWriter {
    private struct Entry {
        var name: [UInt8]
        var crc: UInt32
        var method: UInt16
        var compressed: UInt64
        var size: UInt64
        var offset: UInt64
    }

    private let handle: FileHandle
    private let path: String
    private var entries: [Entry] = []
    private var offset: UInt64 = 0

    /// Files this large or larger are stored rather than deflated in memory.
    static let deflateLimit = 64 << 20

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw ExportError("cannot create \(path)")
        }
        handle = h
        self.path = path
    }

    /// Adds the file at `source` as the member `name` (a relative path with `/`).
    func add(name: String, file source: String) throws {
        let size = try fileSize(source)
        if size < ZipWriter.deflateLimit {
            guard let data = FileManager.default.contents(atPath: source) else { throw ExportError("cannot read \(source)") }
            try add(name: name, bytes: [UInt8](data))
            return
        }
        var crc: UInt32 = 0
        try forEachChunk(of: source) { chunk in crc = Self.crc(chunk, crc) }
        let entry = Entry(name: Array(name.utf8), crc: crc, method: 0, compressed: UInt64(size), size: UInt64(size), offset: offset)
        try writeLocalHeader(entry)
        var written = 0
        try forEachChunk(of: source) { chunk in
            try write(chunk)
            written += chunk.count
        }
        guard written == size else { throw ExportError("\(source) changed while it was written into \(path)") }
        entries.append(entry)
    }

    /// Adds `bytes` as the member `name`, deflated unless that does not make them smaller.
    func add(name: String, bytes: [UInt8]) throws {
        let crc = Self.crc(bytes, 0)
        var packed = [UInt8](repeating: 0, count: Int(clowdr_gzip_bound(bytes.count)))
        let n = bytes.withUnsafeBytes { i in packed.withUnsafeMutableBytes { clowdr_deflate_raw(i.baseAddress, i.count, $0.baseAddress, $0.count, 6) }
        }
        let deflated = n > 0 && n < bytes.count
        let body = deflated ? Array(packed[0..<n]) : bytes
        let entry = Entry(
            name: Array(name.utf8), crc: crc, method: deflated ? 8 : 0, compressed: UInt64(body.count), size: UInt64(bytes.count), offset: offset)
        try writeLocalHeader(entry)
        try write(body)
        entries.append(entry)
    }

    /// Writes the central directory and closes the file (synced).
    func finish() throws {
        let start = offset
        for e in entries { try writeCentralHeader(e) }
        let size = offset - start
        let needs64 = entries.count >= 0xFFFF || start >= 0xFFFF_FFFF || size >= 0xFFFF_FFFF
        if needs64 {
            let record = offset
            var z: [UInt8] = []
            z.le32(0x0606_4b50)
            z.le64(44)
            z.le16(45)
            z.le16(45)
            z.le32(0)
            z.le32(0)
            z.le64(UInt64(entries.count))
            z.le64(UInt64(entries.count))
            z.le64(size)
            z.le64(start)
            z.le32(0x0706_4b50)  // the locator
            z.le32(0)
            z.le64(record)
            z.le32(1)
            try write(z)
        }
        var end: [UInt8] = []
        end.le32(0x0605_4b50)
        end.le16(0)
        end.le16(0)
        end.le16(UInt16(min(entries.count, 0xFFFF)))
        end.le16(UInt16(min(entries.count, 0xFFFF)))
        end.le32(UInt32(min(size, 0xFFFF_FFFF)))
        end.le32(UInt32(min(start, 0xFFFF_FFFF)))
        end.le16(0)
        try write(end)
        try handle.synchronize()
        try handle.close()
    }

    /// Closes the file without finishing it (the caller removes it).
    func abandon() { try? handle.close() }

    private func writeLocalHeader(_ e: Entry) throws {
        let big = e.size >= 0xFFFF_FFFF || e.compressed >= 0xFFFF_FFFF
        var h: [UInt8] = []
        h.le32(0x0403_4b50)
        h.le16(big ? 45 : 20)
        h.le16(0x0800)  // names are UTF-8
        h.le16(e.method)
        h.le16(0)
        h.le16(0x21)  // 1980-01-01
        h.le32(e.crc)
        h.le32(big ? 0xFFFF_FFFF : UInt32(e.compressed))
        h.le32(big ? 0xFFFF_FFFF : UInt32(e.size))
        h.le16(UInt16(e.name.count))
        h.le16(big ? 20 : 0)
        h += e.name
        if big {
            h.le16(1)
            h.le16(16)
            h.le64(e.size)
            h.le64(e.compressed)
        }
        try write(h)
    }

    private func writeCentralHeader(_ e: Entry) throws {
        var extra: [UInt8] = []
        if e.size >= 0xFFFF_FFFF { extra.le64(e.size) }
        if e.compressed >= 0xFFFF_FFFF { extra.le64(e.compressed) }
        if e.offset >= 0xFFFF_FFFF { extra.le64(e.offset) }
        var h: [UInt8] = []
        h.le32(0x0201_4b50)
        h.le16(0x0300 | 45)  // made by Unix, version 4.5
        h.le16(extra.isEmpty ? 20 : 45)
        h.le16(0x0800)
        h.le16(e.method)
        h.le16(0)
        h.le16(0x21)
        h.le32(e.crc)
        h.le32(e.compressed >= 0xFFFF_FFFF ? 0xFFFF_FFFF : UInt32(e.compressed))
        h.le32(e.size >= 0xFFFF_FFFF ? 0xFFFF_FFFF : UInt32(e.size))
        h.le16(UInt16(e.name.count))
        h.le16(UInt16(extra.isEmpty ? 0 : extra.count + 4))
        h.le16(0)
        h.le16(0)
        h.le16(0)
        h.le32(UInt32(0o100644) << 16)  // a regular file, rw-r--r--
        h.le32(e.offset >= 0xFFFF_FFFF ? 0xFFFF_FFFF : UInt32(e.offset))
        h += e.name
        if !extra.isEmpty {
            h.le16(1)
            h.le16(UInt16(extra.count))
            h += extra
        }
        try write(h)
    }

    private func write(_ bytes: [UInt8]) throws {
        try handle.write(contentsOf: Data(bytes))
        offset += UInt64(bytes.count)
    }

    private func fileSize(_ path: String) throws -> Int {
        guard let n = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber else { throw ExportError("cannot read \(path)") }
        return n.intValue
    }

    private func forEachChunk(of path: String, _ body: ([UInt8]) throws -> Void) throws {
        guard let h = FileHandle(forReadingAtPath: path) else { throw ExportError("cannot read \(path)") }
        defer { try? h.close() }
        while true {
            let chunk = h.readData(ofLength: 1 << 20)
            if chunk.isEmpty { return }
            try body([UInt8](chunk))
        }
    }

    /// CRC-32 continued from `crc` (zlib's, through an incremental form: crc32 of the concatenation).
    private static func crc(_ bytes: [UInt8], _ crc: UInt32) -> UInt32 {
        bytes.withUnsafeBytes { clowdr_crc32_update(crc, $0.baseAddress, $0.count) }
    }
}

extension [UInt8] {
    fileprivate mutating func le16(_ v: UInt16) { append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8)]) }
    fileprivate mutating func le32(_ v: UInt32) { for k in 0..<4 { append(UInt8((v >> (8 * k)) & 0xFF)) } }
    fileprivate mutating func le64(_ v: UInt64) { for k in 0..<8 { append(UInt8((v >> (8 * k)) & 0xFF)) } }
}
