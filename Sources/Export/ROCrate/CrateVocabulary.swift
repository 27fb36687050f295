import EventLog
import Foundation
import JSON

/// The terms, profiles and units a clowdr crate uses: one place, so the crate's meaning is read here.
enum CrateVocabulary {
    /// The crate's `@context`: RO-Crate 1.1's, then the terms whose IRIs the Workflow Run profiles check, stated in
    /// the crate itself. Later RO-Crate contexts map some of them elsewhere (1.3's `ComputationalWorkflow` is
    /// bioschemas.org/terms/...): stated here, they mean the same under any context a reader resolves. `resourceUsage`,
    /// `containerImage` and the other workflow-run terms are those of https://w3id.org/ro/terms/workflow-run; `sha256`
    /// is schema.org's; `wasInformedBy` is W3C PROV's (a rerun's attempt informed by the attempt it replaces, as in
    /// `clowdr export prov`).
    static let context: JSONValue = .array([
        .string("https://w3id.org/ro/crate/1.1/context"),
        .object(
            JSONObject([
                ("ComputationalWorkflow", .string("https://bioschemas.org/ComputationalWorkflow")),
                ("FormalParameter", .string("https://bioschemas.org/FormalParameter")),
                ("input", .string("https://bioschemas.org/ComputationalWorkflow#input")),
                ("output", .string("https://bioschemas.org/ComputationalWorkflow#output")),
                ("resourceUsage", .string(workflowRun + "resourceUsage")),
                ("containerImage", .string(workflowRun + "containerImage")),
                ("ContainerImage", .string(workflowRun + "ContainerImage")),
                ("DockerImage", .string(workflowRun + "DockerImage")),
                ("SIFImage", .string(workflowRun + "SIFImage")),
                ("registry", .string(workflowRun + "registry")),
                ("tag", .string(workflowRun + "tag")),
                ("environment", .string(workflowRun + "environment")),
                ("sha256", .string("http://schema.org/sha256")),
                ("wasInformedBy", .string("http://www.w3.org/ns/prov#wasInformedBy")),
            ])),
    ])

    static let workflowRun = "https://w3id.org/ro/terms/workflow-run#"

    /// The profiles the crate conforms to: (id, name, version).
    static let profiles: [(id: String, name: String, version: String)] = [
        ("https://w3id.org/ro/wfrun/process/0.5", "Process Run Crate", "0.5"),
        ("https://w3id.org/ro/wfrun/workflow/0.5", "Workflow Run Crate", "0.5"),
        ("https://w3id.org/ro/wfrun/provenance/0.5", "Provenance Run Crate", "0.5"),
        ("https://w3id.org/workflowhub/workflow-ro-crate/1.0", "Workflow RO-Crate", "1.0"),
    ]

    /// Bioschemas' ComputationalWorkflow profile, which the main workflow follows.
    static let computationalWorkflowProfile = "https://bioschemas.org/profiles/ComputationalWorkflow/1.0-RELEASE"

    /// Boutiques, the language of the main workflow (the descriptor).
    static let boutiques = "https://boutiques.github.io/"

    /// Where clowdr's own identifiers live (the PROV export's namespace): the tool and clowdr are SoftwareApplications,
    /// whose ids the profile asks to be absolute http(s) URIs.
    static let namespace = PROVExport.namespace

    /// The resource usage clowdr records, as (propertyID's local name, unit): QUDT units.
    enum Usage: String, CaseIterable {
        case peakMemory, cpuTime, wallTime, bytesRead, bytesWritten
        var propertyID: String { CrateVocabulary.namespace + rawValue }
        var unitCode: String { self == .cpuTime || self == .wallTime ? "https://qudt.org/vocab/unit/SEC" : "https://qudt.org/vocab/unit/BYTE" }
        var name: String {
            switch self {
            case .peakMemory: "peak memory (resident set of the whole process tree)"
            case .cpuTime: "CPU time (user and system, of the whole process tree)"
            case .wallTime: "wall time"
            case .bytesRead: "bytes read from storage"
            case .bytesWritten: "bytes written to storage"
            }
        }
    }

    /// A Boutiques input type as a FormalParameter's additionalType.
    static func additionalType(boutiques type: String, integer: Bool) -> String {
        switch type {
        case "File": "File"
        case "Flag": "Boolean"
        case "Number": integer ? "Integer" : "Float"
        default: "Text"
        }
    }

    /// The media type of a file, from its name (IANA types; application/octet-stream when the name says nothing).
    static func encodingFormat(_ path: String) -> String {
        let name = (path as NSString).lastPathComponent.lowercased()
        let types: [(String, String)] = [
            (".nii.gz", "application/gzip"), (".tar.gz", "application/gzip"), (".gz", "application/gzip"), (".json", "application/json"),
            (".jsonld", "application/ld+json"), (".tsv", "text/tab-separated-values"), (".csv", "text/csv"), (".txt", "text/plain"),
            (".log", "text/plain"), (".md", "text/markdown"), (".html", "text/html"), (".svg", "image/svg+xml"), (".png", "image/png"),
            (".jpg", "image/jpeg"), (".pdf", "application/pdf"), (".zip", "application/zip"), (".db", "application/vnd.sqlite3"),
            (".provn", "text/provenance-notation"), (".py", "text/x-python"), (".sh", "text/x-shellscript"),
        ]
        return types.first { name.hasSuffix($0.0) }?.1 ?? "application/octet-stream"
    }

    /// A file outside the crate, named by its absolute path: a `file://` URI, the path's bytes percent-encoded
    /// where a URI cannot hold them.
    static func fileURI(_ path: String) -> String { "file://" + relativeURI(path) }

    /// A path as a URI's path: its bytes percent-encoded where a URI cannot hold them (a space is %20).
    static func relativeURI(_ path: String) -> String {
        var out = ""
        for b in path.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"):
                out.append(Character(Unicode.Scalar(b)))
            default: out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    /// A time as the Process Run Crate profile checks it: `YYYY-MM-DDTHH:MM:SS.mmm+00:00` (milliseconds; the log
    /// keeps microseconds).
    static func time(_ t: Timestamp) -> JSONValue {
        let iso = t.iso8601  // YYYY-MM-DDTHH:MM:SS.ffffffZ
        return .string(String(iso.prefix(23)) + "+00:00")
    }

    /// A reference to an entity.
    static func ref(_ id: String) -> JSONValue { .object(["@id": .string(id)]) }

    /// References to entities: one value for one (RO-Crate 1.1's compact form), an array for more, nil for none.
    static func refs(_ ids: [String]) -> JSONValue? {
        switch ids.count {
        case 0: nil
        case 1: ref(ids[0])
        default: .array(ids.map(ref))
        }
    }
}
