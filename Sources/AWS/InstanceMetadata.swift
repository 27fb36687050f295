import Foundation

/// The EC2 instance a job runs on, from its instance metadata service (IMDSv2: a session token asked with PUT, then
/// each fact with the token): its type (`c6i.2xlarge`) and whether it is a spot instance. What a Batch job's
/// attempts record of their host beside its CPU and memory (`task_started`).
public struct InstanceMetadata: Sendable, Equatable {
    public var instanceType: String
    /// `instance-life-cycle` is `spot` (nil when the service does not say).
    public var spot: Bool?

    public init(instanceType: String, spot: Bool?) {
        self.instanceType = instanceType
        self.spot = spot
    }

    /// Asks the service at `AWS_EC2_METADATA_SERVICE_ENDPOINT` (the SDKs' variable), else 169.254.169.254; nil when
    /// `AWS_EC2_METADATA_DISABLED` is `true` or nothing answers within a second (not on EC2: moto's containers, a
    /// laptop). Never throws: the attempt runs either way.
    public static func read(_ env: [String: String]) -> InstanceMetadata? {
        guard env["AWS_EC2_METADATA_DISABLED"]?.lowercased() != "true" else { return nil }
        var base = env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254"
        while base.hasSuffix("/") { base.removeLast() }
        guard let tokenURL = URL(string: base + "/latest/api/token"),
            let token = answer("PUT", tokenURL, [("X-aws-ec2-metadata-token-ttl-seconds", "60")])
        else { return nil }
        func fact(_ name: String) -> String? {
            URL(string: base + "/latest/meta-data/" + name).flatMap { answer("GET", $0, [("X-aws-ec2-metadata-token", token)]) }
        }
        guard let type = fact("instance-type") else { return nil }
        return InstanceMetadata(instanceType: type, spot: fact("instance-life-cycle").map { $0 == "spot" })
    }

    /// The body of a 200 answer, trimmed; nil otherwise. One second at most: the service is on the host.
    static func answer(_ method: String, _ url: URL, _ headers: [(name: String, value: String)]) -> String? {
        guard let r = try? AWSHTTP.exchange(HTTPRequest(method: method, url: url, headers: headers), body: Data(), timeout: 1), r.status == 200
        else { return nil }
        let text = String(decoding: r.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
