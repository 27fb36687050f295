import ClowdrErrors
import Foundation

/// The IAM and EC2 calls `clowdr cloud setup` and `teardown` make (Query protocol, XML answers).
public struct IAMClient: Sendable {
    public var http: AWSHTTP
    static let version = "2010-05-08"

    public init(configuration: AWSConfiguration) { http = AWSHTTP(configuration: configuration) }

    func call(_ action: String, _ parameters: [(String, String)], resource: String) throws -> String {
        try http.query(service: "iam", action: action, version: Self.version, parameters, resource: resource)
    }

    /// A role's ARN and tags, or nil when there is no such role.
    public func role(_ name: String) throws -> (arn: String, tags: [String: String])? {
        do {
            let xml = try call("GetRole", [("RoleName", name)], resource: "role \(name)")
            return (XML.values("Arn", in: xml).first ?? "", Self.tags(in: xml))
        } catch let e as AWSError where e.errorCode == "aws.nosuchentity" { return nil }
    }

    /// Creates a role that `service` (batch.amazonaws.com, ec2.amazonaws.com, ecs-tasks.amazonaws.com) may assume,
    /// and also `principal` (an IAM ARN) when given.
    public func createRole(_ name: String, trusting service: String, principal: String? = nil, tags: [String: String]) throws -> String {
        let aws = principal.map { #","AWS":"\#($0)""# } ?? ""
        let trust =
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"\#(service)"\#(aws)},"Action":"sts:AssumeRole"}]}"#
        // A role a principal assumes directly keeps its keys 12 hours (ECS renews a job role's keys itself).
        let duration = principal == nil ? [] : [("MaxSessionDuration", "43200")]
        let xml = try call(
            "CreateRole", [("RoleName", name), ("AssumeRolePolicyDocument", trust)] + duration + Self.tagParameters(tags),
            resource: "role \(name)")
        return XML.values("Arn", in: xml).first ?? ""
    }

    /// Sets a role's inline policy `policy` to `document` (replacing it if it exists).
    public func putRolePolicy(_ role: String, policy: String, document: String) throws {
        _ = try call("PutRolePolicy", [("RoleName", role), ("PolicyName", policy), ("PolicyDocument", document)], resource: "role \(role)")
    }

    /// A role's inline policy document, decoded; nil when the role has no policy of that name.
    public func rolePolicy(_ role: String, policy: String) throws -> String? {
        do {
            let xml = try call("GetRolePolicy", [("RoleName", role), ("PolicyName", policy)], resource: "role \(role)")
            return XML.values("PolicyDocument", in: xml).first.map { $0.removingPercentEncoding ?? $0 }
        } catch let e as AWSError where e.errorCode == "aws.nosuchentity" { return nil }
    }

    /// The names of a role's inline policies.
    public func rolePolicies(_ role: String) throws -> [String] {
        XML.values("member", in: try call("ListRolePolicies", [("RoleName", role)], resource: "role \(role)"))
    }

    public func deleteRolePolicy(_ role: String, policy: String) throws {
        _ = try call("DeleteRolePolicy", [("RoleName", role), ("PolicyName", policy)], resource: "role \(role)")
    }

    public func attachRolePolicy(_ role: String, policy: String) throws {
        _ = try call("AttachRolePolicy", [("RoleName", role), ("PolicyArn", policy)], resource: "role \(role)")
    }

    public func detachRolePolicy(_ role: String, policy: String) throws {
        _ = try call("DetachRolePolicy", [("RoleName", role), ("PolicyArn", policy)], resource: "role \(role)")
    }

    /// The policies attached to a role, by ARN.
    public func attachedPolicies(_ role: String) throws -> [String] {
        XML.values("PolicyArn", in: try call("ListAttachedRolePolicies", [("RoleName", role)], resource: "role \(role)"))
    }

    public func deleteRole(_ name: String) throws {
        _ = try call("DeleteRole", [("RoleName", name)], resource: "role \(name)")
    }

    /// An instance profile's ARN and the roles in it, or nil when there is none of that name.
    public func instanceProfile(_ name: String) throws -> (arn: String, roles: [String])? {
        do {
            let xml = try call("GetInstanceProfile", [("InstanceProfileName", name)], resource: "instance profile \(name)")
            let profile = XML.elements("InstanceProfile", in: xml).first ?? xml
            let roles = XML.elements("Roles", in: profile).first.map { XML.values("RoleName", in: $0) } ?? []
            // The profile's own ARN is the one outside its Roles list.
            let outside = profile.replacingOccurrences(of: XML.elements("Roles", in: profile).first ?? "\u{0}", with: "")
            return (XML.values("Arn", in: outside).first ?? "", roles)
        } catch let e as AWSError where e.errorCode == "aws.nosuchentity" { return nil }
    }

    public func createInstanceProfile(_ name: String, tags: [String: String]) throws -> String {
        let xml = try call("CreateInstanceProfile", [("InstanceProfileName", name)] + Self.tagParameters(tags), resource: "instance profile \(name)")
        return XML.values("Arn", in: xml).first ?? ""
    }

    public func addRole(_ role: String, toInstanceProfile profile: String) throws {
        _ = try call("AddRoleToInstanceProfile", [("InstanceProfileName", profile), ("RoleName", role)], resource: "instance profile \(profile)")
    }

    public func removeRole(_ role: String, fromInstanceProfile profile: String) throws {
        _ = try call(
            "RemoveRoleFromInstanceProfile", [("InstanceProfileName", profile), ("RoleName", role)], resource: "instance profile \(profile)")
    }

    public func deleteInstanceProfile(_ name: String) throws {
        _ = try call("DeleteInstanceProfile", [("InstanceProfileName", name)], resource: "instance profile \(name)")
    }

    static func tagParameters(_ tags: [String: String]) -> [(String, String)] {
        tags.sorted { $0.key < $1.key }.enumerated().flatMap { i, t in [("Tags.member.\(i + 1).Key", t.key), ("Tags.member.\(i + 1).Value", t.value)]
        }
    }

    static func tags(in xml: String) -> [String: String] {
        var out: [String: String] = [:]
        for member in XML.elements("Tags", in: xml).flatMap({ XML.elements("member", in: $0) }) {
            if let k = XML.values("Key", in: member).first { out[k] = XML.values("Value", in: member).first ?? "" }
        }
        return out
    }
}
