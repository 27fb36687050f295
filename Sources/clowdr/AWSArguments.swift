import AWS
import ArgumentParser
import Backends

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

    @Option(help: "The set-up to use: the name given to `clowdr cloud setup --name` (default clowdr).")
    var setupName = "clowdr"

    @Option(help: "The file that records the set-up (default: ~/.clowdr/aws/NAME-REGION.json).")
    var setupRecord: String?

    /// The settings, resolved now.
    func configuration() throws -> AWSConfiguration {
        try AWSConfiguration.resolve(credentialsCSV: credentials, profile: profile, region: region, endpoint: endpoint)
    }

    /// Where the set-up's record is for this region.
    func recordPath(region: String) -> String { setupRecord ?? CloudRecord.defaultPath(name: setupName, region: region) }
}
