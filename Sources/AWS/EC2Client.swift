import ClowdrErrors
import Foundation

/// The EC2 calls setup needs: the default VPC's subnets and security group.
public struct EC2Client: Sendable {
    public var http: AWSHTTP

    public init(configuration: AWSConfiguration) { http = AWSHTTP(configuration: configuration) }

    /// The default VPC's subnets, by id.
    public func defaultSubnets() throws -> [String] {
        let xml = try http.query(
            service: "ec2", action: "DescribeSubnets", version: "2016-11-15", [("Filter.1.Name", "default-for-az"), ("Filter.1.Value.1", "true")],
            resource: "the default VPC's subnets")
        return XML.values("subnetId", in: xml)
    }

    /// The default VPC's default security group.
    public func defaultSecurityGroups() throws -> [String] {
        let xml = try http.query(
            service: "ec2", action: "DescribeSecurityGroups", version: "2016-11-15",
            [("Filter.1.Name", "group-name"), ("Filter.1.Value.1", "default")],
            resource: "the default security group")
        return Array(Set(XML.values("groupId", in: xml))).sorted()
    }
}
