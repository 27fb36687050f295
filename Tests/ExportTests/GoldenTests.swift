import EventLog
import Export
import Foundation
import JSON
import TestSupport
import Testing

/// Exports of a log made with an injected clock and id source are byte-stable: compared with the golden files in
/// `Tests/ExportTests/golden/`. After a deliberate change of format, regenerate them with
/// `CLOWDR_UPDATE_GOLDEN=1 swift test --filter GoldenTests` (that run fails on purpose), review the diff, and run
/// the tests again without it.
@Suite("Exports match their golden files")
struct GoldenTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/golden"

    /// A small experiment: two tasks, one failing then rerun, with samples and outputs.
    func log() throws -> String {
        let dir = try TestSupport.temporaryDirectory("golden")
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        let f = EventFactory(
            clock: SteppingClock(start: Timestamp(microseconds: 1_800_000_000_000_000), stepMicroseconds: 250_000), ids: SequentialIDSource())
        var e: [Event] = [
            f.make(
                .experimentCreated(
                    ExperimentCreated(
                        experiment: "2027-01-15_08-00-00-GOLDEN01", name: "golden", descriptorSHA256: String(repeating: "ab", count: 32),
                        toolName: "bet",
                        toolVersion: "6.0", invocations: ["inv.json"], options: ["jobs": "2"], backend: "local", user: "alice", host: "node1",
                        clowdrVersion: "0.1.0", os: "Linux 6.1 x86_64")))
        ]
        for (t, sub) in [("0", "01"), ("1", "02")] {
            e.append(
                f.make(
                    task: t,
                    .taskPlanned(
                        TaskPlanned(
                            invocation: ["in": .string("sub-\(sub)/T1.nii.gz"), "f": 0.5], commandLine: "bet sub-\(sub)/T1.nii.gz out_\(sub)",
                            labels: ["participant": sub]))))
        }
        for (t, attempt, code) in [("0", 1, Int32(0)), ("1", 1, 1), ("1", 2, 0)] {
            e.append(f.make(task: t, attempt: attempt, .taskSubmitted(TaskSubmitted(backend: "local"))))
            // Task 0's start says which clowdr started it and on what host, an EC2 spot instance (task_started v3); the
            // others are v1's.
            let facts =
                t == "0"
                ? TaskStarted(
                    host: "node1", pid: 101, clowdrVersion: "0.1.0-dev+g0123456789ab", cpuModel: "AMD EPYC 7B13", cpus: 8, memory: 34_359_738_368,
                    kernel: "6.1.0-18-amd64", osRelease: "Debian GNU/Linux 12 (bookworm)", instanceType: "c6i.2xlarge", spot: true)
                : TaskStarted(host: "node1", pid: 100 + Int32(attempt))
            e.append(f.make(task: t, attempt: attempt, .taskStarted(facts)))
            for k in 1...2 {
                e.append(
                    f.make(
                        task: t, attempt: attempt,
                        .sample(
                            Sample(
                                cpuUser: 0.5 * Double(k), cpuSystem: 0.01, rss: 1_000_000 * Int64(k), vms: 5_000_000, readBytes: 4096, writeBytes: 0,
                                processes: 2, threads: 3))))
            }
            let outputs =
                code == 0 ? [OutputFile(id: "brain", path: "/data/out_\(t).nii.gz", size: 1234, sha256: String(repeating: "c\(t)", count: 32))] : []
            if t == "0" {
                e.append(
                    f.make(
                        task: t, attempt: attempt,
                        .imageResolved(
                            ImageResolved(engine: "podman", image: "docker.io/library/bet:6.0", digest: "sha256:" + String(repeating: "9", count: 64))
                        )))
            }
            if code == 0 {
                // What it was observed to use: its input, a library (a set the second names), a file in $HOME, a
                // temporary file renamed into its declared output.
                let library = [
                    FileUse(
                        path: "/usr/lib/libbet.so", kind: .read, size: 10, mtimeNs: 1_700_000_000_000_000_000,
                        sha256: String(repeating: "d", count: 64))
                ]
                let files = [
                    FileUse(
                        path: "/data/sub-\(t == "0" ? "01" : "02")/T1.nii.gz", kind: .read, size: 100, mtimeNs: 1_700_000_000_000_000_001,
                        sha256: String(repeating: "a\(t)", count: 32)),
                    FileUse(path: "/data/out_\(t).tmp", kind: .created),
                    FileUse(
                        path: "/data/out_\(t).tmp", kind: .renamed, size: 1234, mtimeNs: 1_800_000_000_000_000_000,
                        sha256: String(repeating: "c\(t)", count: 32),
                        to: "/data/out_\(t).nii.gz"),
                    FileUse(
                        path: "/home/alice/.betrc", kind: .read, size: 3, mtimeNs: 1_700_000_000_000_000_002,
                        sha256: String(repeating: "f", count: 64)),
                ]
                let set = FileSet(id: String(repeating: "e", count: 64), files: t == "0" ? library : nil)
                e.append(
                    f.make(
                        task: t, attempt: attempt,
                        .taskFiles(TaskFiles(traced: true, calls: 6, files: files, sets: [set], cwd: "/data", undeclared: ["/home/alice/.betrc"]))))
            }
            e.append(
                f.make(
                    task: t, attempt: attempt,
                    .taskExited(
                        TaskExited(
                            exitCode: code, wallTime: 1.25, cpuUser: 1.0, cpuSystem: 0.02, peakRSS: 2_000_000, readBytes: 4096, writeBytes: 1234,
                            outputs: outputs))))
            if t == "1" && attempt == 1 { e.append(f.make(.rerunRequested(RerunRequested(mode: .failed, tasks: ["1"])))) }
        }
        try log.append(e)
        try Self.descriptor.write(toFile: dir + "/descriptor.json", atomically: true, encoding: .utf8)
        return dir + "/clowdr.db"
    }

    /// The tool the golden experiment ran: `in` is a File input (the PROV export declares its values as files),
    /// `f` a Number.
    static let descriptor = """
        {"name": "bet", "tool-version": "6.0", "description": "brain extraction", "schema-version": "0.5",
         "command-line": "bet [IN] out [F]",
         "inputs": [{"id": "in", "name": "input image", "type": "File", "value-key": "[IN]"},
                    {"id": "f", "name": "threshold", "type": "Number", "value-key": "[F]", "command-line-flag": "-f", "optional": true}]}
        """

    func compare(_ produced: String, _ name: String) throws {
        let text = try String(contentsOfFile: produced, encoding: .utf8)
        let path = Self.golden + "/" + name
        if ProcessInfo.processInfo.environment["CLOWDR_UPDATE_GOLDEN"] == "1" {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            // A run that rewrites the golden files proves nothing: it fails, so it can never pass CI by accident.
            Issue.record("\(name) rewritten from this build (CLOWDR_UPDATE_GOLDEN=1): review the diff, then run the tests without it")
            return
        }
        let expected = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == expected, "\(name) differs from its golden file (CLOWDR_UPDATE_GOLDEN=1 regenerates it after a deliberate change)")
    }

    @Test("export json (with and without samples) and export prov (json and provn) are byte-stable")
    func golden() throws {
        let db = try log()
        let dir = (db as NSString).deletingLastPathComponent
        try JSONExport.write(logPath: db, to: dir + "/e.json", samples: false)
        try JSONExport.write(logPath: db, to: dir + "/s.json", samples: true)
        try PROVExport.write(logPath: db, descriptorPath: dir + "/descriptor.json", to: dir + "/p.json", format: .json)
        try PROVExport.write(logPath: db, descriptorPath: dir + "/descriptor.json", to: dir + "/p.provn", format: .provn)
        try compare(dir + "/e.json", "experiment.json")
        try compare(dir + "/s.json", "experiment-samples.json")
        try compare(dir + "/p.json", "experiment.prov.json")
        try compare(dir + "/p.provn", "experiment.provn")
    }

    @Test(
        "the golden PROV-N, read back, equals the golden PROV-JSON as the prov package loads it",
        .enabled(
            if: TestSupport.pythonHas("prov"), "needs Python's prov package in .build-venv (make test-deps installs it)"))
    func provnRoundTrip() throws {
        let out = try TestSupport.run(
            TestSupport.python!,
            [
                TestSupport.repositoryRoot + "/scripts/provn_roundtrip.py", Self.golden + "/experiment.prov.json",
                Self.golden + "/experiment.provn",
            ])
        #expect(out.status == 0 && out.stdout == "equal 38\n", "\(out.stdout) \(out.stderr)")
    }
}
