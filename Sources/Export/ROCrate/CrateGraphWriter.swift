import JSON

/// Writes `ro-crate-metadata.json` as it goes: the `@context`, then each entity of the `@graph` on a line of its
/// own, each declared once (a file many attempts read is one entity). Memory holds the ids declared, not the
/// entities: 100,000 attempts stream through.
final class CrateGraphWriter {
    private let out: BufferedOutput
    private var first = true
    private var declared = Set<String>()
    /// The ids of the data entities (Files) written, in order: the root's `hasPart`.
    let files: IDList
    private let writer = JSONWriter()

    init(_ out: BufferedOutput) throws {
        self.out = out
        files = try IDList()
        out.write(#"{"@context":"# + writer.string(CrateVocabulary.context) + #","@graph":["#)
    }

    /// An entity: `@id` and `@type` first, then `properties` in order (nil values left out).
    static func entity(_ id: String, _ type: [String], _ properties: [(String, JSONValue?)]) -> JSONObject {
        var o = JSONObject([("@id", .string(id)), ("@type", type.count == 1 ? .string(type[0]) : .array(type.map(JSONValue.string)))])
        for (k, v) in properties { if let v { o[k] = v } }
        return o
    }

    /// Writes the entity unless one with its id was written already; returns whether it was written. `unique`: its
    /// id is made once by construction (an attempt's action, its values): not remembered, which at 100,000 attempts
    /// keeps a million ids out of memory.
    @discardableResult
    func add(_ entity: JSONObject, unique: Bool = false) -> Bool {
        guard let id = entity["@id"]?.stringValue, unique || declared.insert(id).inserted else { return false }
        let type = entity["@type"]
        if type?.stringValue == "File" || type?.arrayValue?.contains(.string("File")) == true { files.append(id) }
        out.write((first ? "\n" : ",\n") + writer.string(.object(entity)))
        first = false
        return true
    }

    /// Writes an entity whose properties include long lists of references (the root's parts, the actions it
    /// mentions), streamed from their spools after the `head`'s properties.
    func add(_ head: JSONObject, lists: [(String, IDList)]) throws {
        guard let id = head["@id"]?.stringValue, declared.insert(id).inserted else { return }
        let text = writer.string(.object(head))
        out.write((first ? "\n" : ",\n") + text.dropLast())
        first = false
        for (key, list) in lists where list.count > 0 {
            out.write("," + writer.string(.string(key)) + ":" + (list.count == 1 ? "" : "["))
            var k = 0
            try list.forEachID { ref in
                out.write((k == 0 ? "" : ",") + #"{"@id":"# + writer.string(.string(ref)) + "}")
                k += 1
            }
            if list.count > 1 { out.write("]") }
        }
        out.write("}")
    }

    /// Whether an entity with this id was written.
    func has(_ id: String) -> Bool { declared.contains(id) }

    func finish() { out.write("\n]}\n") }
}

/// A list of ids too long to hold in memory at 100,000 attempts (the actions, the parts of the crate): kept in a
/// spool file, read back once.
final class IDList {
    private let spool: Spool
    private(set) var count = 0

    init() throws { spool = try Spool() }

    func append(_ id: String) {
        spool.write(id + "\n")
        count += 1
    }

    func forEachID(_ body: (String) -> Void) throws { try spool.forEachLine { body(String($0)) } }
}
