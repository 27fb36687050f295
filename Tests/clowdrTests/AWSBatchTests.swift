import AWS
import BackendTesting
import Backends
import EventLog
import Foundation
import JSON
import SQLite
import TestSupport
import Testing

/// moto with Batch jobs run as real containers through podman (scripts/moto/setup.sh with MOTO_BATCH=podman, which
/// make test starts on port 5125), signatures checked; a set-up made once, a bucket, and the test image (busybox with
/// this build's clowdr added by `clowdr cloud image`).
enum BatchMoto {
    static let image = "localhost/clowdr-aws-test:latest"
    static let bucket = "clowdr-batch-tests"
    /// Datasets the jobs may only read.
    static let dataBucket = "clowdr-batch-data"

    static var key: (id: String, secret: String)? { MotoServer.podman.key }
    static var endpoint: String? { MotoServer.podman.endpoint }
    static var available: Bool { MotoServer.podman.available && TestSupport.binary("clowdr") != nil }
    static var configuration: AWSConfiguration { Moto.configuration(of: .podman) }

    /// The environment every clowdr of these tests runs with.
    static let environment: [String: String] = {
        let home = (try? TestSupport.temporaryDirectory("aws-home")) ?? NSTemporaryDirectory()
        return MotoServer.podman.environment.merging([
            "CLOWDR_HOME": home, "CLOWDR_POLL_SECONDS": "1", "CONTAINERS_CONF": TestSupport.repositoryRoot + "/scripts/containers/containers.conf",
        ]) { $1 }
    }()

    /// A `make dist` install of this build (the tests' temporary folder removes it), made once; else what
    /// make-dist.sh said.
    static let dist: Result<String, DistFailure> = {
        do {
            let folder = try TestSupport.temporaryDirectory("aws-dist")
            let made = try TestSupport.run(TestSupport.repositoryRoot + "/scripts/dist/make-dist.sh", [TestSupport.buildDirectory, folder])
            guard made.status == 0, let tree = try FileManager.default.contentsOfDirectory(atPath: folder).first(where: { !$0.hasSuffix(".gz") })
            else { return .failure(DistFailure(said: "make-dist.sh exited \(made.status): \(made.stderr)")) }
            return .success(folder + "/" + tree)
        } catch {
            return .failure(DistFailure(said: "make-dist.sh could not run: \(error)"))
        }
    }()

    struct DistFailure: Error { var said: String }

    /// The set-up, the bucket and the image, made once for the whole run; nil when that worked, else what failed.
    static let prepared: String? = {
        guard available, let endpoint else { return "moto in podman mode is not running" }
        let clowdr = TestSupport.binary("clowdr")!
        do {
            let s3 = S3Client(configuration: configuration)
            for b in [bucket, dataBucket] { try? s3.createBucket(b) }
            // The job role may read and write where the tests' runs go, and only read the datasets.
            let setup = try TestSupport.run(
                clowdr,
                [
                    "cloud", "setup", "--endpoint", endpoint, "--s3", "s3://\(bucket)/runs", "--s3", "s3://\(bucket)/away", "--s3",
                    "s3://\(bucket)/bids", "--read", "s3://\(dataBucket)/bids",
                ], environment: environment)
            guard setup.status == 0 else { return "clowdr cloud setup: \(setup.stderr)" }
            let tree: String
            switch dist {
            case .success(let made): tree = made
            case .failure(let failure): return failure.said
            }
            let image = try TestSupport.run(
                clowdr, ["cloud", "image", "--from", "localhost/clowdr-busybox:test", "--tag", Self.image, "--dist", tree], environment: environment)
            return image.status == 0 ? nil : "clowdr cloud image: \(image.stderr)"
        } catch { return "\(error)" }
    }()
}

/// The shared backend behaviour and AWS Batch's own, on moto running each child as a real container: `clowdr task`
/// runs inside the image against moto's S3, and the controller gathers the segments from S3.
@Suite(
    "AWS Batch on moto with real containers", .serialized,
    .enabled(if: BatchMoto.available, "moto in podman mode is not running: make test starts it (scripts/moto/setup.sh with MOTO_BATCH=podman)"))
struct AWSBatchTests {
    var behaviour: BackendBehaviour {
        BackendBehaviour(
            backend: "awsbatch",
            arguments: [
                "--endpoint", BatchMoto.endpoint ?? "", "--s3", "s3://\(BatchMoto.bucket)/runs", "--image", BatchMoto.image, "-v", "{dir}:{dir}",
            ],
            environment: BatchMoto.environment, nativeID: #"^[0-9a-f-]{36}(:[0-9]+)?$"#, runsAtOnce: nil)
    }

    func ready() throws {
        if let failed = BatchMoto.prepared { Issue.record("the AWS Batch test set-up failed: \(failed)") }
    }

    @Test(
        "the Backend contract, in-process, on moto's Batch with real containers: array children handed over in order, ended and terminated jobs gone from the queue, DescribeJobs' answers"
    )
    func contract() throws {
        try ready()
        let folder = try TestSupport.temporaryDirectory("batch-contract")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = CloudRecord.defaultPath(name: "clowdr", region: BatchMoto.configuration.region, environment: BatchMoto.environment)
        let record = try #require(try CloudRecord.load(path), "the set-up's record at \(path)")
        var settings = AWSBatchSettings(
            configuration: BatchMoto.configuration, s3: S3Location(bucket: BatchMoto.bucket, key: "runs/contract"), record: record,
            image: BatchMoto.image, recordPath: path)
        settings.volumes = [folder + ":" + folder]
        try BackendContract(name: "awsbatch", folder: folder, patience: 180) { layout, _, _ in AWSBatchBackend(layout: layout, settings: settings) }
            .check()
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

extension AWSBatchTests {
    /// The secret of the tests' key appears in nothing clowdr wrote, in no export or archive, and in no process's
    /// arguments while the tasks run (their containers get the job role's own temporary keys, assumed by the run).
    @Test("credentials never appear in the files clowdr wrote, its exports, its archive, or any process's arguments during a run")
    func noSecretLeaks() throws {
        try ready()
        let secret = try #require(BatchMoto.key?.secret)
        let dir = try behaviour.project("sleep 3; exit [K]", [0, 1])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try behaviour.start(dir)
        var seen: [String] = []
        while p.isRunning {
            let ps = try TestSupport.run("/bin/ps", ["-eo", "args"])
            seen += ps.stdout.split(separator: "\n").filter { $0.contains(secret) }.map(String.init)
            usleep(300_000)
        }
        #expect(seen.isEmpty, "the secret in process arguments: \(seen)")
        let exp = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").first)
        let layout = dir + "/prov/" + exp
        for format in ["json", "prov", "html"] {
            #expect(try behaviour.clowdr(["export", format, layout, "-o", dir + "/export.\(format)"]).status == 0)
        }
        try FileManager.default.createDirectory(atPath: dir + "/archive", withIntermediateDirectories: true)
        #expect(try behaviour.clowdr(["archive", layout, "--into", dir + "/archive"]).status == 0)
        var files = 0
        for folder in [dir, BatchMoto.environment["CLOWDR_HOME"]!] {
            for case let relative as String in FileManager.default.enumerator(atPath: folder)! {
                guard let data = FileManager.default.contents(atPath: folder + "/" + relative) else { continue }
                files += 1
                #expect(data.range(of: Data(secret.utf8)) == nil, "the secret is in \(folder)/\(relative)")
            }
        }
        #expect(files > 10, "searched \(files) files")
    }
}

/// moto's Batch without containers (every job succeeds at once and runs nothing): the API's shapes, end to end.
/// Serialized: its tests make and remove the same set-up (`clowdr`) on the one moto server.
@Suite("AWS Batch API shapes on moto without containers", .serialized, .enabled(if: Moto.available, "moto is not running: make test starts it"))
struct AWSBatchShapeTests {
    @Test(
        "an array job per run, native ids JOB:INDEX, a child that ran no worker is not taken for success, one job definition reused by every run, detach then watch"
    )
    func shapes() throws {
        let home = try TestSupport.temporaryDirectory("aws-shapes")
        defer { try? FileManager.default.removeItem(atPath: home) }
        var env = Moto.environment
        env["CLOWDR_HOME"] = home
        let clowdr = TestSupport.binary("clowdr")!
        let s3 = S3Client(configuration: Moto.configuration)
        try? s3.createBucket("clowdr-shapes")
        // --json: the set-up alone on standard output (each step on standard error).
        let setup = try TestSupport.run(
            clowdr, ["cloud", "setup", "--endpoint", Moto.endpoint!, "--s3", "s3://clowdr-shapes/x", "--json"], environment: env)
        let made = try JSONSerialization.jsonObject(with: Data(setup.stdout.utf8)) as? [String: Any]
        #expect(
            setup.status == 0 && made?["job_queue"] is String && (made?["created"] as? [Any])?.isEmpty == false, "\(setup.stdout) \(setup.stderr)")
        #expect(((made?["locations"] as? [String: Any])?["read_write"] as? [String]) == ["s3://clowdr-shapes/x"], "\(setup.stdout)")
        let behaviour = BackendBehaviour(
            backend: "awsbatch", arguments: ["--endpoint", Moto.endpoint!, "--s3", "s3://clowdr-shapes/x", "--image", "localhost/tool:1"],
            environment: env,
            nativeID: "", runsAtOnce: nil)
        let dir = try behaviour.project("exit [K]", [0, 0, 0])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for _ in 0..<2 {
            let run = try behaviour.clowdr(behaviour.runArguments(dir))
            #expect(run.status == 1 && run.stdout.contains("3 attempts: 3 failed"), "\(run.stdout) \(run.stderr)")
        }
        // Detached, then followed by `clowdr watch` from the record (S3 prefix, endpoint and image recorded).
        let detached = try behaviour.clowdr(behaviour.runArguments(dir) + ["--detach"])
        #expect(detached.status == 0 && detached.stdout.contains("3 attempts submitted"), "\(detached.stdout) \(detached.stderr)")
        let exp = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last)
        let watched = try behaviour.clowdr(["watch", dir + "/prov/" + exp])
        #expect(watched.stdout.contains("3 attempts: 3 failed"), "\(watched.stdout) \(watched.stderr)")
        let ids = try behaviour.attempts(dir).compactMap(\.nativeID)
        #expect(
            ids.count == 3 && Set(ids.map { $0.split(separator: ":")[0] }).count == 1 && ids.map { $0.split(separator: ":")[1] } == ["0", "1", "2"])
        let reasons = try behaviour.rows(dir, "SELECT json_extract(payload, '$.reason') FROM events WHERE type = 'task_ended'").compactMap {
            $0[0].string
        }
        #expect(reasons.count == 3 && reasons.allSatisfy { $0.contains("AWS Batch says SUCCEEDED; its worker recorded no exit") }, "\(reasons)")
        let record = try String(contentsOfFile: home + "/aws/clowdr-us-east-1.json", encoding: .utf8)
        #expect(record.components(separatedBy: "\"job_definition\"").count == 2, "one job definition for three runs: \(record)")
        let down = try TestSupport.run(clowdr, ["cloud", "teardown", "--endpoint", Moto.endpoint!, "--json"], environment: env)
        let removed = try JSONSerialization.jsonObject(with: Data(down.stdout.utf8)) as? [String: Any]
        #expect(down.status == 0 && down.stderr.contains("removed job_definition"), "\(down.stdout) \(down.stderr)")
        #expect((removed?["removed"] as? Int ?? 0) > 0 && (removed?["kept"] as? [Any])?.isEmpty == true, "\(down.stdout)")
    }
}

/// moto without containers (`MotoServer.simple`, port 5123).
enum Moto {
    static var key: (id: String, secret: String)? { MotoServer.simple.key }
    static var endpoint: String? { MotoServer.simple.endpoint }
    static var available: Bool { MotoServer.simple.available && TestSupport.binary("clowdr") != nil }
    static var environment: [String: String] { MotoServer.simple.environment.merging(["CLOWDR_POLL_SECONDS": "1"]) { $1 } }
    static var configuration: AWSConfiguration { configuration(of: .simple) }

    /// A client's settings for a moto server: its key, us-east-1, its endpoint.
    static func configuration(of server: MotoServer) -> AWSConfiguration {
        AWSConfiguration(
            credentials: Credentials(accessKeyID: server.key!.id, secretAccessKey: server.key!.secret), region: "us-east-1",
            endpoints: ["": server.endpoint!])
    }
}

extension AWSBatchTests {
    /// A BIDS app whose dataset and output folder are on S3, run end to end in containers: planned from the S3
    /// listing, each child fetches only its participant's folder, its outputs go back to S3, and `clowdr sync`
    /// afterwards adds nothing (nothing lost, nothing doubled).
    @Test("a BIDS dataset on S3: one task per participant, each fetching only its own data, outputs sent back to S3; sync adds nothing")
    func bidsOnS3() throws {
        try ready()
        let endpoint = try #require(BatchMoto.endpoint)
        let s3 = S3Client(configuration: BatchMoto.configuration)
        let prefix = "bids/\(getpid())-\(Int.random(in: 0..<1_000_000))"
        for f in ["dataset_description.json", "sub-01/anat/a.nii", "sub-02/anat/b.nii", "sub-03/func/c.nii"] {
            try s3.put(Data("x".utf8), bucket: BatchMoto.dataBucket, key: "\(prefix)/ds/\(f)")
        }
        let dir = try TestSupport.temporaryDirectory("aws-bids")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = #"""
            {"name":"app","tool-version":"1","description":"d","schema-version":"0.5",
             "command-line":"mkdir -p [OUT] && ls -R [BIDS] > [OUT]/sub-[P].txt; echo [LEVEL]",
             "inputs":[{"id":"bids_dir","name":"b","type":"File","value-key":"[BIDS]"},
                       {"id":"output_dir","name":"o","type":"String","value-key":"[OUT]"},
                       {"id":"analysis_level","name":"a","type":"String","value-key":"[LEVEL]"},
                       {"id":"participant_label","name":"p","type":"String","list":true,"optional":true,"value-key":"[P]"}],
             "output-files":[{"id":"listing","name":"l","path-template":"[OUT]/sub-[P].txt"}]}
            """#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        let root = "s3://\(BatchMoto.bucket)/\(prefix)"
        let dataset = "s3://\(BatchMoto.dataBucket)/\(prefix)/ds"
        try #"{"bids_dir":"\#(dataset)","output_dir":"\#(root)/derivatives","analysis_level":"participant"}"#.write(
            toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let run = try behaviour.clowdr(
            [
                "run", dir + "/d.json", dir + "/i.json", "--bids", "--provdir", dir + "/prov", "--backend", "awsbatch", "--endpoint", endpoint,
                "--s3", "\(root)/runs",
                "--image", BatchMoto.image,
            ])
        #expect(run.status == 0 && run.stdout.contains("3 attempts: 3 succeeded"), "\(run.stdout) \(run.stderr)")
        for (p, own, other) in [("01", "a.nii", "b.nii"), ("02", "b.nii", "c.nii"), ("03", "c.nii", "a.nii")] {
            let listing = String(decoding: try s3.get(bucket: BatchMoto.bucket, key: "\(prefix)/derivatives/sub-\(p).txt"), as: UTF8.self)
            #expect(listing.contains(own) && !listing.contains(other), "sub-\(p) saw: \(listing)")
        }
        // Each output is recorded where it ended up on S3, with the size and digest of what was written.
        let outputs = try behaviour.rows(
            dir,
            "SELECT json_extract(o.value, '$.path'), json_extract(o.value, '$.sha256') FROM events, json_each(json_extract(events.payload, '$.outputs')) o WHERE events.type = 'task_exited' ORDER BY 1"
        )
        #expect(outputs.map { $0[0].string ?? "" } == ["01", "02", "03"].map { "\(root)/derivatives/sub-\($0).txt" }, "\(outputs)")
        #expect(outputs.allSatisfy { ($0[1].string ?? "").count == 64 })
        // Each child's worker recorded the files of its attempt (observed inside the job's container, or why not).
        let files = try behaviour.rows(
            dir,
            "SELECT json_extract(payload, '$.traced'), json_extract(payload, '$.reason'), json_array_length(payload, '$.files') FROM events WHERE type = 'task_files'"
        )
        #expect(files.count == 3 && files.allSatisfy { $0[0].int64 == 1 || $0[1].string != nil }, "\(files)")
        print(
            "AWS Batch children's file records (traced, reason, own files): \(files.map { $0.map { $0.string ?? $0.int64.map(String.init) ?? "null" } })"
        )
        let exp = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").first)
        let sync = try behaviour.clowdr(["sync", dir + "/prov/" + exp])
        #expect(sync.status == 0 && sync.stdout.contains(": 0 events added"), "\(sync.stdout) \(sync.stderr)")
        // A segment on S3 that no child of the run wrote (named after an element that does not exist): its lines are
        // refused when sync brings it in, kept aside, and the record stays as the children wrote it.
        let forged = try EventFactory().make(task: "0", attempt: 1, .taskExited(TaskExited(exitCode: 9, wallTime: 1, peakRSS: 1))).raw().ndjsonLine
        try s3.put(Data("\(forged)\n{broken\n".utf8), bucket: BatchMoto.bucket, key: "\(prefix)/runs/\(exp)/segments/batch-forged_9.ndjson")
        let again = try behaviour.clowdr(["sync", dir + "/prov/" + exp])
        #expect(again.status == 0 && again.stdout.contains(": 0 events added") && again.stdout.contains("2 lines refused"), "\(again.stdout)")
        let status = try behaviour.clowdr(["status", dir + "/prov/" + exp]).stdout
        #expect(status.contains("3 tasks: 3 succeeded") && status.contains("warning: 2 segment lines refused"), "\(status)")
        #expect(status.contains("submitted as") && status.contains("native id forged_9"), "\(status)")
    }
}

extension AWSBatchTests {
    /// AWS away for a while in the middle of a run (a loopback proxy in front of moto answers 503 to every request,
    /// the controller's and the workers' alike), then back: the run ends on its own with every attempt's events,
    /// none lost or doubled, and a later `clowdr sync` adds nothing.
    @Test("AWS away mid-run (503 to every request, a dozen refused), then back: every event recorded once; sync adds nothing")
    func awayMidRun() throws {
        try ready()
        let endpoint = try #require(BatchMoto.endpoint)
        let port = try #require(URL(string: endpoint)?.port)
        let proxy = try ScriptedServer([(0, "")], upstream: UInt16(port))
        defer { proxy.stop() }
        let b = BackendBehaviour(
            backend: "awsbatch",
            arguments: ["--endpoint", "http://127.0.0.1:\(proxy.port)", "--s3", "s3://\(BatchMoto.bucket)/away", "--image", BatchMoto.image],
            environment: BatchMoto.environment, nativeID: "", runsAtOnce: nil)
        let dir = try b.project("sleep 6; exit [K]", [0, 2, 0])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try b.start(dir)
        try b.wait("an attempt running", dir) { rows in rows.contains { $0.state == "running" } }
        proxy.down = true
        // Away long enough that the controller and the workers each meet the 503s again and again.
        try TestSupport.eventually("12 requests refused while AWS is away", timeout: 60, poll: 0.2) { proxy.injected >= 12 }
        proxy.down = false
        p.waitUntilExit()
        #expect(p.terminationStatus == 1)
        #expect(proxy.injected > 3, "requests refused while away: \(proxy.injected)")
        let attempts = try b.attempts(dir)
        #expect(attempts.map(\.state) == ["succeeded", "failed", "succeeded"] && attempts.map(\.exit) == [0, 2, 0], "\(attempts)")
        try b.checkRecord(dir)
        let samples = try b.rows(dir, "SELECT count(DISTINCT task) FROM events WHERE type = 'sample'")
        #expect(samples.first?.first?.int64 == 3, "every attempt's samples came back")
        let exp = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").first)
        let sync = try b.clowdr(["sync", dir + "/prov/" + exp])
        #expect(sync.status == 0 && sync.stdout.contains(": 0 events added"), "\(sync.stdout) \(sync.stderr)")
    }
}

/// The registry of scripts/registry/setup.sh (Debian's docker-registry on 127.0.0.1), which make test starts.
@Suite(
    "clowdr cloud image: the tool's image with clowdr added, pushed to a registry",
    .enabled(
        if: FileManager.default.fileExists(atPath: "/tmp/clowdr-registry/address") && TestSupport.binary("clowdr") != nil,
        "no registry on 127.0.0.1: make test starts one (scripts/registry/setup.sh)"))
struct CloudImageTests {
    @Test("built FROM the tool's image, pushed to the registry, pulled back: clowdr runs inside it")
    func buildPushPull() throws {
        let address = try String(contentsOfFile: "/tmp/clowdr-registry/address", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let dist = try BatchMoto.dist.get()
        let tag = "\(address)/clowdr/tool:t\(getpid())"
        let env = ["CONTAINERS_CONF": TestSupport.repositoryRoot + "/scripts/containers/containers.conf"]
        let clowdr = TestSupport.binary("clowdr")!
        // Without --insecure-registry, a plain-HTTP registry's refusal says which option is missing.
        let plain = try TestSupport.run(
            clowdr, ["cloud", "image", "--from", "localhost/clowdr-busybox:test", "--tag", tag, "--dist", dist, "--push"], environment: env)
        #expect(plain.status != 0 && plain.stderr.contains("The registry speaks plain HTTP: add --insecure-registry"), "\(plain.stderr)")
        let built = try TestSupport.run(
            clowdr, ["cloud", "image", "--from", "localhost/clowdr-busybox:test", "--tag", tag, "--dist", dist, "--push", "--insecure-registry"],
            environment: env)
        #expect(built.status == 0 && built.stdout.contains("pushed \(tag)"), "\(built.stdout) \(built.stderr)")
        let tags = try TestSupport.run("/usr/bin/curl", ["-sf", "http://\(address)/v2/clowdr/tool/tags/list"])
        #expect(tags.stdout.contains("t\(getpid())"), "\(tags.stdout)")
        _ = try TestSupport.run("/usr/bin/podman", ["rmi", tag], environment: env)
        #expect(try TestSupport.run("/usr/bin/podman", ["pull", "--tls-verify=false", tag], environment: env).status == 0)
        let version = try TestSupport.run("/usr/bin/podman", ["run", "--rm", tag, "/opt/clowdr/bin/clowdr", "--version"], environment: env)
        #expect(version.status == 0 && !version.stdout.isEmpty, "\(version.stdout) \(version.stderr)")
        _ = try TestSupport.run("/usr/bin/podman", ["rmi", tag], environment: env)
        let missing = try TestSupport.run(clowdr, ["cloud", "image", "--from", "x", "--tag", "y", "--dist", "/nowhere"], environment: env)
        #expect(missing.status == 2 && missing.stderr.contains("not a clowdr dist install"), "\(missing.stderr)")
    }
}

extension AWSBatchTests {
    /// A task that failed after holding 60 MB, rerun with `memory:auto`: the rerun asks for 1.5 times the peak
    /// the record holds, and the job Batch runs has that memory (its job definition's MEMORY).
    @Test("memory:auto from the record: a failed task's rerun asks Batch for 1.5x its recorded peak, and its job gets it")
    func memoryAuto() throws {
        try ready()
        let dir = try behaviour.project("dd if=/dev/zero bs=60M count=1 2>/dev/null | (sleep 2; wc -c >/dev/null); exit [K]", [3])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try behaviour.clowdr(behaviour.runArguments(dir))
        #expect(run.status == 1 && run.stdout.contains("1 attempts: 1 failed"), "\(run.stdout) \(run.stderr)")
        let peak = try behaviour.rows(dir, "SELECT peak_rss FROM attempts WHERE attempt = 1").first?.first?.int64 ?? 0
        #expect(peak > 60 << 20, "dd's 60 MB buffer recorded: \(peak)")
        let rerun = try behaviour.clowdr(["rerun", "failed", dir + "/prov", "-w", dir, "--clusterargs", "memory:auto"] + behaviour.arguments(dir))
        #expect(rerun.status == 1 && rerun.stdout.contains("1 attempts: 1 failed"), "\(rerun.stdout) \(rerun.stderr)")
        let mib = Int((Double(peak) * 1.5 / 1_048_576).rounded(.up))
        let submitted = try behaviour.rows(
            dir,
            "SELECT json_extract(payload, '$.resources.memory'), json_extract(payload, '$.native_id') FROM events WHERE type = 'task_submitted' AND attempt = 2"
        )
        #expect(submitted.first?[0].string == "\(mib)M", "\(submitted)")
        let job = try #require(submitted.first?[1].string?.split(separator: ":").first.map(String.init))
        // The job's definition (clowdr registers one per image and resources) asks Batch for that memory.
        let batch = BatchClient(configuration: BatchMoto.configuration)
        let described = try batch.call("DescribeJobs", ["jobs": [.string(job)]], resource: job)
        let definition = try #require(described["jobs"]?.arrayValue?.first?["jobDefinition"]?.stringValue, "\(described)")
        // The container ran with the job role's own keys (assumed by the run), never the operator's: the scoped
        // policy held inside it.
        var given: [String: String] = [:]
        for v in described["jobs"]?.arrayValue?.first?["container"]?["environment"]?.arrayValue ?? [] {
            if let n = v["name"]?.stringValue { given[n] = v["value"]?.stringValue }
        }
        let keys = Credentials(
            accessKeyID: given["AWS_ACCESS_KEY_ID"] ?? "", secretAccessKey: given["AWS_SECRET_ACCESS_KEY"] ?? "",
            sessionToken: given["AWS_SESSION_TOKEN"])
        #expect(keys.accessKeyID != BatchMoto.key?.id && keys.sessionToken != nil, "\(given.keys.sorted())")
        var inside = BatchMoto.configuration
        inside.credentials = keys
        let identity = try STSClient(configuration: inside).callerIdentity().arn
        #expect(identity.contains(":assumed-role/clowdr-job/"), "the container's keys are \(identity)")
        let definitions = try batch.call("DescribeJobDefinitions", ["jobDefinitions": [.string(definition)]], resource: definition)
        let requirements = definitions["jobDefinitions"]?.arrayValue?.first?["containerProperties"]?["resourceRequirements"]?.arrayValue ?? []
        let memory = requirements.first { $0["type"]?.stringValue == "MEMORY" }?["value"]?.stringValue
        #expect(memory == String(mib), "the job definition's resources: \(requirements)")
    }
}

extension AWSBatchShapeTests {
    /// What a run is checked for before anything is written: its S3 locations against the set-up's declared ones,
    /// its inputs' existence, and a set-up an earlier clowdr made (every bucket) refused until scoped.
    @Test(
        "a run naming an S3 location its job role may not use, or an input that does not exist, or on an unscoped set-up: refused (exit 2) with the command that fixes it, nothing written"
    )
    func refusedBeforeAnythingIsWritten() throws {
        let home = try TestSupport.temporaryDirectory("aws-refusals")
        defer { try? FileManager.default.removeItem(atPath: home) }
        var env = Moto.environment
        env["CLOWDR_HOME"] = home
        let clowdr = TestSupport.binary("clowdr")!
        let bucket = "clowdr-refusals-\(getpid())"
        let s3 = S3Client(configuration: Moto.configuration)
        try s3.createBucket(bucket)
        try s3.put(Data("x".utf8), bucket: bucket, key: "data/sub-01.txt")
        let setup = try TestSupport.run(
            clowdr,
            [
                "cloud", "setup", "--endpoint", Moto.endpoint!, "--s3", "s3://\(bucket)/runs", "--s3", "s3://\(bucket)-none/runs", "--read",
                "s3://\(bucket)/data",
            ], environment: env)
        #expect(
            setup.status == 0
                && setup.stdout.contains("role clowdr-job: S3 --s3 s3://\(bucket)/runs --s3 s3://\(bucket)-none/runs --read s3://\(bucket)/data"),
            "\(setup.stdout)")
        let dir = try TestSupport.temporaryDirectory("aws-refusals-run")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"""
        {"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"cat [F]",
         "inputs":[{"id":"f","name":"f","type":"File","value-key":"[F]"}]}
        """#.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        func run(_ input: String, s3 location: String = "runs", _ more: [String] = []) throws -> TestSupport.Output {
            try #"{"f":"\#(input)"}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
            return try TestSupport.run(
                clowdr,
                [
                    "run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--backend", "awsbatch", "--endpoint", Moto.endpoint!,
                    "--s3", location.hasPrefix("s3://") ? location : "s3://\(bucket)/\(location)", "--image", "localhost/tool:1", "--detach",
                ] + more, environment: env)
        }
        let cases: [(String, TestSupport.Output, String)] = [
            (
                "missing input", try run("s3://\(bucket)/data/sub-99.txt"),
                "input 'f' of task 0 reads s3://\(bucket)/data/sub-99.txt, which names no object and no folder on S3"
            ),
            (
                "undeclared dataset", try run("s3://elsewhere-\(getpid())/x.txt"),
                "may not read there (declared: --s3 s3://\(bucket)/runs --s3 s3://\(bucket)-none/runs --read s3://\(bucket)/data); add it with: clowdr cloud setup --region us-east-1 --read s3://elsewhere-\(getpid())/x.txt"
            ),
            (
                "undeclared --s3", try run("s3://\(bucket)/data/sub-01.txt", s3: "other"),
                "--s3 s3://\(bucket)/other: the job role of set-up 'clowdr' may not write there"
            ),
            (
                "no such bucket", try run("s3://\(bucket)/data/sub-01.txt", s3: "s3://\(bucket)-none/runs"),
                "--s3 s3://\(bucket)-none/runs: there is no bucket \(bucket)-none at \(Moto.endpoint!): create it, or correct --s3"
            ),
            (
                "a region with no set-up", try run("s3://\(bucket)/data/sub-01.txt", s3: "runs", ["--region", "eu-west-1"]),
                "no AWS Batch set-up 'clowdr' in region eu-west-1 (no record at \(home)/aws/clowdr-eu-west-1.json): run clowdr cloud setup --region eu-west-1 --s3 s3://\(bucket)/runs first; set-up 'clowdr' exists in us-east-1: give --region us-east-1 to run there"
            ),
            (
                "an S3 PROVDIR not in the cache", try TestSupport.run(clowdr, ["status", "s3://\(bucket)/prov"], environment: env),
                "s3://\(bucket)/prov is on S3: clowdr reads its experiments from the local cache \(home)/cache/\(bucket)/prov, and finds none there"
            ),
        ]
        for (what, out, said) in cases {
            #expect(out.status == 2 && out.stderr.contains(said), "\(what): \(out.status) \(out.stderr)")
        }
        // An image its registry does not hold (the tests' registry on 127.0.0.1, when make test started it).
        if let address = try? String(contentsOfFile: "/tmp/clowdr-registry/address", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        {
            let image = "\(address)/clowdr/none:missing"
            let missing = try run("s3://\(bucket)/data/sub-01.txt", s3: "runs", ["--image", image])
            #expect(
                missing.status == 2 && missing.stderr.contains("--image \(image): \(address) has no image clowdr/none:missing; push it"),
                "\(missing.stderr)")
        }
        // The original form, without --image: the descriptor's image is named, with the command that adds clowdr.
        try #"""
        {"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"cat [F]",
         "container-image":{"type":"docker","image":"bids/example:0.0.7"},
         "inputs":[{"id":"f","name":"f","type":"File","value-key":"[F]"}]}
        """#.write(toFile: dir + "/image.json", atomically: true, encoding: .utf8)
        try "Access key ID,Secret access key\n\(Moto.key!.id),\(Moto.key!.secret)\n".write(
            toFile: dir + "/credentials.csv", atomically: true, encoding: .utf8)
        let original = try TestSupport.run(
            clowdr,
            [
                "cloud", dir + "/image.json", dir + "/i.json", dir + "/prov", "s3://\(bucket)/runs", "aws", dir + "/credentials.csv", "-r",
                "us-east-1",
            ],
            environment: env)
        #expect(
            original.status == 2
                && original.stderr.contains(
                    "the descriptor's container-image bids/example:0.0.7 has no clowdr inside; make an image with it added: clowdr cloud image --from bids/example:0.0.7 --tag REGISTRY/example:clowdr --push"
                ), "\(original.stderr)")
        let written = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/prov")) ?? []
        #expect(written.isEmpty, "nothing written: \(written)")
        // The record of an earlier clowdr (no declared locations): refused until setup scopes the role.
        let path = home + "/aws/clowdr-us-east-1.json"
        var record = try JSONParser.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))).objectValue ?? [:]
        record["locations"] = nil
        try JSONWriter().string(.object(record)).write(toFile: path, atomically: true, encoding: .utf8)
        let unscoped = try run("s3://\(bucket)/data/sub-01.txt")
        #expect(
            unscoped.status == 2 && unscoped.stderr.contains("made by an earlier clowdr")
                && unscoped.stderr.contains("scope it first with: clowdr cloud setup --region us-east-1 --s3 s3://\(bucket)/runs"),
            "\(unscoped.stderr)")
        let fine = try run("s3://\(bucket)/data/sub-01.txt")
        #expect(fine.status == 2, "still unscoped")
        let again = try TestSupport.run(clowdr, ["cloud", "setup", "--endpoint", Moto.endpoint!, "--s3", "s3://\(bucket)/runs"], environment: env)
        #expect(again.status == 0, "\(again.stderr)")
        let ok = try run("s3://\(bucket)/runs/sub-01.txt")
        #expect(
            ok.status == 2 && ok.stderr.contains("names no object"), "the run's own location is readable: only the object is missing. \(ok.stderr)")
        _ = try TestSupport.run(clowdr, ["cloud", "teardown", "--endpoint", Moto.endpoint!], environment: env)
    }
}

extension AWSBatchTests {
    /// A task whose input is gone by the time its container starts (deleted after the run checked and submitted
    /// it): the worker's own words reach the record, not Batch's bare FAILED.
    @Test("an input deleted after submission: the worker records why it could not start the task, and status says it")
    func workerFailureKeepsItsReason() throws {
        try ready()
        let s3 = S3Client(configuration: BatchMoto.configuration)
        let key = "runs/inputs-\(getpid())-\(Int.random(in: 0..<1_000_000))/sub-99.txt"
        try s3.put(Data("x".utf8), bucket: BatchMoto.bucket, key: key)
        let dir = try TestSupport.temporaryDirectory("aws-gone")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"""
        {"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"cat [F]",
         "inputs":[{"id":"f","name":"f","type":"File","value-key":"[F]"}]}
        """#.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"f":"s3://\#(BatchMoto.bucket)/\#(key)"}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let run = try behaviour.clowdr(
            ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--backend", "awsbatch", "--detach"] + behaviour.arguments(dir))
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        try s3.delete(bucket: BatchMoto.bucket, key: key)
        let exp = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").first)
        let watched = try behaviour.clowdr(["watch", dir + "/prov/" + exp])
        #expect(watched.status == 1 && watched.stdout.contains("1 failed"), "\(watched.stdout) \(watched.stderr)")
        let reasons = try behaviour.rows(dir, "SELECT json_extract(payload, '$.reason') FROM events WHERE type = 'task_launch_failed'")
        #expect(reasons.first?.first?.string?.contains("names no object and no folder on S3") == true, "\(reasons)")
        let status = try behaviour.clowdr(["status", dir + "/prov/" + exp])
        #expect(status.stdout.contains("names no object and no folder on S3"), "\(status.stdout)")
    }
}
