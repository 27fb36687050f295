import ClowdrErrors
import Foundation

/// The STS calls clowdr makes (Query protocol, XML answers): who is calling, and a role's temporary keys.
public struct STSClient: Sendable {
    public var http: AWSHTTP
    static let version = "2011-06-15"

    public init(configuration: AWSConfiguration) { http = AWSHTTP(configuration: configuration) }

    /// The caller's ARN and account.
    public func callerIdentity() throws -> (arn: String, account: String) {
        let xml = try http.query(service: "sts", action: "GetCallerIdentity", version: Self.version, [], resource: "the caller")
        return (XML.values("Arn", in: xml).first ?? "", XML.values("Account", in: xml).first ?? "")
    }

    /// Temporary keys of `role` (an ARN), valid `seconds`.
    public func assumeRole(_ role: String, session: String, seconds: Int = 3600) throws -> Credentials {
        let xml = try http.query(
            service: "sts", action: "AssumeRole", version: Self.version,
            [("RoleArn", role), ("RoleSessionName", session), ("DurationSeconds", String(seconds))], resource: "role \(role)")
        guard let id = XML.values("AccessKeyId", in: xml).first, let secret = XML.values("SecretAccessKey", in: xml).first else {
            throw AWSError("AssumeRole \(role): the answer holds no keys", code: "aws.bad_answer")
        }
        return Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: XML.values("SessionToken", in: xml).first)
    }
}
