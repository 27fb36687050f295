import ClowdrErrors
import Foundation
public import JSON

/// The three ways AWS's services other than S3 are spoken to, on top of `AWSHTTP.send`:
/// - REST-JSON (Batch): `POST /v1/<operation in lowercase>` with a JSON body;
/// - JSON 1.1 (ECR, CloudWatch Logs): `POST /` with `X-Amz-Target: <prefix>.<Operation>`;
/// - Query (IAM, EC2, STS): `POST /` with a form `Action=...&Version=...`, answered in XML.
extension AWSHTTP {
    /// A REST-JSON call (`path` such as `/v1/submitjob`); returns the answer's JSON (an empty object if none).
    public func restJSON(service: String, path: String, _ body: JSONValue, operation: String, resource: String) throws -> JSONValue {
        let url = URL(string: configuration.endpoint(service) + path)!
        let response = try send(
            "POST", url, service: service, body: Data(JSONWriter().string(body).utf8), headers: [("Content-Type", "application/json")],
            operation: operation, resource: resource)
        return try Self.parse(response, operation: operation)
    }

    /// A JSON 1.1 call: `target` is the service's prefix and the operation (`Logs_20140328.GetLogEvents`).
    public func json11(service: String, target: String, _ body: JSONValue, operation: String, resource: String) throws -> JSONValue {
        let url = URL(string: configuration.endpoint(service) + "/")!
        let response = try send(
            "POST", url, service: service, body: Data(JSONWriter().string(body).utf8),
            headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", target)], operation: operation, resource: resource)
        return try Self.parse(response, operation: operation)
    }

    /// A Query call; returns the XML answer's text. IAM is global: it is signed for us-east-1 whatever the region.
    public func query(
        service: String, action: String, version: String, _ parameters: [(String, String)], resource: String
    ) throws -> String {
        var http = self
        if service == "iam" { http.configuration.region = "us-east-1" }
        let form = ([("Action", action), ("Version", version)] + parameters).map { SigV4.encode($0.0) + "=" + SigV4.encode($0.1) }
            .joined(separator: "&")
        let url = URL(string: http.configuration.endpoint(service) + "/")!
        let response = try http.send(
            "POST", url, service: service, body: Data(form.utf8),
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")], operation: action, resource: resource)
        return String(decoding: response.body, as: UTF8.self)
    }

    static func parse(_ response: HTTPResponse, operation: String) throws -> JSONValue {
        if response.body.isEmpty { return .object(JSONObject()) }
        do { return try JSONParser.parse([UInt8](response.body)) } catch {
            throw AWSError("\(operation): the answer is not JSON: \(error)", code: "aws.bad_answer")
        }
    }
}
