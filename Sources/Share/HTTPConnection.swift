import Foundation

/// One client's connection to the share server: reads request heads, hands each to `respond`, writes the answers,
/// until the client closes, asks to close, idles for `timeout` seconds, or sends something that is not HTTP/1.x.
///
/// Request bodies are read and dropped (the server is read-only) up to `maximumBody` bytes; a larger body, or one
/// of unknown length, gets its answer and the connection is closed after it.
struct HTTPConnection {
    /// What the server answers a request with.
    struct Answer {
        var status: Int
        var headers: [(String, String)]
        var body: Data
    }

    let fd: Int32
    static let maximumBody = 1 << 20

    private var buffer: [UInt8] = []

    init(fd: Int32, timeout: Int = 30) {
        self.fd = fd
        var t = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Serves requests until the connection ends, then closes it.
    mutating func serve(_ respond: (HTTPRequestHead) -> Answer) {
        defer { lingeringClose() }
        while true {
            guard let head = readHead() else { return }
            let request: HTTPRequestHead
            switch head {
            case .tooLarge:
                send(
                    Answer(status: 431, headers: [], body: Data("the request's head is over \(HTTPRequestHead.maximumSize) bytes\n".utf8)),
                    head: false, close: true)
                return
            case .bytes(let bytes):
                do { request = try HTTPRequestHead.parse(bytes) } catch {
                    guard case .malformed(let what) = error else { return }
                    send(Answer(status: 400, headers: [], body: Data("not an HTTP/1.x request: \(what)\n".utf8)), head: false, close: true)
                    return
                }
            }
            var keepAlive = request.keepAlive
            if let length = request.bodyLength, length != 0 {
                if length < 0 || length > Self.maximumBody || !discard(length) { keepAlive = false }
            }
            let answer = respond(request)
            guard send(answer, head: request.method == "HEAD", close: !keepAlive), keepAlive else { return }
        }
    }

    /// What the next request's head is: its bytes, or too large; nil when the client closed or went quiet.
    private enum Head {
        case bytes(ArraySlice<UInt8>)
        case tooLarge
    }

    private mutating func readHead() -> Head? {
        var searchFrom = 0
        while true {
            if let end = Self.blankLine(in: buffer, from: searchFrom) {
                guard end <= HTTPRequestHead.maximumSize else { return .tooLarge }
                let head = buffer[..<end]
                defer { buffer.removeSubrange(..<(end + 4)) }
                return .bytes(ArraySlice(Array(head)))
            }
            if buffer.count > HTTPRequestHead.maximumSize { return .tooLarge }
            searchFrom = max(0, buffer.count - 3)
            guard receive() else { return nil }
        }
    }

    /// Closes after the client has seen the last answer: what it sent and the server did not read would otherwise
    /// make the kernel reset the connection, and the client could lose the answer. Reads (and drops) for at most a
    /// second or 1 MB.
    private func lingeringClose() {
        shutdown(fd, Int32(SHUT_WR))
        var t = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
        var chunk = [UInt8](repeating: 0, count: 16384)
        var drained = 0
        while drained < Self.maximumBody {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            drained += n
        }
        close(fd)
    }

    /// The index of the first CRLF CRLF at or after `from`.
    static func blankLine(in bytes: [UInt8], from: Int) -> Int? {
        guard bytes.count >= 4 else { return nil }
        var i = from
        while i + 3 < bytes.count {
            if bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i }
            i += 1
        }
        return nil
    }

    /// Reads more of the stream into the buffer; false at its end, on an error or after `timeout` seconds of quiet.
    private mutating func receive() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer += chunk[..<n]
                return true
            }
            if n < 0 && errno == EINTR { continue }
            return false
        }
    }

    /// Drops a request body of `length` bytes; false when the stream ended first.
    private mutating func discard(_ length: Int) -> Bool {
        var left = length
        while true {
            let taken = min(left, buffer.count)
            buffer.removeSubrange(..<taken)
            left -= taken
            if left == 0 { return true }
            guard receive() else { return false }
        }
    }

    /// Writes an answer (its head only for HEAD, with the length the body would have); false when the client is gone.
    @discardableResult
    private func send(_ answer: Answer, head: Bool, close: Bool) -> Bool {
        var text = "HTTP/1.1 \(answer.status) \(Self.phrase(answer.status))\r\n"
        var headers = answer.headers
        if !headers.contains(where: { $0.0.lowercased() == "content-type" }) { headers.append(("Content-Type", "text/plain; charset=utf-8")) }
        headers.append(("Content-Length", "\(answer.body.count)"))
        if close { headers.append(("Connection", "close")) }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        var bytes = Data(text.utf8)
        if !head { bytes.append(answer.body) }
        return bytes.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                sent += n
            }
            return true
        }
    }

    static func phrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 302: "Found"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 431: "Request Header Fields Too Large"
        case 503: "Service Unavailable"
        default: "Internal Server Error"
        }
    }
}
