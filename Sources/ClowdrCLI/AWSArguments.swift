import AWS
import ArgumentParser
import Backends
import EventLog
import Foundation

/// Where AWS is and who calls it: options shared by `clowdr cloud ...` and runs with `--backend awsbatch`.
/// Unset, each comes from the environment and ~/.aws as AWS's own tools read them.
struct AWSArguments: ParsableArguments {
    @Option(help: "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, or the profile's region).")
    var region: String?

    @Option(help: "A profile of ~/.aws/credentials and ~/.aws/config (default: AWS_PROFILE, else default).")
    var profile: String?

    @Option(help: "A credentials.csv as the AWS console writes it (the original Clowdr's form).")
    var credentials: String?

    @Option(help: "Send every AWS call to this URL (an S3-compatible store, or moto in tests). Default: AWS_ENDPOINT_URL, else AWS.")
    var endpoint: String?

    @Option(help: "The set-up's name: the first part of its resources' names (default clowdr).")
    var setupName = "clowdr"

    @Option(help: "The file that records the set-up (default: ~/.clowdr/aws/NAME-REGION.json).")
    var setupRecord: String?

    /// The invocation (or folder of them) to plan from: `path` itself, or what an `s3://` location holds, fetched into
    /// `folder` (the caller removes it once the experiment holds its copies).
    func localInvocation(_ path: String, fetchingInto folder: String) throws -> String {
        guard let l = S3Location(path) else { return path }
        return try S3Dataset.fetchInvocations(l, s3: S3Client(configuration: try configuration()), into: folder)
    }

    /// The settings, resolved now.
    func configuration() throws -> AWSConfiguration {
        try AWSConfiguration.resolve(credentialsCSV: credentials, profile: profile, region: region, endpoint: endpoint)
    }

    /// Where the set-up's record is for this region.
    /// A set-up (or teardown) with these settings, telling what it does on standard output, and its record's path.
    /// The set-up, saying what it does on standard output (on standard error with `json`: stdout is the summary's).
    func cloudSetup(_ options: CloudSetup.Options, json: Bool = false) throws -> (CloudSetup, record: String) {
        let configuration = try configuration()
        var setup = CloudSetup(configuration: configuration, options: options)
        if json {
            setup.say = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        } else {
            setup.say = { line in print(line) }
        }
        return (setup, recordPath(region: configuration.region))
    }

    func recordPath(region: String) -> String { setupRecord ?? CloudRecord.defaultPath(name: setupName, region: region) }
}

/// What a run on AWS Batch needs besides AWS itself: the S3 folder, the image, the spot retries. A run records them
/// (never keys), so that watch, rerun and sync find them again.
struct AWSBatchArguments: ParsableArguments {
    @OptionGroup var aws: AWSArguments

    @Option(help: "awsbatch: the S3 folder the workers read and write, s3://BUCKET/PREFIX (each experiment in PREFIX/<id>/).")
    var s3: String?

    @Option(help: "awsbatch: the image the tasks run in, with clowdr at /opt/clowdr (see `clowdr cloud image`).")
    var image: String?

    @Option(help: "awsbatch: new attempts given automatically to a task whose spot instance was reclaimed.")
    var spotRetries = 2

    /// What a run records of these options, so that watch, rerun and sync find AWS again (never keys).
    var recorded: [String: String] {
        var r: [String: String] = [:]
        r[.awsSetup] = aws.setupName
        r[.s3] = s3
        r[.image] = image
        r[.awsRegion] = aws.region
        r[.awsProfile] = aws.profile
        r[.awsEndpoint] = aws.endpoint
        r[.awsSetupRecord] = aws.setupRecord
        return r
    }

    /// These options, with what an experiment recorded filling those not given.
    func with(recorded r: [String: String]) -> AWSBatchArguments {
        var a = self
        a.s3 = s3 ?? r[.s3]
        a.image = image ?? r[.image]
        a.aws.region = aws.region ?? r[.awsRegion]
        a.aws.profile = aws.profile ?? r[.awsProfile]
        a.aws.endpoint = aws.endpoint ?? r[.awsEndpoint]
        a.aws.setupRecord = aws.setupRecord ?? r[.awsSetupRecord]
        if let name = r[.awsSetup], aws.setupName == "clowdr" { a.aws.setupName = name }
        return a
    }

    /// What a run on AWS Batch needs: AWS, the S3 folder, the set-up's record, the image.
    func batchSettings() throws -> AWSBatchSettings {
        guard let s3 else { throw CLIError.usage("--backend awsbatch needs --s3 s3://BUCKET/PREFIX: where the workers read and write") }
        let location = try S3Location.parse(s3, what: "--s3")
        guard let image else {
            throw CLIError.usage("--backend awsbatch needs --image: the tool's image with clowdr at /opt/clowdr (clowdr cloud image builds one)")
        }
        let configuration = try aws.configuration()
        let path = aws.recordPath(region: configuration.region)
        guard let record = try CloudRecord.load(path) else {
            let elsewhere = CloudRecord.regions(of: aws.setupName).filter { $0 != configuration.region }
            let hint =
                elsewhere.isEmpty
                ? "" : "; set-up '\(aws.setupName)' exists in \(elsewhere.joined(separator: ", ")): give --region \(elsewhere[0]) to run there"
            throw CLIError.usage(
                "no AWS Batch set-up '\(aws.setupName)' in region \(configuration.region) (no record at \(path)): run clowdr cloud setup --region \(configuration.region) --s3 \(s3) first\(hint)"
            )
        }
        var settings = AWSBatchSettings(configuration: configuration, s3: location, record: record, image: image, recordPath: path)
        settings.spotRetries = spotRetries
        return settings
    }

}
