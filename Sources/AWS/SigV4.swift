import Digest
public import Foundation

/// AWS credentials: an access key, its secret, and a session token for temporary credentials.
///
/// `description` never shows the secret or the token: a value printed by mistake leaks nothing.
public struct Credentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String { "Credentials(\(accessKeyID), secret hidden\(sessionToken == nil ? "" : ", session token hidden"))" }
}

/// An HTTP request as Signature Version 4 sees it.
public struct SignableRequest: Sendable, Equatable {
    public var method: String
    /// The path as sent: percent-encoded where it needs to be (an S3 key: `SigV4.encode(key, keepSlash: true)`).
    public var path: String
    /// The query string as sent, without its `?` (empty: none).
    public var query: String
    /// The headers, in order; a name may repeat.
    public var headers: [(name: String, value: String)]
    /// The payload's SHA-256 (hex), or `UNSIGNED-PAYLOAD`.
    public var payloadHash: String

    public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)], payloadHash: String) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.payloadHash = payloadHash
    }

    public static func == (a: SignableRequest, b: SignableRequest) -> Bool {
        a.method == b.method && a.path == b.path && a.query == b.query && a.payloadHash == b.payloadHash
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }

    /// The value of a header (the first of that name, case-insensitively).
    public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
}

/// Signature Version 4 (AWS4-HMAC-SHA256): signs a request in its headers (`sign`) or in its query (`presign`).
///
/// The steps are public so that tests can check each against AWS's vectors: the canonical request, the string to
/// sign, the signature.
public struct SigV4: Sendable {
    public var credentials: Credentials
    public var region: String
    public var service: String
    /// Sign the payload: add `x-amz-content-sha256` (always for S3).
    public var signsPayload: Bool
    /// Encode the path once more: every service but S3.
    public var encodesPathAgain: Bool
    /// Normalize the path (`.`, `..`, repeated slashes): every service but S3.
    public var normalizesPath: Bool
    /// Add the session token after signing instead of signing it (a few services want that).
    public var omitsSessionToken = false

    public init(credentials: Credentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
        signsPayload = service == "s3"
        encodesPathAgain = service != "s3"
        normalizesPath = service != "s3"
    }

    public static let algorithm = "AWS4-HMAC-SHA256"
    /// The SHA-256 of nothing: the payload hash of a request without a body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// `20150830T123600Z`.
    public static func timestamp(_ date: Date) -> String {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// The credential scope: `20150830/us-east-1/service/aws4_request`.
    public func scope(_ timestamp: String) -> String { "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request" }

    /// Signs `request` in its headers: adds `X-Amz-Date`, the session token and (when signing the payload)
    /// `x-amz-content-sha256`, then `Authorization`.
    public func sign(_ request: SignableRequest, at date: Date) -> SignableRequest {
        let time = Self.timestamp(date)
        var r = request
        r.headers.append(("X-Amz-Date", time))
        if let token = credentials.sessionToken, !omitsSessionToken { r.headers.append(("X-Amz-Security-Token", token)) }
        if signsPayload && r.header("x-amz-content-sha256") == nil { r.headers.append(("x-amz-content-sha256", r.payloadHash)) }
        let (canonical, signed) = canonicalRequest(r)
        let signature = self.signature(stringToSign(canonical, time: time), time: time)
        if let token = credentials.sessionToken, omitsSessionToken { r.headers.append(("X-Amz-Security-Token", token)) }
        r.headers.append(
            (
                "Authorization",
                "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope(time)), SignedHeaders=\(signed), Signature=\(signature)"
            ))
        return r
    }

    /// Signs `request` in its query (a presigned URL valid for `expires` seconds): adds the `X-Amz-*` parameters
    /// and `X-Amz-Signature`.
    public func presign(_ request: SignableRequest, at date: Date, expires: Int) -> SignableRequest {
        let time = Self.timestamp(date)
        var r = request
        let signedNames = Self.canonicalHeaders(r.headers).names
        var parameters = [
            ("X-Amz-Algorithm", Self.algorithm), ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope(time))"), ("X-Amz-Date", time),
            ("X-Amz-SignedHeaders", signedNames), ("X-Amz-Expires", String(expires)),
        ]
        if let token = credentials.sessionToken, !omitsSessionToken { parameters.append(("X-Amz-Security-Token", token)) }
        let added = parameters.map { Self.encode($0.0) + "=" + Self.encode($0.1) }.joined(separator: "&")
        r.query = r.query.isEmpty ? added : r.query + "&" + added
        let (canonical, _) = canonicalRequest(r)
        let signature = self.signature(stringToSign(canonical, time: time), time: time)
        if let token = credentials.sessionToken, omitsSessionToken { r.query += "&X-Amz-Security-Token=" + Self.encode(token) }
        r.query += "&X-Amz-Signature=" + signature
        return r
    }

    /// The canonical request, and the signed headers' names (`host;x-amz-date`).
    public func canonicalRequest(_ r: SignableRequest) -> (text: String, signedHeaders: String) {
        let headers = Self.canonicalHeaders(r.headers)
        let text = [r.method, canonicalPath(r.path), Self.canonicalQuery(r.query), headers.text, "", headers.names, r.payloadHash].joined(
            separator: "\n")
        return (text, headers.names)
    }

    /// The string to sign for a canonical request made at `time`.
    public func stringToSign(_ canonicalRequest: String, time: String) -> String {
        [Self.algorithm, time, scope(time), Hex.lowercase(SHA256.digest(Data(canonicalRequest.utf8)))].joined(separator: "\n")
    }

    /// The signature (hex) of a string to sign: HMAC-SHA256 under the key derived from the secret, the date, the
    /// region and the service.
    public func signature(_ stringToSign: String, time: String) -> String {
        var key = Self.hmac(Array(("AWS4" + credentials.secretAccessKey).utf8), String(time.prefix(8)))
        for part in [region, service, "aws4_request"] { key = Self.hmac(key, part) }
        return Hex.lowercase(Self.hmac(key, stringToSign))
    }

    /// The path as signed: for S3, as sent; for other services, normalized (unless told not to) and each segment
    /// encoded again.
    func canonicalPath(_ path: String) -> String {
        var p = path.isEmpty ? "/" : path
        if normalizesPath { p = Self.normalize(p) }
        guard encodesPathAgain else { return p }
        return p.split(separator: "/", omittingEmptySubsequences: false).map { Self.encode(String($0)) }.joined(separator: "/")
    }

    /// A path without `.` and `..` segments and repeated slashes (`//a/./b/../c/` is `/a/c/`).
    static func normalize(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                _ = segments.popLast()
                continue
            }
            segments.append(segment)
        }
        let trailing = path.hasSuffix("/") && !segments.isEmpty
        return "/" + segments.joined(separator: "/") + (trailing ? "/" : "")
    }

    /// The query as signed: each name and value decoded then encoded, sorted by name, then value.
    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: true).map { item -> (String, String) in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in String(s).removingPercentEncoding ?? String(s) }
            return (encode(decode(parts[0])), parts.count > 1 ? encode(decode(parts[1])) : "")
        }
        return pairs.sorted { ($0.0.utf8.lexicographicallyPrecedes($1.0.utf8)) || ($0.0 == $1.0 && $0.1.utf8.lexicographicallyPrecedes($1.1.utf8)) }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// The canonical headers (`name:value` lines, names in lower case and sorted, values trimmed with inner runs of
    /// spaces made one, repeated names joined by commas in order) and the signed headers' names.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (text: String, names: String) {
        var values: [String: [String]] = [:]
        for (name, value) in headers {
            let trimmed = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            values[name.lowercased(), default: []].append(trimmed.trimmingCharacters(in: .whitespaces))
        }
        let names = values.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return (names.map { "\($0):\(values[$0]!.joined(separator: ","))" }.joined(separator: "\n"), names.joined(separator: ";"))
    }

    /// Percent-encodes everything but the unreserved characters `A-Z a-z 0-9 - . _ ~` (and `/` with `keepSlash`).
    public static func encode(_ s: String, keepSlash: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: "/") where keepSlash: out += "/"
            default: out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    /// HMAC-SHA256 of a text under `key`.
    static func hmac(_ key: [UInt8], _ message: String) -> [UInt8] { SHA256.hmac(key: key, message: Array(message.utf8)) }
}
