import AWS
import Foundation
import SQLite
import TestSupport
import Testing

/// moto with Batch jobs run as real containers through podman (scripts/moto/setup.sh with MOTO_BATCH=podman, which
/// make test starts on port 5125), signatures checked; a set-up made once, a bucket, and the test image (busybox with
/// this build's clowdr added by `clowdr cloud image`).
enum BatchMoto {
    static let state = ProcessInfo.processInfo.environment["MOTO_PODMAN_STATE"] ?? "/tmp/clowdr-moto-podman"
    static let image = "localhost/clowdr-aws-test:latest"
    static let bucket = "clowdr-batch-tests"

    static var key: (id: String, secret: String)? {
        guard let text = try? String(contentsOfFile: state + "/credentials", encoding: .utf8) else { return nil }
        let parts = text.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }
    static var endpoint: String? {
        (try? String(contentsOfFile: state + "/endpoint", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    static var available: Bool { key != nil && endpoint != nil && TestSupport.binary("clowdr") != nil }

    /// The environment every clowdr of these tests runs with.
    static let environment: [String: String] = {
        let home = (try? TestSupport.temporaryDirectory("aws-home")) ?? NSTemporaryDirectory()
        return [
            "AWS_ACCESS_KEY_ID": key?.id ?? "", "AWS_SECRET_ACCESS_KEY": key?.secret ?? "", "AWS_REGION": "us-east-1", "CLOWDR_HOME": home,
            "CLOWDR_POLL_SECONDS": "1", "CONTAINERS_CONF": TestSupport.repositoryRoot + "/scripts/containers/containers.conf",
        ]
    }()

    /// The set-up, the bucket and the image, made once for the whole run; nil when that worked, else what failed.
    static let prepared: String? = {
        guard available, let key, let endpoint else { return "moto in podman mode is not running" }
        let clowdr = TestSupport.binary("clowdr")!
        do {
            let s3 = S3Client(configuration: AWSConfiguration(credentials: Credentials(accessKeyID: key.id, secretAccessKey: key.secret), region: "us-east-1", endpoints: ["": endpoint]))
            if try s3.head(bucket: bucket, key: "none") == nil { try? s3.createBucket(bucket) }
            let setup = try TestSupport.run(clowdr, ["cloud", "setup", "--endpoint", endpoint], environment: environment)
            guard setup.status == 0 else { return "clowdr cloud setup: \(setup.stderr)" }
            let dist = try TestSupport.temporaryDirectory("aws-dist")
            let made = try TestSupport.run(
                TestSupport.repositoryRoot + "/scripts/dist/make-dist.sh", [TestSupport.buildDirectory, dist], environment: [:])
            guard made.status == 0, let tree = try FileManager.default.contentsOfDirectory(atPath: dist).first(where: { !$0.hasSuffix(".gz") }) else {
                return "make-dist.sh: \(made.stderr)"
            }
            let image = try TestSupport.run(
                clowdr, ["cloud", "image", "--from", "localhost/clowdr-busybox:test", "--tag", Self.image, "--dist", dist + "/" + tree],
                environment: environment)
            try? FileManager.default.removeItem(atPath: dist)
            return image.status == 0 ? nil : "clowdr cloud image: \(image.stderr)"
        } catch { return "\(error)" }
    }()
}

/// The shared backend behaviour and AWS Batch's own, on moto running each child as a real container: `clowdr task`
/// runs inside the image against moto's S3, and the controller gathers the segments from S3.
@Suite("AWS Batch on moto with real containers", .serialized, .enabled(if: BatchMoto.available, "moto in podman mode is not running: make test starts it (scripts/moto/setup.sh with MOTO_BATCH=podman)"))
struct AWSBatchTests {
    var behaviour: BackendBehaviour {
        BackendBehaviour(
            backend: "awsbatch",
            arguments: ["--endpoint", BatchMoto.endpoint ?? "", "--s3", "s3://\(BatchMoto.bucket)/runs", "--image", BatchMoto.image, "-v", "{dir}:{dir}"],
            environment: BatchMoto.environment, nativeID: #"^[0-9a-f-]{36}(:[0-9]+)?$"#, runsAtOnce: nil)
    }

    func ready() throws {
        if let failed = BatchMoto.prepared { Issue.record("the AWS Batch test set-up failed: \(failed)") }
    }

    @Test("shared: mixed exits as an array job, native ids JOB:INDEX, then rerun failed") func mixed() throws {
        try ready()
        try behaviour.mixedExitsThenRerunFailed()
    }

    @Test("shared: SIGTERM terminates the running and queued children, then rerun incomplete") func cancel() throws {
        try ready()
        try behaviour.cancelThenRerunIncomplete()
    }

    @Test("shared: the controller killed with SIGKILL, then clowdr watch: nothing lost or doubled") func killed() throws {
        try ready()
        try behaviour.controllerKilledThenResumed()
    }
}
