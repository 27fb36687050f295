import FlyingFox
import FlyingSocks
import Foundation

/// `clowdr share`: serves a `ShareSite` over HTTP with FlyingFox (a small server on Swift concurrency with no
/// dependencies of its own: it builds in seconds, where SwiftNIO-based servers take minutes).
public final class ShareServer: Sendable {
    let site: ShareSite
    let host: String
    let port: UInt16
    /// Told one line per request (method, path, status, bytes, milliseconds), when set.
    let log: (@Sendable (String) -> Void)?

    public init(site: ShareSite, host: String, port: UInt16, log: (@Sendable (String) -> Void)? = nil) {
        self.site = site
        self.host = host
        self.port = port
        self.log = log
    }

    /// Serves until the process ends; calls `listening` with the base URL once the socket accepts connections.
    public func run(listening: @escaping @Sendable (String) -> Void) async throws {
        let server =
            host.contains(":")
            ? HTTPServer(
                address: try sockaddr_in6.inet6(ip6: host, port: port), timeout: 30, logger: .disabled, handler: Handler(site: site, log: log))
            : HTTPServer(address: try sockaddr_in.inet(ip4: host, port: port), timeout: 30, logger: .disabled, handler: Handler(site: site, log: log))
        let task = Task { try await server.run() }
        try await server.waitUntilListening()
        var bound = port
        if case .ip4(_, let p)? = await server.listeningAddress { bound = p }
        if case .ip6(_, let p)? = await server.listeningAddress { bound = p }
        listening("http://\(host.contains(":") ? "[\(host)]" : host):\(bound)/")
        try await task.value
    }

    struct Handler: HTTPHandler {
        let site: ShareSite
        let log: (@Sendable (String) -> Void)?

        func handleRequest(_ request: HTTPRequest) async throws -> HTTPResponse {
            let gzip = (request.headers[HTTPHeader("Accept-Encoding")] ?? "").contains("gzip")
            let started = DispatchTime.now().uptimeNanoseconds
            let r = await site.respond(method: request.method.rawValue, path: request.path, acceptsGzip: gzip)
            if let log {
                let ms = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
                log("\(request.method.rawValue) \(request.path) \(r.status) \(r.body.count) bytes \(String(format: "%.1f", ms)) ms")
            }
            var headers: HTTPHeaders = [
                .contentType: r.contentType, .cacheControl: "no-store", HTTPHeader("X-Content-Type-Options"): "nosniff",
            ]
            if r.gzipped { headers[.contentEncoding] = "gzip" }
            if let location = r.location { headers[.location] = location }
            return HTTPResponse(
                statusCode: HTTPStatusCode(r.status, phrase: ShareServer.phrase(r.status)), headers: headers,
                body: request.method == .HEAD ? Data() : r.body)
        }
    }

    static func phrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 302: "Found"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        default: "Internal Server Error"
        }
    }
}
