import ClowdrErrors
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
public import Share

/// `clowdr share`'s server: SwiftNIO's HTTP/1.1 on a few event loops, whatever the number of connections (no thread
/// per connection to run out of), a deadline for each request to arrive whole (a client that trickles a request
/// byte by byte is cut off, and holds nothing any other viewer needs), the site's answers built off the event
/// loops, and the live page's changes pushed as Server-Sent Events (`LiveFeeds`). Every request must carry the
/// share's secret (`ShareAccess`) unless the share was started without one.
public final class ShareServer: Sendable {
    let site: ShareSite
    let host: String
    let port: Int
    let token: String?
    /// Told one line per request (method, path without its token, status, bytes, milliseconds), when set.
    let log: (@Sendable (String) -> Void)?
    let feeds = LiveFeeds()
    /// How long a request may take to arrive whole, from the connection's opening or the previous answer (seconds).
    public let requestDeadline: Double
    let group: MultiThreadedEventLoopGroup
    /// Where the site's answers are built (a report of 100,000 tasks takes a second or two): off the event loops.
    let builders: NIOThreadPool
    /// The port bound, once listening (the cookie that carries the secret is named after it).
    private let bound = BoundPort()

    public init(
        site: ShareSite, host: String, port: Int, token: String?, requestDeadline: Double = 10,
        log: (@Sendable (String) -> Void)? = nil
    ) {
        self.site = site
        self.host = host
        self.port = port
        self.token = token
        self.requestDeadline = requestDeadline
        self.log = log
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        builders = NIOThreadPool(numberOfThreads: 4)
    }

    /// Starts listening; returns the port bound (useful with port 0). Throws a usage error when the host is not an
    /// address to listen on, else a failure naming the host and port.
    public func start() throws -> Int {
        builders.start()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                do {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(server: self))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch { return channel.eventLoop.makeFailedFuture(error) }
            }
            .childChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        let channel: any Channel
        do { channel = try bootstrap.bind(host: host, port: port).wait() } catch let e as SocketAddressError {
            throw CodedFailure("\(host) is not an address to listen on: \(e)", code: "share.address", usage: true)
        } catch {
            throw CodedFailure("cannot listen on \(host):\(port): \(error)", code: "share.listen")
        }
        let p = channel.localAddress?.port ?? port
        bound.set(p)
        return p
    }

    /// The base URL a browser opens: the host, the port bound and, with a secret, `?token=`.
    public func url(port bound: Int) -> String {
        "http://\(host.contains(":") ? "[\(host)]" : host):\(bound)/" + (token.map { "?token=\($0)" } ?? "")
    }

    var access: ShareAccess { ShareAccess(token: token, port: bound.get()) }
}

/// The port a server bound, set once it listens.
final class BoundPort: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func set(_ p: Int) { lock.withLock { value = p } }
    func get() -> Int { lock.withLock { value } }
}

/// One connection: requests in, answers out, in order (NIO's pipeline handler holds a pipelined request until the
/// answer before it is written); a request that does not arrive whole within the server's deadline closes it.
final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: ShareServer
    var head: HTTPRequestHead?
    var bodyBytes = 0
    var deadline: Scheduled<Void>?
    /// The live page's feed this connection follows, once it became an event stream.
    var following: (directory: String, id: Int)?
    /// Request bodies are dropped (the site is read-only); one larger than this closes the connection.
    static let maximumBody = 1 << 20

    init(server: ShareServer) { self.server = server }

    func handlerAdded(context: ChannelHandlerContext) { arm(context) }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        if let f = following { server.feeds.unsubscribe(directory: f.directory, id: f.id) }
        context.fireChannelInactive()
    }

    /// The next request must arrive whole within the deadline, or the connection is closed.
    func arm(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: .milliseconds(Int64(server.requestDeadline * 1000))) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            bodyBytes = 0
        case .body(let b):
            bodyBytes += b.readableBytes
            if bodyBytes > Self.maximumBody { context.close(promise: nil) }
        case .end:
            deadline?.cancel()
            deadline = nil
            if let head { respond(to: head, context: context) }
        }
    }

    func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let started = DispatchTime.now().uptimeNanoseconds
        let (rawPath, query) = Self.split(head.uri)
        let path = rawPath.removingPercentEncoding ?? rawPath
        let headers = head.headers.map { (name: $0.name, value: $0.value) }
        switch server.access.decide(path: rawPath, query: query, headers: headers) {
        case .deny:
            return write(server.site.refusal(), for: head, started: started, context: context)
        case .enter(let cookie, let location):
            return write(server.site.redirect(location), for: head, started: started, context: context, extra: [("Set-Cookie", cookie)])
        case .allow: break
        }
        if head.method == .GET, let directory = server.site.eventStream(path: path) {
            return follow(directory, head: head, context: context)
        }
        // Built off the event loop, written back on it.
        let site = server.site
        let gzip = head.headers["accept-encoding"].contains { $0.contains("gzip") }
        let method = head.method.rawValue
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        server.builders.submit { _ in
            let r = site.respond(method: method, path: path, acceptsGzip: gzip)
            loop.execute {
                let (handler, context) = bound.value
                handler.write(r, for: head, started: started, context: context)
            }
        }
    }

    /// Turns the connection into the page's event stream: the head now, then each change of the experiment.
    func follow(_ directory: String, head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/event-stream")
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "X-Accel-Buffering", value: "no")
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
        server.log?("GET \(ShareAccess.redacted(head.uri)) 200 event stream")
        let channel = context.channel
        let id = server.feeds.subscribe(directory: directory) { frame in
            guard channel.isActive else { return false }
            var buffer = channel.allocator.buffer(capacity: frame.utf8.count)
            buffer.writeString(frame)
            channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
            return true
        }
        following = (directory, id)
    }

    func write(
        _ r: ShareSite.Response, for head: HTTPRequestHead, started: UInt64, context: ChannelHandlerContext,
        extra: [(String, String)] = []
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: r.contentType)
        headers.add(name: "Content-Length", value: String(r.body.count))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        if r.gzipped { headers.add(name: "Content-Encoding", value: "gzip") }
        if let location = r.location { headers.add(name: "Location", value: location) }
        for (name, value) in extra { headers.add(name: name, value: value) }
        let keepAlive = head.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .init(statusCode: r.status), headers: headers))), promise: nil)
        if head.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: r.body.count)
            buffer.writeBytes(r.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in if !keepAlive { channel.close(promise: nil) } }
        if keepAlive { arm(context) }
        if let log = server.log {
            let ms = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
            log("\(head.method.rawValue) \(ShareAccess.redacted(head.uri)) \(r.status) \(r.body.count) bytes \(String(format: "%.1f", ms)) ms")
        }
    }

    /// A request target's path and query (without its `?`).
    static func split(_ uri: String) -> (path: String, query: String?) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, nil) }
        return (String(uri[..<q]), String(uri[uri.index(after: q)...]))
    }
}
