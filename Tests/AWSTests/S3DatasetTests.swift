import AWS
import Backends
import Boutiques
import Foundation
import JSON
import Runner
import TestSupport
import Testing

@Suite("datasets and invocations on S3", .enabled(if: Moto.available, "moto is not running: scripts/moto/setup.sh starts it (make test does)"))
struct S3DatasetTests {
    static let descriptor = #"""
        {"name":"t","tool-version":"1","description":"d","schema-version":"0.5",
         "command-line":"tool [BIDS] [OUT] [LEVEL] [P] [S]",
         "inputs":[{"id":"bids_dir","name":"b","type":"File","value-key":"[BIDS]"},
                   {"id":"output_dir","name":"o","type":"String","value-key":"[OUT]"},
                   {"id":"analysis_level","name":"a","type":"String","value-key":"[LEVEL]"},
                   {"id":"participant_label","name":"p","type":"String","list":true,"optional":true,"value-key":"[P]","command-line-flag":"--participant_label"},
                   {"id":"session_label","name":"s","type":"String","list":true,"optional":true,"value-key":"[S]","command-line-flag":"--session_label"}]}
        """#

    /// A dataset with sessions, a participant without, folders passed over, and a participants.tsv that disagrees.
    static let files = [
        "dataset_description.json", "participants.tsv", "sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz", "sub-01/ses-2/anat/sub-01_ses-2_T1w.nii.gz",
        "sub-02/ses-1/anat/sub-02_ses-1_T1w.nii.gz", "sub-03/anat/sub-03_T1w.nii.gz", "sub-04_old/anat/x.nii.gz", "sub-05/.gitkeep",
        "sub-06/ses-a_b/f", "sub-07/ses-1/.gitkeep", "sub-07/ses-2/func/b.nii.gz", "README",
    ]

    @Test("BIDS planning over s3://bucket/ds plans the same tasks, labels, command lines and warnings as over the same files on disk")
    func bidsSamePlan() throws {
        let dir = try TestSupport.temporaryDirectory("s3-bids")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for f in Self.files {
            let path = dir + "/ds/" + f
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try (f == "participants.tsv" ? "participant_id\nsub-01\nsub-09\n" : "x").write(toFile: path, atomically: true, encoding: .utf8)
        }
        let s3 = S3Client(configuration: Moto.configuration())
        let bucket = "clowdr-bids-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try s3.createBucket(bucket)
        #expect(try s3.upload(folder: dir + "/ds", to: S3Location(bucket: bucket, key: "studies/ds")) == Self.files.count)

        let d = try DescriptorValidator.validate(try JSONParser.parse(Self.descriptor))
        func plan(_ dataset: String) throws -> Planner.Plan {
            var planner = Planner(descriptor: d, workingDirectory: dir)
            planner.bids = true
            planner.remoteDataset = { try S3Dataset.tree($0, s3: s3) }
            try #"{"bids_dir":"\#(dataset)","output_dir":"o","analysis_level":"participant"}"#.write(
                toFile: dir + "/i.json", atomically: true, encoding: .utf8)
            return try planner.plan(dir + "/i.json")
        }
        let local = try plan(dir + "/ds")
        let remote = try plan("s3://\(bucket)/studies/ds")
        func shown(_ p: Planner.Plan, root: String) -> [String] {
            p.tasks.map {
                "\($0.labels["participant"] ?? "")/\($0.labels["session"] ?? "-") "
                    + $0.rendered.commandLine.replacingOccurrences(of: root, with: "DS")
            }
        }
        #expect(local.tasks.count == 5)
        #expect(shown(local, root: dir + "/ds") == shown(remote, root: "s3://\(bucket)/studies/ds"))
        #expect(
            local.warnings.map { $0.replacingOccurrences(of: dir + "/ds", with: "DS") }
                == remote.warnings.map { $0.replacingOccurrences(of: "s3://\(bucket)/studies/ds", with: "DS") })
        #expect(remote.warnings.count >= 4, "\(remote.warnings)")
        #expect(throws: PlanError.self) { try plan("s3://\(bucket)/studies/none") }
    }

    @Test("an invocation, or a folder of them, on S3 is fetched to plan from")
    func invocations() throws {
        let s3 = S3Client(configuration: Moto.configuration())
        let bucket = "clowdr-inv-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try s3.createBucket(bucket)
        for name in ["a.json", "b.json", "notes.txt", "deeper/c.json"] { try s3.put(Data("{}".utf8), bucket: bucket, key: "invs/" + name) }
        let dir = try TestSupport.temporaryDirectory("s3-inv")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = try S3Dataset.fetchInvocations(S3Location(bucket: bucket, key: "invs/"), s3: s3, into: dir + "/f")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["a.json", "b.json"])
        let one = try S3Dataset.fetchInvocations(S3Location(bucket: bucket, key: "invs/b.json"), s3: s3, into: dir + "/g")
        #expect(one == dir + "/g/b.json")
        #expect(throws: AWSError.self) { try S3Dataset.fetchInvocations(S3Location(bucket: bucket, key: "none/"), s3: s3, into: dir + "/h") }
    }
}
