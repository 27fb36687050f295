import Foundation
import TestSupport
import Testing

@testable import AWS

/// The EC2 instance facts a Batch worker records (`task_started` v3), from the instance metadata service, IMDSv2.
/// No EC2 here: a loopback server answers as the service does (a token for a PUT, then each fact for a GET with it).
struct InstanceMetadataTests {
    @Test("IMDSv2: a token first, then the type and the life cycle with it; spot or on-demand")
    func reads() throws {
        let imds = try ScriptedServer([(200, "AQAEAtoken=="), (200, "c6i.2xlarge"), (200, "spot")])
        defer { imds.stop() }
        let found = InstanceMetadata.read(["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(imds.port)/"])
        #expect(found == InstanceMetadata(instanceType: "c6i.2xlarge", spot: true))
        #expect(imds.requests == 3)
        #expect(
            imds.lastHead.hasPrefix("GET /latest/meta-data/instance-life-cycle ") && imds.lastHead.contains("X-aws-ec2-metadata-token: AQAEAtoken=="),
            "\(imds.lastHead)")
        let onDemand = try ScriptedServer([(200, "t"), (200, "m5.large"), (200, "on-demand")])
        defer { onDemand.stop() }
        #expect(InstanceMetadata.read(["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(onDemand.port)"])?.spot == false)
    }

    @Test("not on EC2: nothing answers, a refusal, or disabled; nil, within about a second")
    func absent() throws {
        let refusing = try ScriptedServer([(403, "")])
        defer { refusing.stop() }
        #expect(InstanceMetadata.read(["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(refusing.port)"]) == nil)
        #expect(InstanceMetadata.read(["AWS_EC2_METADATA_DISABLED": "true"]) == nil)
        // A port nothing listens on: refused at once.
        let start = Date()
        #expect(InstanceMetadata.read(["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"]) == nil)
        #expect(Date().timeIntervalSince(start) < 5)
    }
}
