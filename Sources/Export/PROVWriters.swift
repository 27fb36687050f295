import CClowdrSystem
import Foundation

/// Where `PROVExport` puts the document as it is made: each element once, each relation, then the whole written out.
protocol PROVWriter: AnyObject {
    func element(_ e: PROVExport.Element)
    func relation(_ r: PROVExport.Relation)
    /// Writes the document into `out`.
    func finish(into out: BufferedOutput) throws
}

/// A temporary file written in order and read back once: a section of a document too large to hold in memory.
/// Unlinked as soon as it is made, so nothing is left behind whatever happens; where the temporary folder cannot be
/// written (a reader with no write access anywhere, as `reading never writes` tests), an anonymous in-memory file.
final class Spool {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private(set) var isEmpty = true

    init() throws {
        let path = NSTemporaryDirectory() + "clowdr-spool-\(getpid())-\(UUID().uuidString.prefix(8))"
        if FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forUpdatingAtPath: path) {
            unlink(path)
            handle = h
            return
        }
        let fd = clowdr_memfd("clowdr-spool")
        guard fd >= 0 else { throw ExportError("cannot create a temporary file in \(NSTemporaryDirectory()) (set TMPDIR to a writable folder)") }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    func write(_ s: String) {
        isEmpty = false
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 20 { flush() }
    }

    private func flush() {
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    /// Each line written (without its newline), in order. Split on the newline byte, which never occurs inside a
    /// multi-byte UTF-8 character, so a chunk's edge never cuts one.
    func forEachLine(_ body: (Substring) -> Void) throws {
        flush()
        try handle.seek(toOffset: 0)
        var rest: [UInt8] = []
        while true {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            rest += chunk
            guard let last = rest.lastIndex(of: 0x0A) else { continue }
            for line in rest[..<last].split(separator: 0x0A, omittingEmptySubsequences: false) {
                body(Substring(String(decoding: line, as: UTF8.self)))
            }
            rest.removeSubrange(...last)
        }
        if !rest.isEmpty { body(Substring(String(decoding: rest, as: UTF8.self))) }
    }
}

/// PROV-JSON: one section per kind of element and relation, in a fixed order; a relation's id (`_:rN`) numbers
/// relations in that order, so it is given as the sections are copied out.
final class PROVJSONWriter: PROVWriter {
    static let elementKinds = ["entity", "activity", "agent"]
    static let relationKinds = ["used", "wasGeneratedBy", "wasDerivedFrom", "wasInformedBy", "wasAssociatedWith", "actedOnBehalfOf"]
    private var sections: [String: Spool] = [:]

    init() throws {
        for kind in Self.elementKinds + Self.relationKinds { sections[kind] = try Spool() }
    }

    func element(_ e: PROVExport.Element) {
        let body = e.attributes.map { PROVExport.js($0.0) + ":" + PROVExport.attrJSON($0.1) }.joined(separator: ",")
        sections[e.kind]!.write(PROVExport.js(e.id) + ":{" + body + "}\n")
    }

    func relation(_ r: PROVExport.Relation) {
        sections[r.kind]!.write(r.args.compactMap { a in a.1.map { PROVExport.js(a.0) + ":" + PROVExport.js($0) } }.joined(separator: ",") + "\n")
    }

    func finish(into out: BufferedOutput) throws {
        out.write(#"{"prefix":{"clowdr":"\#(PROVExport.namespace)","xsd":"http://www.w3.org/2001/XMLSchema#"}"#)
        var counter = 0
        for kind in Self.elementKinds + Self.relationKinds {
            let section = sections[kind]!
            guard !section.isEmpty else { continue }
            out.write(",\n\"\(kind)\":{")
            var first = true
            try section.forEachLine { line in
                let separator = first ? "\n" : ",\n"
                first = false
                if Self.elementKinds.contains(kind) {
                    out.write(separator + line)
                } else {
                    counter += 1
                    out.write(separator + "\"_:r\(counter)\":{" + line + "}")
                }
            }
            out.write("}")
        }
        out.write("}\n")
    }
}

/// PROV-N: the elements in the order they were declared, then the relations in the order they were made.
final class PROVNWriter: PROVWriter {
    private let elements: Spool
    private let relations: Spool
    private var counter = 0

    init() throws {
        elements = try Spool()
        relations = try Spool()
    }

    func element(_ e: PROVExport.Element) {
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
        let list = attrs.isEmpty ? "" : ", [" + attrs.map { "\($0.0)=\(PROVExport.attrPROVN($0.1))" }.joined(separator: ", ") + "]"
        elements.write("  \(e.kind)(\(e.id)\(times)\(list))\n")
    }

    func relation(_ r: PROVExport.Relation) {
        counter += 1
        let args = r.args.map { $0.1 ?? "-" }
        let trailing = r.kind == "used" || r.kind == "wasGeneratedBy" ? ", -" : ""
        relations.write("  \(r.kind)(_:r\(counter); \(args.joined(separator: ", "))\(trailing))\n")
    }

    func finish(into out: BufferedOutput) throws {
        out.write("document\n  prefix clowdr <\(PROVExport.namespace)>\n")
        try elements.forEachLine { out.write($0 + "\n") }
        try relations.forEachLine { out.write($0 + "\n") }
        out.write("endDocument\n")
    }
}
