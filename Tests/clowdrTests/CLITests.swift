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

    @Test("status --watch into a pipe writes no terminal escapes: each refresh after a line with its time")
    func watchIntoAPipe() throws {
        let out = try TestSupport.run(clowdr, ["status", "--watch", try experiment()])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(!out.stdout.contains("\u{1B}"), "\(out.stdout.debugDescription)")
        #expect(out.stdout.hasPrefix("-- ") && out.stdout.contains("2 tasks"), "\(out.stdout)")
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

/// The command line as a new user meets it: one way to name an experiment, coded errors, options that cannot apply.
@Suite("clowdr command line, for a new user", .serialized, .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"))
struct NewUserTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    /// A small experiment of twelve tasks (task 1 failing) under `dir/provdir`, run from `dir`.
    func experiment() throws -> String {
        let dir = try TestSupport.temporaryDirectory("newuser")
        let d =
            #"{"name":"n","tool-version":"1","description":"d","schema-version":"0.5","command-line":"exit [K]","inputs":[{"id":"k","name":"k","type":"Number","integer":true,"value-key":"[K]"}]}"#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"k":[0,3,0,0,0,0,0,0,0,0,0,0]}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        _ = try run(["run", "d.json", "i.json", "--sweep", "k"], in: dir)
        return dir
    }

    func run(_ arguments: [String], in dir: String) throws -> TestSupport.Output {
        try TestSupport.run("/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", dir, clowdr] + arguments)
    }

    @Test("every command that reads an experiment takes a PROVDIR, an experiment folder or its clowdr.db, default ./provdir")
    func experimentArgument() throws {
        let dir = try experiment()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/provdir").first!
        for command in [["status"], ["query"], ["fsck"], ["events", "--no-samples"], ["export", "json", "-o", "-"], ["query", "--summary"]] {
            for target in [[], ["provdir"], ["provdir/" + exp], ["provdir/\(exp)/clowdr.db"]] {
                let out = try run(command + target, in: dir)
                #expect(out.status == 0, "\(command + target): \(out.status) \(out.stderr)")
            }
        }
        // A folder that merely holds some folder with a database is no experiment.
        try FileManager.default.createDirectory(atPath: dir + "/other/backup", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(dir)/provdir/\(exp)/clowdr.db", toPath: dir + "/other/backup/clowdr.db")
        let other = try run(["query", "other"], in: dir)
        #expect(other.status == 2 && other.stderr.hasPrefix("clowdr: error[usage.invalid]: other: no experiment there"), "\(other.stderr)")
    }

    @Test("errors are coded, with one prefix; --json puts the code on stdout; runtime conflicts exit 3")
    func codedErrors() throws {
        let dir = try experiment()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = try run(["status", "--json", "nowhere"], in: dir)
        #expect(missing.status == 2 && missing.stderr.hasPrefix("clowdr: error[usage.invalid]: nowhere: no experiment there"))
        let object = try JSONSerialization.jsonObject(with: Data(missing.stdout.utf8)) as? [String: [String: Any]]
        #expect(object?["error"]?["code"] as? String == "usage.invalid", "\(missing.stdout)")
        let badSweep = try run(["run", "d.json", "i.json", "--sweep", "nope"], in: dir)
        #expect(badSweep.status == 2 && badSweep.stderr.hasPrefix("clowdr: error[plan.sweep_unknown_input]: --sweep nope"), "\(badSweep.stderr)")
        let badDescriptor = try run(["run", "i.json", "i.json"], in: dir)
        #expect(
            badDescriptor.status == 2 && badDescriptor.stderr.hasPrefix("clowdr: error[boutiques.invalid_descriptor]: "), "\(badDescriptor.stderr)")
        // Another controller alive on the experiment: a conflict at run time, not a usage error.
        try "{\"k\":[30]}".write(toFile: dir + "/long.json", atomically: true, encoding: .utf8)
        let d =
            #"{"name":"s","tool-version":"1","description":"d","schema-version":"0.5","command-line":"sleep [K]","inputs":[{"id":"k","name":"k","type":"Number","integer":true,"value-key":"[K]"}]}"#
        try d.write(toFile: dir + "/s.json", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: clowdr)
        p.arguments = ["run", dir + "/s.json", dir + "/long.json", "--sweep", "k", "--provdir", dir + "/busy", "-q"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        defer {
            p.interrupt()
            p.waitUntilExit()
        }
        var conflict = try run(["rerun", "all", "busy"], in: dir)
        for _ in 0..<100 where conflict.stderr.contains("no experiment there") || conflict.status == 0 {
            usleep(50_000)
            conflict = try run(["rerun", "all", "busy"], in: dir)
        }
        // clowdr could not do what was asked (3), which is not a task failing (1).
        #expect(conflict.status == 3 && conflict.stderr.hasPrefix("clowdr: error[run.controller_alive]: "), "\(conflict.stderr)")
    }

    @Test("options that cannot apply say so; run takes -b and -d; every --help is clean")
    func options() throws {
        let dir = try experiment()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for option in [["-v", "/a:/b"], ["--simg", "x.simg"], ["--user"]] {
            let out = try run(["run", "d.json", "i.json", "--sweep", "k"] + option, in: dir)
            #expect(out.status == 2 && out.stderr.contains("has no container image"), "\(option): \(out.stderr)")
        }
        let dev = try run(["run", "d.json", "i.json", "--sweep", "k", "-d"], in: dir)
        #expect(dev.stdout.contains("1 attempts: 1 succeeded"), "\(dev.stdout) \(dev.stderr)")
        let bids = try run(["run", "d.json", "i.json", "-b"], in: dir)
        #expect(bids.status == 2 && bids.stderr.contains("--bids"), "-b is --bids: \(bids.stderr)")
        let subcommands = [
            "run", "rerun", "status", "query", "export", "export json", "export prov", "export html", "share", "archive", "local", "task", "validate",
            "simulate", "fsck", "upgrade", "ingest", "events",
        ]
        for sub in subcommands {
            let help = try run(sub.split(separator: " ").map(String.init) + ["--help"], in: dir)
            #expect(help.status == 0 && !help.stdout.contains("\\\n") && !help.stdout.contains(" \\ "), "\(sub) --help:\n\(help.stdout)")
        }
        let share = try run(["share", "--help"], in: dir).stdout
        #expect(share.contains("-V, --verbose") && share.contains("-d, --debug"))
    }

    @Test("tables use human units: --summary and --task; raw numbers with --raw")
    func humanUnits() throws {
        let dir = try experiment()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let summary = try run(["query", "--summary", "--format", "table"], in: dir).stdout
        #expect(summary.contains(" s ") || summary.contains(" s\n"), "\(summary)")
        #expect(summary.contains("MiB") || summary.contains("KiB"), "\(summary)")
        let task = try run(["query", "--task", "1", "--format", "table"], in: dir).stdout
        #expect(task.contains("KiB") || task.contains("MiB"), "\(task)")
        let raw = try run(["query", "--task", "1", "--format", "tsv"], in: dir).stdout
        #expect(raw.split(separator: "\n").contains { $0.hasPrefix("1\tpeak_rss_bytes\t") && Int($0.split(separator: "\t")[2]) != nil }, "\(raw)")
        let sql = try run(["query", "--sql", "SELECT task FROM tasks", "--format", "tsv"], in: dir).stdout
        #expect(sql == "task\n" + (0..<12).map { "\($0)\n" }.joined(), "tasks in number order (0, 1, 2, ..., 10, 11)")
    }
}

/// What a new user meets first: the output says what it means, and one input gets one verdict everywhere.
@Suite("clowdr's words", .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"))
struct WordingTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    @Test("validate keeps bosh's verdict (OK) and warns of a path-template key no input has, naming the file and JSON pointer")
    func pathTemplateWarning() throws {
        let dir = try TestSupport.temporaryDirectory("warn")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try
            #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"echo [P] > [OUT]","inputs":[{"id":"p","name":"p","type":"String","value-key":"[PARTICIPANT_LABEL]"}],"output-files":[{"id":"out","name":"out","value-key":"[OUT]","path-template":"[OUT_DIR]/sub-[PARTICIPANT_LABEL].json"}]}"#
            .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        let out = try TestSupport.run(clowdr, ["validate", dir + "/d.json"])
        #expect(out.status == 0 && out.stdout == "OK\n", "\(out.stdout) \(out.stderr)")
        #expect(
            out.stderr.contains("warning: \(dir)/d.json: /output-files/0/path-template: '[OUT_DIR]/sub-[PARTICIPANT_LABEL].json' names [OUT_DIR]"),
            "\(out.stderr)")
        #expect(!out.stderr.contains("names [PARTICIPANT_LABEL]"))
    }

    @Test("run --bids with participant_label as a bare string for a list input: refused as validate -i refuses it, same words, nothing made")
    func bidsLabelType() throws {
        let dir = try TestSupport.temporaryDirectory("bidslabel")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = TestSupport.repositoryRoot + "/examples/bids-demo"
        try
            #"{"app":"\#(root)/demo_app.py","bids_dir":"\#(root)/dataset","output_dir":"\#(dir)/out","analysis_level":"participant","participant_label":"01"}"#
            .write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let validate = try TestSupport.run(clowdr, ["validate", root + "/descriptor.json", "-i", dir + "/i.json"])
        let run = try TestSupport.run(clowdr, ["run", root + "/descriptor.json", dir + "/i.json", "--bids", "--provdir", dir + "/prov"])
        #expect(validate.status == 2 && run.status == 2, "\(validate.stderr) \(run.stderr)")
        let words = "\(dir)/i.json: /participant_label: [invocation.type]"
        #expect(validate.stderr.contains(words) && run.stderr.contains(words), "\(validate.stderr)\n\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/prov"))
    }

    @Test("query --task as a table: units in the value column only; --efficiency piped keeps its summary (on stderr)")
    func queryUnits() throws {
        let dir = try TestSupport.temporaryDirectory("units")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try
            #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"exit [K]","inputs":[{"id":"k","name":"k","type":"Number","integer":true,"value-key":"[K]"}]}"#
            .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"k":[0,3]}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        _ = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--provdir", dir + "/prov"])
        let detail = try TestSupport.run(clowdr, ["query", "--task", "1", "--format", "table", dir + "/prov"]).stdout
        let peak = detail.split(separator: "\n").first { $0.contains("peak_rss_bytes") }.map(String.init) ?? ""
        #expect(peak.hasPrefix("1 ") && !peak.contains(" B ") && peak.hasSuffix("iB"), "\(detail)")
        #expect(detail.contains("failure") && detail.contains("exit 3"), "\(detail)")
        #expect(detail.contains("figures_from") && detail.contains("exit (the worker's exact totals)"), "\(detail)")
        let efficiency = try TestSupport.run(clowdr, ["query", "--efficiency", dir + "/prov"])
        #expect(efficiency.stdout.hasPrefix("task\t") && !efficiency.stdout.contains("summary"), "\(efficiency.stdout)")
        #expect(!efficiency.stderr.isEmpty, "the summary line, on stderr when piped: \(efficiency.stderr)")
        let status = try TestSupport.run(clowdr, ["status", dir + "/prov"]).stdout
        let verbose = try TestSupport.run(clowdr, ["rerun", "failed", dir + "/prov", "-V"]).stdout
        #expect(status.contains("failed: task 1 (k=3) attempt 1: exit 3"), "\(status)")
        #expect(verbose.contains("task 1 (k=3) attempt 2: failed: exit 3"), "\(verbose)")
    }
}

/// `--json` on the summaries: standard output is one JSON object and nothing else, whatever the outcome.
@Suite("--json summaries", .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"))
struct JSONSummaryTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    func object(_ out: TestSupport.Output) throws -> [String: Any] {
        let lines = out.stdout.split(separator: "\n")
        #expect(lines.count == 1, "one line on stdout: \(out.stdout)")
        return try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], "\(out.stdout) \(out.stderr)")
    }

    @Test("run, rerun, watch and archive (and --verify) with --json: the summary alone on stdout; the exit status unchanged")
    func summaries() throws {
        let dir = try TestSupport.temporaryDirectory("jsonsummary")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try
            #"{"name":"j","tool-version":"1","description":"d","schema-version":"0.5","command-line":"echo [K]; exit [K]","inputs":[{"id":"k","name":"k","type":"Number","integer":true,"value-key":"[K]"}]}"#
            .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"k": [0, 3]}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let run = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/i.json", "--sweep", "k", "--provdir", dir + "/prov", "--json", "-V"])
        #expect(run.status == 1)
        let summary = try object(run)
        #expect(summary["tasks"] as? Int == 2 && summary["launched"] as? Int == 2 && summary["all_succeeded"] as? Bool == false)
        #expect((summary["attempts"] as? [String: Int]) == ["succeeded": 1, "failed": 1], "\(summary)")
        let experiment = try #require(summary["directory"] as? String)
        #expect(FileManager.default.fileExists(atPath: try #require(summary["log"] as? String)))

        let rerun = try TestSupport.run(clowdr, ["rerun", "failed", experiment, "--json"])
        #expect(rerun.status == 1)
        let again = try object(rerun)
        #expect(again["rerun"] as? String == "failed" && again["launched"] as? Int == 1 && (again["attempts"] as? [String: Int]) == ["failed": 1])

        // A local experiment has nothing to follow: watch says so, as the error object (watch --json on Slurm: SlurmTests).
        let watch = try TestSupport.run(clowdr, ["watch", experiment, "--json"])
        let refused = try object(watch)["error"] as? [String: Any]
        #expect(watch.status == 2 && refused?["code"] as? String == "watch.local_experiment", "\(watch.stdout)")

        let archive = try TestSupport.run(clowdr, ["archive", experiment, "--into", dir + "/archives", "--json"])
        #expect(archive.status == 0, "\(archive.stderr)")
        let path = try #require(try object(archive)["archive"] as? String)
        let verified = try TestSupport.run(clowdr, ["archive", "--verify", path, "--json"])
        let found = try object(verified)
        #expect(verified.status == 0 && found["ok"] as? Bool == true && (found["members"] as? Int ?? 0) > 5, "\(found)")

        // An error with --json: the error object alone.
        let missing = try TestSupport.run(clowdr, ["rerun", "failed", dir + "/nowhere", "--json"])
        let error = try object(missing)["error"]
        #expect(missing.status == 2 && error != nil, "\(missing.stdout) \(missing.stderr)")
    }
}
