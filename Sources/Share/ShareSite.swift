import EventLog
import Export
public import Foundation

/// What `clowdr share` serves, independent of the HTTP server: a request's method and path in, a response out.
///
/// Pages: `/` (the index of a PROVDIR's experiments, or a redirect to the one experiment), `/e/ID/` (the live
/// report). Data (JSON): `/e/ID/api/events` (the changes pushed to the page: `eventStream`, served by the server),
/// `/e/ID/api/version` (`{"seq":N}`, what a page without Server-Sent Events polls), `/e/ID/api/core`,
/// `/e/ID/api/detail` (the report's two documents, docs/report.md; a look at `version` first ingests what the
/// workers of a cluster run wrote since), `/e/ID/api/task/TASK` (one task, every
/// attempt, samples and log tails). Nothing else: no files by path, no listing, GET and HEAD only. An experiment id
/// must be one of the folders the PROVDIR holds now; a task id must be one the log knows.
public final class ShareSite: Sendable {
    /// A response: status, content type, body, and whether the body is gzip-encoded.
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: Data
        public var gzipped = false
        public var location: String?
    }

    /// A PROVDIR (index of its experiments) or a single experiment folder.
    public enum Root: Sendable {
        case provdir(String)
        case experiment(String)
    }

    public let root: Root
    let cache = ReportCache()

    public init(root: Root) { self.root = root }

    /// The experiments served, id -> folder (read anew on each request, so new experiments appear).
    func experiments() -> [String: String] {
        switch root {
        case .experiment(let dir):
            return [(dir as NSString).lastPathComponent: dir]
        case .provdir(let dir):
            return Dictionary(uniqueKeysWithValues: ExperimentLayout.experiments(inProvdir: dir).map { ($0.id, $0.directory) })
        }
    }

    /// Answers one request. `path` is the request target's path, percent-decoded.
    public func respond(method: String, path: String, acceptsGzip: Bool) -> Response {
        guard method == "GET" || method == "HEAD" else { return text(405, "clowdr share is read-only: GET and HEAD only\n") }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // Every request names a fixed route; no component may walk anywhere.
        guard parts.first == "", !parts.contains(where: { $0 == ".." || $0 == "." || $0.contains("\\") || $0.contains("\0") }) else {
            return text(404, "not found\n")
        }
        let experiments = experiments()
        let p = Array(parts.dropFirst())
        do {
            if p == [""] {
                if case .experiment = root, let id = experiments.keys.first { return redirect("/e/\(id)/") }
                return html(try index(experiments))
            }
            guard p.count >= 2, p[0] == "e", let dir = experiments[p[1]] else { return text(404, "not found\n") }
            let id = p[1]
            switch p.count {
            case 2,
                3 where p[2] == "":  // the server may hand the path over without its trailing slash
                return html(HTMLReport.livePage(api: "/e/\(id)/api/", title: "clowdr · \(id) (live)"))
            case 4 where p[2] == "api" && p[3] == "version":
                // What the page polls: the workers' new events are ingested first (when the log can be written).
                _ = try? ExperimentLayout(directory: dir).ingestNewSegments()
                return json(Data("{\"seq\":\(try ReportData.lastSeq(experimentDirectory: dir))}".utf8), gzipped: false)
            case 4 where p[2] == "api" && (p[3] == "core" || p[3] == "detail"):
                guard acceptsGzip else {  // rare (browsers all accept gzip): built afresh, not cached
                    let data = try ReportData.build(experimentDirectory: dir, budget: .live)
                    return json(Data((p[3] == "core" ? data.core : data.detail).utf8), gzipped: false)
                }
                let docs = try cache.documents(directory: dir)
                return json(p[3] == "core" ? docs.core : docs.detail, gzipped: true)
            case 5 where p[2] == "api" && p[3] == "task":
                guard let body = try ReportData.task(experimentDirectory: dir, task: p[4]) else { return text(404, "no task \(p[4]) in \(id)\n") }
                return json(Data(body.utf8), gzipped: false)
            default:
                return text(404, "not found\n")
            }
        } catch {
            return text(500, "\(error)\n")
        }
    }

    /// The experiment folder a `/e/ID/api/events` path names (the live page's push channel, served by the server
    /// itself as Server-Sent Events); nil for any other path.
    public func eventStream(path: String) -> String? {
        let p = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard p.count == 5, p[0] == "", p[1] == "e", p[3] == "api", p[4] == "events" else { return nil }
        return experiments()[p[2]]
    }

    /// The index page: one row per experiment, newest first, with its counts per state.
    func index(_ experiments: [String: String]) throws -> String {
        var rows = ""
        for (id, dir) in experiments.sorted(by: { $0.key > $1.key }) {
            let state = try? EventLog(path: dir, mode: .readOnly).replay()
            let counts = TaskState.allCases.compactMap { s in state?.counts[s].flatMap { $0 > 0 ? "\($0) \(s.rawValue)" : nil } }
            let name = state?.experiment?.name ?? ""
            rows +=
                "<tr><td><a href=\"/e/\(HTMLReport.escape(id))/\">\(HTMLReport.escape(id))</a></td><td>\(HTMLReport.escape(name))</td><td>\(HTMLReport.escape(counts.joined(separator: ", ")))</td></tr>\n"
        }
        return """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <title>clowdr share</title><style>body{font:14px system-ui,"DejaVu Sans",sans-serif;margin:24px}td,th{padding:4px 12px;text-align:left;border-bottom:1px solid #e3e7ee}</style>
            </head><body><h1>Experiments</h1><table id="experiments"><tr><th>experiment</th><th>name</th><th>tasks</th></tr>
            \(rows)</table><p>clowdr \(ClowdrVersion.current): this list refreshes every 5 s.</p></body></html>

            """
    }

    func text(_ status: Int, _ s: String) -> Response { Response(status: status, contentType: "text/plain; charset=utf-8", body: Data(s.utf8)) }
    func html(_ s: String) -> Response { Response(status: 200, contentType: "text/html; charset=utf-8", body: Data(s.utf8)) }
    func json(_ d: Data, gzipped: Bool) -> Response { Response(status: 200, contentType: "application/json", body: d, gzipped: gzipped) }
    /// A request without the share's secret (403).
    public func refusal() -> Response { text(403, ShareAccess.refusal) }
    public func redirect(_ to: String) -> Response {
        Response(status: 302, contentType: "text/plain; charset=utf-8", body: Data("see \(to)\n".utf8), location: to)
    }
}

/// The report documents of each experiment, gzipped, rebuilt only when the log has new events (one build at a
/// time: the connections of a page wait for it rather than build it twice).
final class ReportCache: @unchecked Sendable {
    struct Entry {
        var seq: Int64
        var core: Data
        var detail: Data
    }
    private var entries: [String: Entry] = [:]
    private let lock = NSLock()

    func documents(directory: String) throws -> Entry {
        try lock.withLock { try build(directory: directory) }
    }

    private func build(directory: String) throws -> Entry {
        let seq = try ReportData.lastSeq(experimentDirectory: directory)
        if let e = entries[directory], e.seq == seq { return e }
        let data = try ReportData.build(experimentDirectory: directory, budget: .live)
        // Level 1: rebuilt after every change while an experiment runs, and served over loopback.
        let e = Entry(
            seq: data.seq, core: try HTMLReport.gzip(Array(data.core.utf8), level: 1), detail: try HTMLReport.gzip(Array(data.detail.utf8), level: 1))
        entries[directory] = e
        return e
    }
}
