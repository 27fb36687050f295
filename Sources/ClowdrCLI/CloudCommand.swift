import AWS
import ArgumentParser
import Backends
import Boutiques
import ClowdrErrors
import EventLog
import Foundation

/// `clowdr cloud`: AWS Batch. `setup` and `teardown` make and remove what runs need; `clowdr cloud DESCRIPTOR
/// INVOCATION PROVDIR s3://... aws credentials.csv` is the original Clowdr's run command.
struct CloudCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloud",
        abstract: "AWS Batch: set up, tear down, and the original Clowdr's cloud command line.",
        discussion: "See docs/aws.md: permissions needed, costs, a run, teardown.",
        subcommands: [CloudRunCommand.self, CloudSetupCommand.self, CloudTeardownCommand.self, CloudImageCommand.self, CloudPolicyCommand.self],
        defaultSubcommand: CloudRunCommand.self)
}

/// `clowdr cloud DESCRIPTOR INVOCATION PROVDIR s3://BUCKET/PATH aws CREDENTIALS`: the original Clowdr's cloud command.
struct CloudRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "The original Clowdr cloud command line: run the tasks as AWS Batch array jobs (the default of clowdr cloud).",
        discussion: """
            Same as `clowdr run DESCRIPTOR INVOCATION --provdir PROVDIR --backend awsbatch --s3 S3 --credentials \
            CREDENTIALS`. An s3:// PROVDIR keeps the log in a local cache (~/.clowdr/cache/BUCKET/PATH) and uploads the \
            experiment's record there when the run ends. Needs `clowdr cloud setup` once. See docs/aws.md.
            """)

    @OptionGroup var original: OriginalFormArguments

    @Argument(help: "The S3 folder the workers read and write: s3://BUCKET/PATH.")
    var s3: String

    @Argument(help: "The cloud: aws.")
    var cloud: String

    @Argument(help: "A credentials.csv as the AWS console writes it.")
    var credentials: String

    @Option(name: [.customShort("r"), .long], help: "AWS region.")
    var region: String?

    @Option(help: "The image the tasks run in, with clowdr at /opt/clowdr (clowdr cloud image).")
    var image: String?

    @Option(help: "Send every AWS call to this URL (moto in tests).")
    var endpoint: String?

    @Flag(help: "Return once the tasks are submitted; `clowdr watch` follows them later.")
    var detach = false

    func validate() throws {
        if cloud != "aws" { throw ValidationError("the cloud must be aws, got '\(cloud)'") }
        _ = try S3Location.parse(s3, what: "the S3 argument")
        if !FileManager.default.fileExists(atPath: credentials) { throw ValidationError("credentials file '\(credentials)' does not exist") }
    }

    func run() throws {
        guard let image else { throw CLIError.usage(Self.imageNeeded(descriptor: original.descriptor)) }
        let remote = try S3Location(original.provdir).map { try S3Provdir($0) }
        var command = try original.runCommand(provdir: remote?.cache ?? original.provdir)
        command.cluster.backend = .awsbatch
        command.cluster.detach = detach
        command.cluster.batch.s3 = s3
        command.cluster.batch.image = image
        command.cluster.batch.aws.credentials = credentials
        command.cluster.batch.aws.region = region
        command.cluster.batch.aws.endpoint = endpoint
        try command.validate()
        try command.cluster.validate()
        defer {
            // The record goes where the user asked, whatever the run's outcome.
            for upload in remote?.uploadNew(with: S3Client(configuration: try command.cluster.batch.aws.configuration())) ?? [] {
                switch upload.result {
                case .success(let n): print("record of \(upload.experiment): \(n) files uploaded to \(upload.destination)")
                case .failure(let error): FileHandle.standardError.write(Data("clowdr: error[\(error.errorCode)]: \(error.message)\n".utf8))
                }
            }
        }
        try command.run()
    }
}

extension CloudRunCommand {
    /// What to do without `--image`: the tool's image needs clowdr added, and the descriptor names the tool's image.
    static func imageNeeded(descriptor path: String) -> String {
        let named = (try? DescriptorValidator.load(path))?.container?.image
        guard let named else {
            return
                "clowdr cloud needs --image: the tool's image with clowdr added at /opt/clowdr (\(path) names no container-image); make one with: clowdr cloud image --from TOOL-IMAGE --tag REGISTRY/NAME:clowdr --push"
        }
        let name = named.split(separator: "/").last.map { String($0.split(separator: ":").first ?? $0) } ?? "tool"
        return
            "clowdr cloud needs --image: the descriptor's container-image \(named) has no clowdr inside; make an image with it added: clowdr cloud image --from \(named) --tag REGISTRY/\(name):clowdr --push (REGISTRY: your ECR registry, 123456789012.dkr.ecr.REGION.amazonaws.com), then run this command again with --image REGISTRY/\(name):clowdr"
    }
}

/// `clowdr cloud setup`: roles, compute environment and job queue, made once and reused.
struct CloudSetupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Make what AWS Batch runs need (roles, compute environment, job queue), reusing what exists.",
        discussion: """
            Each resource is named NAME-..., tagged clowdr:setup=NAME, and recorded in the set-up's record, so that \
            `clowdr cloud teardown` removes exactly what setup created. Run twice, it changes nothing.
            """)

    @OptionGroup var aws: AWSArguments

    @Option(help: "The most vCPUs running at once: the ceiling of what a run costs per hour.")
    var maxVcpus = 64

    @Option(help: "EC2 instance types, comma-separated (optimal: Batch chooses).")
    var instanceTypes = "optimal"

    @Flag(help: "Spot instances: reclaimable, much cheaper; reclaimed attempts are run again.")
    var spot = false

    @Option(
        name: .customLong("s3"),
        help: ArgumentHelp(
            "An S3 folder the jobs may read and write (runs' --s3, outputs sent to S3), s3://BUCKET/PREFIX. Repeat for more.",
            discussion: "Added to the locations declared before; the job role may use nothing else."))
    var s3: [String] = []

    @Option(help: "An S3 folder the jobs may only read (a dataset), s3://BUCKET/PREFIX. Repeat for more.")
    var read: [String] = []

    @Flag(help: "The locations given replace those declared before (instead of adding to them).")
    var replaceLocations = false

    @Flag(help: "The set-up as one JSON object on standard output (what it does goes to standard error).")
    var json = false

    func validate() throws {
        if maxVcpus < 1 { throw ValidationError("--max-vcpus must be at least 1, got \(maxVcpus)") }
        for (flag, values) in [("--s3", s3), ("--read", read)] {
            for v in values where S3Location(v) == nil { throw ValidationError("\(flag): '\(v)' is not an S3 location: write s3://BUCKET/PREFIX") }
        }
    }

    func run() throws {
        var options = CloudSetup.Options()
        options.name = aws.setupName
        options.maxvCPUs = maxVcpus
        options.instanceTypes = instanceTypes.split(separator: ",").map(String.init)
        options.spot = spot
        // Kept as written, without a trailing slash: a location is a prefix (s3://lab/data covers s3://lab/data/...).
        func normalized(_ v: String) -> String {
            S3Location(v).map { S3Location(bucket: $0.bucket, key: String($0.key.reversed().drop { $0 == "/" }.reversed())).description } ?? v
        }
        options.locations = S3Grants(readWrite: s3.map(normalized), readOnly: read.map(normalized))
        options.replaceLocations = replaceLocations
        let (setup, path) = try aws.cloudSetup(options, json: json)
        let record = try setup.setup(previous: try CloudRecord.load(path))
        try record.save(path)
        guard json else { return print("job queue \(record.jobQueue); record: \(path)") }
        print(
            JSONOutput.line([
                "setup": record.name, "region": record.region, "job_queue": record.jobQueue, "job_role": record.jobRole, "record": path,
                "created": record.created.map { ["kind": $0.kind, "name": $0.name, "arn": $0.arn] },
                "locations": ["read_write": record.locations?.readWrite ?? [], "read_only": record.locations?.readOnly ?? []],
            ]))
    }
}

/// `clowdr cloud teardown`: removes what setup created, and nothing else.
struct CloudTeardownCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teardown",
        abstract: "Remove exactly what `clowdr cloud setup` created (job definitions included), in dependency order.",
        discussion: "Safe to run twice. A resource that no longer carries the set-up's tag is left alone and named.")

    @OptionGroup var aws: AWSArguments

    @Flag(help: "What was removed and kept as one JSON object on standard output (each step goes to standard error).")
    var json = false

    func run() throws {
        let path = aws.recordPath(region: try aws.configuration().region)
        guard var record = try CloudRecord.load(path) else {
            print(json ? JSONOutput.line(["record": path, "found": false, "kept": [Any]()]) : "nothing to remove: no set-up record at \(path)")
            return
        }
        var options = CloudSetup.Options()
        options.name = record.name
        let (setup, _) = try aws.cloudSetup(options, json: json)
        let before = record.created.count
        record.created = try setup.teardown(record)
        if record.created.isEmpty { try? FileManager.default.removeItem(atPath: path) } else { try record.save(path) }
        if json {
            let kept = record.created.map { ["kind": $0.kind, "name": $0.name, "arn": $0.arn] }
            print(JSONOutput.line(["setup": record.name, "record": path, "found": true, "removed": before - kept.count, "kept": kept]))
        } else if record.created.isEmpty {
            print("removed everything set-up \(record.name) created; record \(path) removed")
        } else {
            print("kept \(record.created.count) resources (named above); record \(path) keeps them")
        }
    }
}

/// `clowdr cloud image`: the tool's image with clowdr added, for AWS Batch.
struct CloudImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Build the tool's image with clowdr added at /opt/clowdr (what AWS Batch runs), and push it.",
        discussion: """
            The image is FROM the tool's own image, with a `make dist` install of clowdr copied in (it carries its own \
            loader and libraries, so it runs in any image). Give the new image's full name, registry included, and \
            --push to send it there; then run with --backend awsbatch --image TAG.
            """)

    @Option(help: "The tool's image (e.g. the descriptor's container-image).")
    var from: String

    @Option(help: "The new image's name, with its registry (e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/tool:clowdr).")
    var tag: String

    @Option(help: "A `make dist` install of clowdr (default: the one this clowdr runs from).")
    var dist: String?

    @Option(help: "podman or docker (default: the first one found).")
    var engine: String?

    @Flag(help: "Push the image to its registry once built.")
    var push = false

    @Flag(help: "The registry speaks plain HTTP (one on 127.0.0.1).")
    var insecureRegistry = false

    func run() throws {
        guard let dist = dist ?? DerivedImage.runningDist() else {
            throw CLIError.usage(
                "--dist: this clowdr is not a `make dist` install; give the folder make dist wrote (out/dist/clowdr-VERSION-linux-x86_64)")
        }
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        guard
            let engine = engine
                ?? ["podman", "docker"].first(where: { e in paths.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(e)") } })
        else { throw CLIError.usage("neither podman nor docker is on the PATH: install one, or give --engine") }
        let image = DerivedImage(base: from, tag: tag, dist: dist, engine: engine)
        try image.build()
        print("built \(tag) from \(from)")
        if push {
            try image.push(insecure: insecureRegistry)
            print("pushed \(tag)")
        }
    }
}
