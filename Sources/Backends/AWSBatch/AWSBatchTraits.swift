import Boutiques
import ClowdrErrors
import JSON

extension AWSBatchBackend {
    /// Array jobs on AWS Batch: attempts outlive their controller and run inside the descriptor's image; the queue
    /// flags and the AWS flags apply; the job definition's rules check the resources, and the job role's S3 access
    /// is checked against what the tasks name.
    static let traits = BackendTraits(
        attemptsOutliveController: true, takesClusterFlags: true, usesAWS: true, runsInsideImage: true, workersReadInvocationFiles: true,
        checkResources: { _ = try JobDefinitions.requirements($0) },
        checkAccess: { given, descriptor, invocations in
            try RunAccess.check(try settings(given), descriptor: descriptor, invocations: invocations)
        },
        make: { c in AWSBatchBackend(layout: c.layout, settings: try settings(c.given.aws)) })
}

extension AWSBatchBackend {
    /// The AWS settings given (`--s3`, the set-up), or the usage error that says what to give.
    static func settings(_ given: AWSBatchSettings?) throws -> AWSBatchSettings {
        guard let s = given else {
            throw BackendError(
                "--backend awsbatch needs --s3 s3://BUCKET/PREFIX and a set-up (clowdr cloud setup)", code: "usage.awsbatch", usage: true)
        }
        return s
    }
}
