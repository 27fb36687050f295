import AWS
import Backends
import ClowdrErrors
import EventLog
import Foundation
import Runner

/// `clowdr-bench aws [--megabytes M] [--tasks N]`: on the moto server of scripts/moto/setup.sh (signatures checked).
///
/// - S3: an M MB file uploaded and downloaded by clowdr (multipart, ranged parallel download) beside `aws s3 cp`
///   (the awsbatch CLI's peer: botocore's transfer manager) on the same file and server, in the same run.
/// - AWS Batch: N tasks submitted and followed to their end (moto without containers: each child succeeds at once):
///   the AWS requests made (S3 and Batch, retries included) and the time to submit.
func awsBenchmark() throws {
    let megabytes = Int(argument("--megabytes", default: "1024"))!
    let n = Int(argument("--tasks", default: "10000"))!
    let state = ProcessInfo.processInfo.environment["MOTO_STATE"] ?? "/tmp/clowdr-moto"
    guard let keyText = try? String(contentsOfFile: state + "/credentials", encoding: .utf8),
        let endpoint = (try? String(contentsOfFile: state + "/endpoint", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    else {
        emit("aws benchmark skipped: moto is not running (scripts/moto/setup.sh starts it)")
        return
    }
    let key = keyText.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    let configuration = AWSConfiguration(
        credentials: Credentials(accessKeyID: key[0], secretAccessKey: key[1]), region: "us-east-1", endpoints: ["": endpoint])
    let s3 = S3Client(configuration: configuration)
    let bucket = "clowdr-bench-\(getpid())"
    try s3.createBucket(bucket)
    let dir = NSTemporaryDirectory() + "clowdr-awsbench-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    func f(_ x: Double, _ d: Int = 2) -> String { String(format: "%.\(d)f", x) }
    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    // S3: the same file both ways, clowdr and the aws CLI, twice.
    let file = dir + "/data.bin"
    let h = FileHandle(
        forWritingAtPath: {
            _ = FileManager.default.createFile(atPath: file, contents: nil)
            return file
        }())!
    var block = [UInt8](repeating: 0, count: 1 << 20)
    for i in 0..<megabytes {
        for j in stride(from: 0, to: block.count, by: 64) { block[j] = UInt8(truncatingIfNeeded: i &+ j) }
        h.write(Data(block))
    }
    try h.close()
    // Keys in the peer's environment, never on its command line.
    let env = ProcessInfo.processInfo.environment.merging(
        ["AWS_ACCESS_KEY_ID": key[0], "AWS_SECRET_ACCESS_KEY": key[1], "AWS_DEFAULT_REGION": "us-east-1"]
    ) { $1 }
    func awsCLI(_ arguments: String) throws -> Double {
        try seconds {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "aws --endpoint-url \(endpoint) s3 cp --only-show-errors \(arguments)"]
            p.environment = env
            try p.run()
            p.waitUntilExit()
            if p.terminationStatus != 0 { throw AWSError("aws s3 cp \(arguments) failed", code: "bench.aws_cli") }
        }
    }
    let hasCLI =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/aws")
        || (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/aws")
        }
    emit("aws benchmark: S3 on moto (\(endpoint)), \(megabytes) MB, clowdr parts of 8 MiB, 10 at once (the aws CLI's own defaults)")
    // The order alternates from round to round: whichever went first ran slower on moto.
    for round in 1...2 where megabytes > 0 {
        func clowdr() throws -> (up: Double, down: Double) {
            let l = S3Location(bucket: bucket, key: "clowdr/data.bin")
            let up = try seconds { try s3.upload(file: file, to: l) }
            let down = try seconds { try s3.download(l, to: dir + "/back.bin") }
            try s3.delete(bucket: bucket, key: l.key)
            try? FileManager.default.removeItem(atPath: dir + "/back.bin")
            return (up, down)
        }
        func peer() throws -> (up: Double, down: Double) {
            let up = try awsCLI("\(file) s3://\(bucket)/peer/data.bin")
            let down = try awsCLI("s3://\(bucket)/peer/data.bin \(dir)/peer.bin")
            try s3.delete(bucket: bucket, key: "peer/data.bin")
            try? FileManager.default.removeItem(atPath: dir + "/peer.bin")
            return (up, down)
        }
        let peerFirst = hasCLI && round % 2 == 0
        let earlier = peerFirst ? try peer() : nil
        let ours = try clowdr()
        var line =
            "  round \(round)\(peerFirst ? " (aws first)" : ""): clowdr up \(f(ours.up)) s (\(f(Double(megabytes) / ours.up, 0)) MB/s), down \(f(ours.down)) s (\(f(Double(megabytes) / ours.down, 0)) MB/s)"
        if hasCLI {
            let theirs = try earlier ?? peer()
            line +=
                "; aws s3 cp up \(f(theirs.up)) s, down \(f(theirs.down)) s; ratio (aws / clowdr, >= 1 is at least as fast): up \(f(theirs.up / ours.up)), down \(f(theirs.down / ours.down))"
        } else {
            line += "; the aws CLI is not installed: no peer figure"
        }
        emit(line)
    }
    try? FileManager.default.removeItem(atPath: file)

    // AWS Batch: submit N tasks as array jobs and count the requests; follow M of them to their end (moto's
    // DescribeJobs slows down with every job it holds, 20 s for 100 children among 10,000: following is measured
    // on a smaller experiment, its requests per task being what matters).
    setenv("CLOWDR_POLL_SECONDS", "1", 1)
    setenv("CLOWDR_HOME", dir + "/home", 1)
    let record = try CloudSetup(configuration: configuration).setup(previous: nil)
    let recordPath = CloudRecord.defaultPath(name: record.name, region: "us-east-1")
    try record.save(recordPath)
    try
        #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"true [N]","inputs":[{"id":"n","name":"n","type":"Number","integer":true,"value-key":"[N]"}]}"#
        .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
    func experiment(_ count: Int) throws -> (Controller, [PlannedTask]) {
        try "{\"n\": [\((0..<count).map(String.init).joined(separator: ","))]}".write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        var request = RunRequest(
            descriptorPath: dir + "/d.json", invocationPath: dir + "/i.json", provdir: dir + "/prov",
            options: RunOptions(jobs: 1, workingDirectory: dir))
        request.sweeps = ["n"]
        let recorded = try Runs.record(request, backend: "awsbatch")
        let (layout, log, tasks) = (recorded.layout, recorded.log, recorded.tasks)
        let settings = AWSBatchSettings(
            configuration: configuration, s3: S3Location(bucket: bucket, key: "runs"), record: record, image: "tool:1", recordPath: recordPath)
        return (Controller(layout: layout, log: log, backend: AWSBatchBackend(layout: layout, settings: settings)), tasks)
    }
    func submit(_ controller: Controller, _ tasks: [PlannedTask]) throws -> Double {
        try seconds {
            try controller.submit(
                tasks.map { AttemptPlan(task: $0.id, attempt: 1, rendered: $0.rendered) }, resources: { _ in [:] },
                how: .init(groupBy: 1, throttle: 0, workdir: dir, sampleInterval: 1))
        }
    }
    let followed = Int(argument("--follow-tasks", default: "2000"))!
    var before = AWSRequestCount.shared.value
    let (small, smallTasks) = try experiment(followed)
    _ = try submit(small, smallTasks)
    before = AWSRequestCount.shared.value
    let follow = try seconds { _ = try small.follow(cancel: CancellationFlag()) }
    let following = AWSRequestCount.shared.value - before
    before = AWSRequestCount.shared.value
    let (big, bigTasks) = try experiment(n)
    let submitTime = try submit(big, bigTasks)
    let submitted = AWSRequestCount.shared.value - before
    emit(
        "aws benchmark: AWS Batch on moto: \(n) tasks submitted in \(f(submitTime)) s with \(submitted) requests (the descriptor, the invocations in one object and the map to S3, the job definition, one SubmitJob per 10,000); \(followed) tasks followed to their end in \(f(follow)) s with \(following) requests (DescribeJobs of 100 ids a call, S3 listings of the segments)"
    )
    _ = try CloudSetup(configuration: configuration).teardown(try CloudRecord.load(recordPath) ?? record)
}
