import AWS
import Digest
import Foundation
import JSON
import TestSupport
import Testing

/// AWS's Signature Version 4 vectors (`../shared/fixtures/sigv4/README.md` says where each comes from).
@Suite(
    "Signature Version 4: AWS's vectors",
    .enabled(if: TestSupport.sharedFixtures != nil, "../shared/fixtures is absent: the SigV4 vectors live there"))
struct SigV4Tests {
    static let root = (TestSupport.sharedFixtures ?? "") + "/sigv4"
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z

    static func cases(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + folder)) ?? []).filter {
            var dir: ObjCBool = false
            return FileManager.default.fileExists(atPath: root + "/" + folder + "/" + $0, isDirectory: &dir) && dir.boolValue
        }.sorted()
    }

    static func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// A request file: `METHOD PATH?QUERY HTTP/1.1`, `Name:value` lines, a blank line, the body.
    static func request(_ raw: String) -> (request: SignableRequest, body: String) {
        let (head, body) = raw.range(of: "\n\n").map { (String(raw[..<$0.lowerBound]), String(raw[$0.upperBound...])) } ?? (raw, "")
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let first = lines.removeFirst()
        let target = String(first.dropFirst(first.firstIndex(of: " ")!.utf16Offset(in: first) + 1).dropLast(" HTTP/1.1".count))
        let (path, query) = target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[target.index(after: $0)...])) } ?? (target, "")
        var headers: [(name: String, value: String)] = []
        for line in lines where !line.isEmpty {
            let colon = line.firstIndex(of: ":")!
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
        let hash = Hex.lowercase(SHA256.digest(Data(body.utf8)))
        return (SignableRequest(method: String(first.prefix { $0 != " " }), path: path, query: query, headers: headers, payloadHash: hash), body)
    }

    /// The aws-c-auth suite: each case signed in its headers and in its query, every step compared.
    @Test(
        "aws-c-auth's suite: canonical request, string to sign, signature and signed request, in headers and in the query",
        arguments: cases("aws-c-auth-v4"))
    func awsCAuth(_ name: String) throws {
        let dir = Self.root + "/aws-c-auth-v4/" + name
        let context = try JSONParser.parse(try Self.text(dir + "/context.json"))
        let c = context["credentials"]
        var signer = SigV4(
            credentials: Credentials(
                accessKeyID: c?["access_key_id"]?.stringValue ?? "", secretAccessKey: c?["secret_access_key"]?.stringValue ?? "",
                sessionToken: c?["token"]?.stringValue),
            region: context["region"]?.stringValue ?? "", service: context["service"]?.stringValue ?? "")
        signer.normalizesPath = context["normalize"]?.boolValue ?? true
        signer.signsPayload = context["sign_body"]?.boolValue ?? false
        signer.omitsSessionToken = context["omit_session_token"]?.boolValue ?? false
        let (request, _) = Self.request(try Self.text(dir + "/request.txt"))
        let time = SigV4.timestamp(Self.suiteDate)

        let signed = signer.sign(request, at: Self.suiteDate)
        var unsigned = signed
        unsigned.headers.removeAll { $0.name == "Authorization" || (signer.omitsSessionToken && $0.name == "X-Amz-Security-Token") }
        #expect(signer.canonicalRequest(unsigned).text == (try Self.text(dir + "/header-canonical-request.txt")), "\(name)")
        #expect(signer.stringToSign(signer.canonicalRequest(unsigned).text, time: time) == (try Self.text(dir + "/header-string-to-sign.txt")))
        let expectedSignature = try Self.text(dir + "/header-signature.txt").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(
            signed.header("Authorization")?.hasSuffix("Signature=" + expectedSignature) == true,
            "\(name): \(String(describing: signed.header("Authorization")))")
        let (expected, _) = Self.request(try Self.text(dir + "/header-signed-request.txt"))
        #expect(
            Set(signed.headers.map { "\($0.name.lowercased()):\($0.value)" }) == Set(expected.headers.map { "\($0.name.lowercased()):\($0.value)" }),
            "\(name)")

        let presigned = signer.presign(request, at: Self.suiteDate, expires: Int(context["expiration_in_seconds"]?.int64Value ?? 3600))
        let (expectedURL, _) = Self.request(try Self.text(dir + "/query-signed-request.txt"))
        #expect(Self.parameters(presigned.query) == Self.parameters(expectedURL.query), "\(name): \(presigned.query)")
        let querySignature = try Self.text(dir + "/query-signature.txt").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(presigned.query.hasSuffix("X-Amz-Signature=" + querySignature), "\(name)")
    }

    /// A query's parameters as a set (their order on the wire is free).
    static func parameters(_ query: String) -> Set<String> { Set(query.split(separator: "&").map(String.init)) }

    /// The 2015 suite: the canonical request from the request (where the zip is consistent), and the
    /// Authorization header from the string to sign for every case.
    @Test(
        "the 2015 suite: canonical request and string to sign from the request, Authorization from the string to sign",
        arguments: cases("aws-sig-v4-test-suite"))
    func suite2015(_ name: String) throws {
        let dir = Self.root + "/aws-sig-v4-test-suite/" + name + "/" + name
        let token =
            "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
        let signer = SigV4(
            credentials: Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "service")
        let time = SigV4.timestamp(Self.suiteDate)
        let sts = try Self.text(dir + ".sts")
        let authz = try Self.text(dir + ".authz").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(authz.hasSuffix("Signature=" + signer.signature(sts, time: time)), "\(name)")
        // The two form-urlencoded cases: their .creq was edited without regenerating .sts (README).
        guard !name.hasPrefix("post-x-www-form-urlencoded") else { return }
        var (request, _) = Self.request(try Self.text(dir + ".req"))
        if name == "post-sts-header-before" { #expect(request.header("X-Amz-Security-Token") == token) }
        let creq = signer.canonicalRequest(request).text
        #expect(creq == (try Self.text(dir + ".creq")), "\(name)")
        #expect(signer.stringToSign(creq, time: time) == sts, "\(name)")
        request.headers.removeAll { $0.name.lowercased() == "x-amz-date" }
        #expect(signer.sign(request, at: Self.suiteDate).header("Authorization") == authz, "\(name)")
    }

    /// S3's published examples: no path normalization, the payload signed.
    @Test("S3's examples: canonical requests, strings to sign and signatures")
    func s3Examples() throws {
        let doc = try JSONParser.parse(try Self.text(Self.root + "/s3-examples/s3-examples.json"))
        let signer = SigV4(
            credentials: Credentials(
                accessKeyID: doc["access_key_id"]?.stringValue ?? "", secretAccessKey: doc["secret_access_key"]?.stringValue ?? ""),
            region: "us-east-1", service: "s3")
        let time = doc["timestamp"]?.stringValue ?? ""
        guard case .object(let cases)? = doc["cases"] else {
            Issue.record("no cases")
            return
        }
        #expect(cases.count >= 3)
        for (name, c) in cases {
            guard case .object(let h)? = c["headers"] else { continue }
            let headers = h.map { (name: $0.key, value: $0.value.stringValue ?? "") }
            let request = SignableRequest(
                method: c["method"]?.stringValue ?? "", path: c["path"]?.stringValue ?? "", query: c["query"]?.stringValue ?? "",
                headers: headers, payloadHash: h["x-amz-content-sha256"]?.stringValue ?? "UNSIGNED-PAYLOAD")
            if let expected = c["canonical_request"]?.stringValue {
                let canonical = signer.canonicalRequest(request).text
                #expect(canonical == expected, "\(name)")
                #expect(signer.stringToSign(canonical, time: time) == c["string_to_sign"]?.stringValue, "\(name)")
            }
            if let sts = c["string_to_sign"]?.stringValue, let signature = c["signature"]?.stringValue {
                #expect(signer.signature(sts, time: time) == signature, "\(name)")
            }
        }
    }

    @Test("credentials never print their secret or token")
    func hiddenSecret() {
        let c = Credentials(accessKeyID: "AKID", secretAccessKey: "very-secret", sessionToken: "token-secret")
        #expect(!"\(c)".contains("token-secret") && !"\(c)".contains("very-secret") && "\(c)".contains("AKID"))
        #expect(!String(reflecting: c).contains("very-secret"))
    }
}
