import CHTTP
import ClowdrErrors
import Digest
public import Foundation

/// What an AWS service answered.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data

    /// A header's value (names compared case-insensitively).
    public func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
}

/// A request ready to go: its method, URL and header fields (the signature among them).
struct HTTPRequest: Sendable {
    var method: String
    var url: URL
    var headers: [(name: String, value: String)] = []
}

/// How many requests this process sent to AWS (retries included), for benchmarks that count API calls.
public final class AWSRequestCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    public var value: Int { lock.withLock { count } }
    func add() { lock.withLock { count += 1 } }
    public static let shared = AWSRequestCount()
}

/// Sends signed requests to AWS: SigV4 in the headers, retries with exponential backoff and jitter on 5xx answers,
/// throttling and dropped connections, and AWS's error bodies (XML or JSON) turned into messages.
public struct AWSHTTP: Sendable {
    public var configuration: AWSConfiguration
    /// How many times a request is sent at most.
    public var attempts = 5
    /// The first retry's delay in seconds (doubled each time, with jitter).
    public var backoff = 0.2

    public init(configuration: AWSConfiguration) { self.configuration = configuration }

    /// Sends `method url` with `body` and `headers`, signed for `service`. Throws on a failure after retries, and
    /// on an error answer, naming `operation` and `resource`.
    public func send(
        _ method: String, _ url: URL, service: String, body: Data = Data(), headers: [(name: String, value: String)] = [],
        operation: String, resource: String
    ) throws -> HTTPResponse {
        var last: (any Error)?
        for attempt in 0..<attempts {
            if attempt > 0 { Thread.sleep(forTimeInterval: backoff * pow(2, Double(attempt - 1)) * Double.random(in: 0.5...1.5)) }
            let response: HTTPResponse
            AWSRequestCount.shared.add()
            do { response = try Self.exchange(try sign(method, url, service: service, body: body, headers: headers), body: body) } catch let e
                as AWSError where e.errorCode == "aws.no_libcurl"
            {
                throw e  // nothing to retry: the library is missing
            } catch {
                last = error  // a dropped connection (or keys that could not be fetched again): try again
                continue
            }
            if response.status < 300 { return response }
            let error = Self.error(response, operation: operation, resource: resource)
            // Server faults and throttling pass; so does a body damaged on the way (its checksum did not match).
            if response.status >= 500
                || ["Throttling", "ThrottlingException", "SlowDown", "TooManyRequestsException", "RequestLimitExceeded", "BadDigest"].contains(
                    error.awsCode)
            {
                last = error.failure
                continue
            }
            throw error.failure
        }
        throw last ?? AWSError("\(operation) \(resource): no answer", code: "aws.unreachable")
    }

    /// The request signed at this moment.
    func sign(_ method: String, _ url: URL, service: String, body: Data, headers: [(name: String, value: String)]) throws -> HTTPRequest {
        let host = url.host.map { h in url.port.map { "\(h):\($0)" } ?? h } ?? ""
        let signer = SigV4(credentials: try configuration.signingCredentials(), region: configuration.region, service: service)
        let path = url.path(percentEncoded: true)
        let unsigned = SignableRequest(
            method: method, path: path.isEmpty ? "/" : path, query: url.query(percentEncoded: true) ?? "", headers: [("Host", host)] + headers,
            payloadHash: Hex.lowercase(SHA256.digest(body)))
        let signed = signer.sign(unsigned, at: Date())
        // libcurl sends the Host header itself (and never asks for "100 Continue" first: Sources/CHTTP).
        return HTTPRequest(method: method, url: url, headers: signed.headers.filter { $0.name != "Host" })
    }

    /// One unsigned exchange (a container registry's API, not AWS's), with no retries: nil when nothing answered.
    public static func plain(_ method: String, _ url: URL, headers: [(name: String, value: String)] = []) -> HTTPResponse? {
        try? exchange(HTTPRequest(method: method, url: url, headers: headers), body: Data(), timeout: 10)
    }

    /// One exchange, waited for, through libcurl on this thread (the body goes out from the caller's buffer, not
    /// handed between threads in small pieces).
    static func exchange(_ request: HTTPRequest, body: Data, timeout: Int = 120) throws -> HTTPResponse {
        let method = request.method
        let url = request.url.absoluteString
        let lines = request.headers.map { "\($0.name): \($0.value)" }
        var answer = clowdr_http_answer()
        let sent = withCStrings(lines) { headers in
            body.withUnsafeBytes { bytes in
                clowdr_http_exchange(method, url, headers.baseAddress, Int32(lines.count), bytes.baseAddress, bytes.count, timeout, &answer)
            }
        }
        defer { clowdr_http_answer_free(&answer) }
        guard sent == 0 else {
            let why = withUnsafeBytes(of: answer.error) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if sent == -2 { throw AWSError(why, code: "aws.no_libcurl") }
            throw AWSError("no answer from \(url): \(why)", code: "aws.unreachable")
        }
        let data = answer.body.map { Data(bytes: $0, count: answer.body_length) } ?? Data()
        let head = answer.headers.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: answer.headers_length), as: UTF8.self) } ?? ""
        return HTTPResponse(status: answer.status, headers: Self.headers(head), body: data)
    }

    /// The header fields of the last answer in `text` (a redirect or a `100 Continue` may come first).
    static func headers(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {  // "\r\n" is one Character
            if line.hasPrefix("HTTP/") {
                out = [:]
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            out[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    /// `body` with the strings as an array of C strings, valid during the call.
    static func withCStrings<R>(_ strings: [String], _ body: (UnsafeBufferPointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { for c in copies { free(c) } }
        return copies.map { UnsafePointer($0) }.withUnsafeBufferPointer(body)
    }

    /// AWS's error answer: its code (`SignatureDoesNotMatch`) and a message naming the operation, the resource and,
    /// for AccessDenied, the action refused.
    static func error(_ response: HTTPResponse, operation: String, resource: String) -> (awsCode: String, failure: AWSError) {
        let text = String(decoding: response.body, as: UTF8.self)
        var code = XML.values("Code", in: text).first ?? ""
        var message = XML.values("Message", in: text).first ?? ""
        if code.isEmpty, let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] {
            code = (object["__type"] as? String).map { String($0.split(separator: "#").last ?? "") } ?? ""
            message = (object["message"] ?? object["Message"]) as? String ?? ""
        }
        if code.isEmpty { code = response.header("x-amzn-ErrorType")?.split(separator: ":").first.map(String.init) ?? "HTTP\(response.status)" }
        var said = "\(operation) \(resource): \(code) (HTTP \(response.status))\(message.isEmpty ? "" : ": \(message)")"
        if code == "AccessDenied" || code == "AccessDeniedException" {
            said += "; the credentials in use are not allowed \(operation): grant that action on \(resource) to them"
        } else if code == "NoSuchBucket" {
            said += "; create the bucket, or correct the s3:// location that names it"
        } else if code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId" || code == "InvalidClientTokenId" {
            said += "; check the secret access key (and the clock) of the credentials in use"
        }
        return (code, AWSError(said, code: "aws." + code.lowercased()))
    }
}

/// The little XML reading AWS's answers need: the text of every element of a name, unescaped.
enum XML {
    static func values(_ tag: String, in text: String) -> [String] { elements(tag, in: text).map(unescape) }

    /// The elements `<tag>...</tag>` themselves (their inner text), for answers that list records.
    static func elements(_ tag: String, in text: String) -> [String] {
        var out: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "<\(tag)>"), let close = rest.range(of: "</\(tag)>", range: open.upperBound..<rest.endIndex) {
            out.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return out
    }

    static func unescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        return s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(
            of: "&quot;", with: "\""
        )
        .replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&#13;", with: "\r").replacingOccurrences(of: "&amp;", with: "&")
    }
}
