import AWS
import ArgumentParser
import Backends
import Foundation
import JSON

/// `clowdr cloud policy`: the IAM policies a set-up involves, as JSON, for an administrator to grant or review.
struct CloudPolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Print the IAM policy whoever runs setup, teardown and runs needs (or, with --job, the job role's).",
        discussion: """
            The operator's policy names the set-up's resources by name and ARN wherever AWS allows it; its S3 part is \
            the set-up's declared locations (from its record, or --s3 and --read). See docs/aws.md for each statement.
            """)

    @OptionGroup var aws: AWSArguments

    @Option(help: "The AWS account id the ARNs name (default: the caller's, asked of STS; * when that fails).")
    var account: String?

    @Option(name: .customLong("s3"), help: "An S3 folder to read and write, when there is no set-up record yet. Repeat for more.")
    var s3: [String] = []

    @Option(help: "An S3 folder to read, when there is no set-up record yet. Repeat for more.")
    var read: [String] = []

    @Flag(help: "Print the job role's policy (what every container may do) instead.")
    var job = false

    func run() throws {
        // No keys are needed to print a policy: an administrator may write it for someone else.
        let configuration = try? aws.configuration()
        let region = configuration?.region ?? aws.region ?? "*"
        let record = try CloudRecord.load(aws.recordPath(region: region))
        let grants = (record?.locations ?? S3Grants()).adding(S3Grants(readWrite: s3, readOnly: read))
        if job {
            print(JSONWriter(indent: 2).string(grants.document()))
            return
        }
        let id = account ?? configuration.flatMap { try? STSClient(configuration: $0).callerIdentity().account } ?? "*"
        print(JSONWriter(indent: 2).string(OperatorPolicy.document(setup: aws.setupName, region: region, account: id, grants: grants)))
    }
}
