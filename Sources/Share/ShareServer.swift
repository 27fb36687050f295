import ClowdrErrors
import Foundation

/// `clowdr share`: serves a `ShareSite` over HTTP/1.1, a thread per connection (a page and its polls: a few at a
/// time). Its own small server on POSIX sockets: an HTTP library would link Foundation's networking and with it
/// libcurl's thirty libraries into every clowdr process, about 6 ms more at each start (the worker on every node).
public final class ShareServer: Sendable {
    let site: ShareSite
    let host: String
    let port: UInt16
    /// Told one line per request (method, path, status, bytes, milliseconds), when set.
    let log: (@Sendable (String) -> Void)?
    /// Connections served at once; more are answered 503 and closed.
    static let maximumConnections = 128

    public init(site: ShareSite, host: String, port: UInt16, log: (@Sendable (String) -> Void)? = nil) {
        self.site = site
        self.host = host
        self.port = port
        self.log = log
    }

    /// Serves until the process ends; calls `listening` with the base URL once the socket accepts connections.
    /// Throws when it cannot listen on the host and port.
    public func run(listening: (String) -> Void) throws -> Never {
        let (fd, bound) = try Self.listen(host: host, port: port)
        listening("http://\(host.contains(":") ? "[\(host)]" : host):\(bound)/")
        let open = Counter()
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else {
                if errno == EMFILE || errno == ENFILE { usleep(100_000) }  // out of descriptors: let connections end
                continue
            }
            let busy = open.add(1) > Self.maximumConnections
            Thread.detachNewThread { [self] in
                defer { _ = open.add(-1) }
                guard !busy else {
                    var refused = HTTPConnection(fd: client, timeout: 1)
                    refused.serve { _ in HTTPConnection.Answer(status: 503, headers: [], body: Data("too many connections; try again\n".utf8)) }
                    return
                }
                var connection = HTTPConnection(fd: client)
                connection.serve(answer)
            }
        }
    }

    /// The answer to one request, from the site.
    func answer(_ request: HTTPRequestHead) -> HTTPConnection.Answer {
        let started = DispatchTime.now().uptimeNanoseconds
        let r = site.respond(method: request.method, path: request.path, acceptsGzip: (request.headers["accept-encoding"] ?? "").contains("gzip"))
        if let log {
            let ms = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
            log("\(request.method) \(request.path) \(r.status) \(r.body.count) bytes \(String(format: "%.1f", ms)) ms")
        }
        var headers = [("Content-Type", r.contentType), ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]
        if r.gzipped { headers.append(("Content-Encoding", "gzip")) }
        if let location = r.location { headers.append(("Location", location)) }
        return HTTPConnection.Answer(status: r.status, headers: headers, body: r.body)
    }

    /// A listening TCP socket on `host` (a name or a numeric IPv4 or IPv6 address) and `port` (0: any free port);
    /// returns it with the port it is bound to.
    static func listen(host: String, port: UInt16) throws -> (fd: Int32, port: UInt16) {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let found = getaddrinfo(host, String(port), &hints, &list)
        guard found == 0, let first = list else {
            throw CodedFailure("\(host) is not an address to listen on: \(String(cString: gai_strerror(found)))", code: "share.address", usage: true)
        }
        defer { freeaddrinfo(list) }
        var failure = "no address"
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let a = next {
            next = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0, Glibc.listen(fd, 128) == 0 else {
                failure = String(cString: strerror(errno))
                close(fd)
                continue
            }
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) } }
            let bound = withUnsafePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { s in
                    s.pointee.sa_family == sa_family_t(AF_INET6)
                        ? p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
                        : p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
                }
            }
            return (fd, UInt16(bigEndian: bound))
        }
        throw CodedFailure("cannot listen on \(host):\(port): \(failure)", code: "share.listen")
    }
}

/// A count shared by the connection threads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    /// Adds `delta`; returns the new value.
    func add(_ delta: Int) -> Int {
        lock.withLock {
            value += delta
            return value
        }
    }
}
