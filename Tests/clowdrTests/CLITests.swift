import EventLog
import Foundation
import JSON
import SQLite
import TestSupport
import Testing

/// End-to-end tests of the built `clowdr` binary: what it prints and the exit code it leaves with.
@Suite("clowdr command line", .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"))
struct CLITests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    /// A small experiment log written through the library, with one task of each outcome.
    func experiment() throws -> String {
        let dir = try TestSupport.temporaryDirectory("cli") + "/exp"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        let f = EventFactory(clock: SteppingClock(), ids: SequentialIDSource())
        var events = [
            f.make(
                .experimentCreated(
                    ExperimentCreated(
                        experiment: "exp", descriptorSHA256: String(repeating: "0", count: 64), invocations: [], backend: "local", user: "u",
                        host: "h", clowdrVersion: "0", os: "Linux")))
        ]
        for (t, code) in [("1", Int32(0)), ("2", 3)] {
            events.append(f.make(task: t, .taskPlanned(TaskPlanned(invocation: [:], commandLine: "run \(t)"))))
            events.append(f.make(task: t, attempt: 1, .taskStarted(TaskStarted(host: "h", pid: 1))))
            events.append(
                f.make(
                    task: t, attempt: 1,
                    .sample(Sample(cpuUser: 1, cpuSystem: 0, rss: 100, vms: 200, readBytes: 0, writeBytes: 0, processes: 1, threads: 1))))
            events.append(f.make(task: t, attempt: 1, .taskExited(TaskExited(exitCode: code, wallTime: 1))))
        }
        try log.append(events)
        return dir
    }

    @Test("fsck of a sound log prints ok and exits 0")
    func fsckOK() throws {
        let dir = try experiment()
        let out = try TestSupport.run(clowdr, ["fsck", dir])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("9 events, seq 1...9"))
        #expect(out.stdout.contains("projections: match a rebuild from the events"))
        #expect(out.stdout.hasSuffix("ok\n"))
        let json = try TestSupport.run(clowdr, ["fsck", "--json", dir + "/clowdr.db"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["ok"] as? Bool == true)
        #expect(object?["events"] as? Int == 9)
    }

    @Test("fsck prints each difference and exits 1 when a projection disagrees with the events")
    func fsckProblems() throws {
        let dir = try experiment()
        try Connection(path: dir + "/clowdr.db").execute("UPDATE tasks SET state = 'succeeded' WHERE task = '2'")
        let out = try TestSupport.run(clowdr, ["fsck", dir])
        #expect(out.status == 1)
        #expect(out.stdout.contains("task 2: tasks.state is 'succeeded' in the projection, 'failed' from the events"))
        #expect(out.stdout.hasSuffix("PROBLEMS FOUND\n"))
    }

    @Test("a missing experiment is a usage error: exit 2 and a message that says what to give")
    func missingExperiment() throws {
        let out = try TestSupport.run(clowdr, ["fsck", "/nonexistent/exp"])
        #expect(out.status == 2)
        #expect(out.stderr.hasPrefix("clowdr: error[usage.invalid]: /nonexistent/exp: no experiment there"))
        #expect(out.stdout.isEmpty)
    }

    @Test("unknown flags and missing arguments exit 2; --help exits 0")
    func usage() throws {
        #expect(try TestSupport.run(clowdr, ["fsck", "--bogus", "x"]).status == 2)
        #expect(try TestSupport.run(clowdr, ["fsck"]).status == 2)
        #expect(try TestSupport.run(clowdr, ["nosuchcommand"]).status == 2)
        let help = try TestSupport.run(clowdr, ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("fsck"))
        #expect(
            try TestSupport.run(clowdr, ["ingest", "/tmp", "/no/such/segment"]).stderr.contains("segment file '/no/such/segment' does not exist"))
    }

    @Test("events prints the log as segment lines that ingest takes back, idempotently")
    func eventsAndIngest() throws {
        let dir = try experiment()
        let dump = try TestSupport.run(clowdr, ["events", dir])
        #expect(dump.status == 0)
        #expect(dump.stdout.split(separator: "\n").count == 9)
        let segment = dir + "/../dump.ndjson"
        try dump.stdout.write(toFile: segment, atomically: true, encoding: .utf8)
        let copy = dir + "/../copy"
        let first = try TestSupport.run(clowdr, ["ingest", "--create", copy, segment])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("9 events added, 0 already present"))
        let second = try TestSupport.run(clowdr, ["ingest", copy, segment])
        #expect(second.stdout.contains("0 events added, 9 already present"))
        #expect(try TestSupport.run(clowdr, ["events", copy]).stdout == dump.stdout)
        #expect(try TestSupport.run(clowdr, ["fsck", copy]).status == 0)
        let noSamples = try TestSupport.run(clowdr, ["events", "--no-samples", dir])
        #expect(noSamples.stdout.split(separator: "\n").count == 7)
    }

    @Test("ingest warns about a torn last line and keeps the rest")
    func ingestTorn() throws {
        let dir = try experiment()
        let dump = try TestSupport.run(clowdr, ["events", dir]).stdout
        let torn = String(dump.dropLast(40))  // cut inside the last line
        let segment = dir + "/../torn.ndjson"
        try torn.write(toFile: segment, atomically: true, encoding: .utf8)
        let out = try TestSupport.run(clowdr, ["ingest", "--create", dir + "/../t", segment])
        #expect(out.status == 0)
        #expect(out.stdout.contains("8 events added"))
        #expect(out.stderr.contains("torn.ndjson:9: torn last line"))
    }
}

/// `clowdr validate` and `clowdr simulate` on the shared Boutiques fixtures.
@Suite(
    "clowdr validate and simulate",
    .enabled(if: TestSupport.binary("clowdr") != nil && TestSupport.sharedFixtures != nil, "needs the built clowdr and ../shared/fixtures"))
struct BoutiquesCLITests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"
    let f = (TestSupport.sharedFixtures ?? "") + "/boutiques"

    @Test("simulate prints bosh's command line for fsl_bet")
    func simulate() throws {
        let out = try TestSupport.run(
            clowdr, ["simulate", f + "/examples/fsl_bet/fsl_bet.json", "-i", f + "/examples/fsl_bet/example_complete_invocation.json"])
        #expect(out.status == 0)
        #expect(
            out.stdout
                == "Generated Command:\nbet f_infile_98.csv str_maskfile_rH -f 0.991 -g -0.195 -c -6.146 -46.492 -10.684 -m -s -e -r -2.001 -t -v\n")
        let json = try TestSupport.run(
            clowdr, ["simulate", "--json", f + "/examples/fsl_bet/fsl_bet.json", "-i", f + "/examples/fsl_bet/example_invocation.json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["command_line"] as? String)?.hasPrefix("bet ") == true)
        #expect(object?["outputs"] is [String: Any])
    }

    @Test("validate: OK and 0, or every problem and 2; --json for machines")
    func validate() throws {
        let ok = try TestSupport.run(
            clowdr, ["validate", f + "/examples/example1/example1_docker.json", "-i", f + "/examples/example1/invocation.json"])
        #expect(ok.status == 0 && ok.stdout == "OK\n")
        let bad = try TestSupport.run(clowdr, ["validate", f + "/tests/validator/bad.json"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("bad.json: /inputs/5/id: [IdError] \"key2\" is non-unique"))
        #expect(bad.stderr.contains("(29 problems)"))
        let json = try TestSupport.run(clowdr, ["validate", "--json", f + "/tests/validator/invalid.json"])
        #expect(json.status == 2)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["ok"] as? Bool == false)
        #expect((object?["errors"] as? [[String: Any]])?.first?["pointer"] as? String == "/inputs/0")
    }

    @Test("a non-JSON invocation, a missing file, an invalid invocation: exit 2 with the place named")
    func badInput() throws {
        let notJSON = try TestSupport.run(
            clowdr, ["simulate", f + "/examples/example1/example1_docker.json", "-i", f + "/tests/example1/invocation_invalid.json"])
        #expect(notJSON.status == 2)
        #expect(notJSON.stderr.contains("invocation_invalid.json: /: [json.syntax] not valid JSON: line 1, column 1"))
        let missing = try TestSupport.run(clowdr, ["validate", "/no/such/descriptor.json"])
        #expect(missing.status == 2 && missing.stderr.contains("/no/such/descriptor.json"))
        let invalid = try TestSupport.run(
            clowdr, ["simulate", f + "/tests/import/docopt/naval_fate.json", "-i", f + "/tests/import/docopt/nf_invoc_missing_all.json"])
        #expect(invalid.status == 2 && invalid.stderr.contains("invalid invocation"))
    }
}
