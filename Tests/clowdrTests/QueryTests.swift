import Foundation
import TestSupport
import Testing

/// `clowdr query` on an experiment made by `clowdr run`.
@Suite("clowdr query", .serialized, .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"))
struct QueryTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    /// Six tasks holding 10..60 MB (task 5 holds 300 MB), one failing.
    func experiment() throws -> String {
        let dir = try TestSupport.temporaryDirectory("query")
        let d =
            #"{"name":"q","tool-version":"1","description":"d","schema-version":"0.5","command-line":"python3 -c \"import sys,time; b=b'x'*([MB]<<20); time.sleep(0.8); sys.exit([MB]==30)\" [SUB]","inputs":[{"id":"mb","name":"mb","type":"Number","integer":true,"value-key":"[MB]"},{"id":"sub","name":"sub","type":"String","optional":true,"value-key":"[SUB]","command-line-flag":"--sub"}]}"#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"mb":[10,20,30,40,50,300],"sub":"x"}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let run = try TestSupport.run(
            clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "mb", "-j", "2", "-w", dir])
        #expect(run.status == 1, "\(run.stderr)")
        return dir + "/prov"
    }

    func rows(_ tsv: String) -> [[String]] {
        tsv.split(separator: "\n").dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }

    @Test("--top ram orders tasks by peak RAM, with their parameters; --raw gives bytes")
    func topRAM() throws {
        let prov = try experiment()
        let out = try TestSupport.run(clowdr, ["query", "--top", "ram", "-n", "3", "--format", "tsv", "--raw", prov])
        #expect(out.status == 0, "\(out.stderr)")
        let r = rows(out.stdout)
        #expect(r.map { $0[0] } == ["5", "4", "3"])
        #expect(Int64(r[0][5])! > 300 << 20 && Int64(r[1][5])! > Int64(r[2][5])!)
        #expect(r[0][7] == "mb=300")
        let human = try TestSupport.run(clowdr, ["query", "--top", "ram", "-n", "1", "--format", "table", prov])
        #expect(human.stdout.contains("MiB"))
    }

    @Test("--status, --where, --summary, --task and --samples")
    func filters() throws {
        let prov = try experiment()
        #expect(rows(try TestSupport.run(clowdr, ["query", "--status", "failed", prov]).stdout).map { $0[0] } == ["2"])
        #expect(rows(try TestSupport.run(clowdr, ["query", "--where", "mb=40", prov]).stdout).map { $0[0] } == ["3"])
        #expect(rows(try TestSupport.run(clowdr, ["query", "--status", "incomplete", prov]).stdout).isEmpty)
        let summary = try TestSupport.run(clowdr, ["query", "--summary", "--format", "json", prov]).stdout
        #expect(summary.contains(#""what":"tasks succeeded","count":5"#) && summary.contains(#""what":"tasks failed","count":1"#))
        let detail = try TestSupport.run(clowdr, ["query", "--task", "2", "--format", "tsv", prov]).stdout
        #expect(detail.contains("exit\tcode 1") && detail.contains("command_line\tpython3"))
        let samples = rows(try TestSupport.run(clowdr, ["query", "--task", "5", "--samples", "--raw", prov]).stdout)
        #expect(samples.count >= 2, "dense samples over 0.8 s")
        #expect(samples.map { Int64($0[3])! }.max()! > 300 << 20)
    }

    @Test("--sql is read-only over the documented views; every format parses")
    func sqlAndFormats() throws {
        let prov = try experiment()
        let sql = try TestSupport.run(
            clowdr, ["query", "--sql", "SELECT task, max(rss) AS rss FROM samples GROUP BY task ORDER BY rss DESC LIMIT 1", "--format", "csv", prov])
        #expect(sql.stdout.hasPrefix("task,rss\n5,"))
        let write = try TestSupport.run(clowdr, ["query", "--sql", "DELETE FROM events", prov])
        #expect(write.status == 2 && write.stderr.contains("read-only"))
        let json = try TestSupport.run(clowdr, ["query", "--format", "json", prov]).stdout
        #expect((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])?.count == 6)
        let nd = try TestSupport.run(clowdr, ["query", "--format", "ndjson", prov]).stdout
        #expect(try nd.split(separator: "\n").allSatisfy { try JSONSerialization.jsonObject(with: Data($0.utf8)) is [String: Any] })
        #expect(try TestSupport.run(clowdr, ["query", "--top", "ram", "--summary", prov]).status == 2)
    }

    @Test("--outliers finds the task far from the others (robust z-score)")
    func outliers() throws {
        let prov = try experiment()
        let out = rows(try TestSupport.run(clowdr, ["query", "--outliers", "ram", prov]).stdout)
        #expect(out.map { $0[0] } == ["5"])
    }

    @Test("queries work while an experiment runs, without blocking it")
    func whileRunning() throws {
        let dir = try TestSupport.temporaryDirectory("live")
        try
            #"{"name":"q","tool-version":"1","description":"d","schema-version":"0.5","command-line":"sleep [S]","inputs":[{"id":"s","name":"s","type":"Number","value-key":"[S]"}]}"#
            .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"s":[1.5,1.5,1.5]}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: clowdr)
        p.arguments = ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "s", "-j", "2", "-w", dir, "-q"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        var live = try TestSupport.run(clowdr, ["query", "--status", "running", dir + "/prov"])
        for _ in 0..<100 where rows(live.stdout).count < 2 {
            usleep(50_000)
            live = try TestSupport.run(clowdr, ["query", "--status", "running", dir + "/prov"])
        }
        #expect(live.status == 0)
        #expect(rows(live.stdout).count == 2, "\(live.stdout)")
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(rows(try TestSupport.run(clowdr, ["query", "--status", "succeeded", "--all", dir + "/prov"]).stdout).count == 3)
    }

    @Test(
        "export json: the complete record, valid against schema/experiment.schema.json (jsonschema), byte-stable",
        .enabled(if: TestSupport.pythonHas("jsonschema"), "needs jsonschema in .build-venv (make test-deps installs it)"))
    func exportJSON() throws {
        let prov = try experiment()
        let a = prov + "/a.json"
        let b = prov + "/b.json"
        let s = prov + "/s.json"
        #expect(try TestSupport.run(clowdr, ["export", "json", prov, "-o", a]).status == 0)
        #expect(try TestSupport.run(clowdr, ["export", "json", prov, "-o", b]).status == 0)
        #expect(try TestSupport.run(clowdr, ["export", "json", prov, "-o", s, "--samples"]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b)), "the same log gives the same bytes")
        #expect(try FileManager.default.contentsOfDirectory(atPath: prov).allSatisfy { !$0.contains(".tmp-") }, "no temporary file left")
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s))) as! [String: Any]
        let tasks = doc["tasks"] as! [[String: Any]]
        #expect(tasks.count == 6)
        let attempt = (tasks[5]["attempts"] as! [[String: Any]])[0]
        #expect((attempt["peak_rss"] as! Int) > 300 << 20)
        #expect(((attempt["samples"] as! [[Any]]).first?.count ?? 0) == 9)
        let script = """
            import json, sys, jsonschema
            from referencing import Registry, Resource
            base = sys.argv[1]
            schema = json.load(open(base + '/experiment.schema.json'))
            event = json.load(open(base + '/events/experiment_created.schema.json'))
            registry = Registry().with_resource(event['$id'], Resource.from_contents(event))
            V = jsonschema.Draft202012Validator
            V.check_schema(schema)
            v = V(schema, registry=registry, format_checker=V.FORMAT_CHECKER)
            bad = [e.message for f in sys.argv[2:] for e in v.iter_errors(json.load(open(f)))]
            print(len(bad), bad[:3])
            """
        let check = try TestSupport.run(TestSupport.python!, ["-c", script, TestSupport.repositoryRoot + "/schema", a, s])
        #expect(check.stdout.hasPrefix("0 []"), "\(check.stdout) \(check.stderr)")
    }

    @Test(
        "export prov: loads in the prov package with warnings as errors, round-trips, counts match the experiment",
        .enabled(
            if: TestSupport.pythonHas("prov"), "needs Python's prov package in .build-venv (make test-deps installs it)"))
    func exportPROV() throws {
        let dir = try TestSupport.temporaryDirectory("prov")
        let d =
            #"{"name":"p","tool-version":"1","description":"d","schema-version":"0.5","command-line":"cp [IN] [OUT] && test [C] -ne 3","inputs":[{"id":"in","name":"in","type":"File","value-key":"[IN]"},{"id":"c","name":"c","type":"Number","integer":true,"value-key":"[C]"}],"output-files":[{"id":"out","name":"out","value-key":"[OUT]","path-template":"out_[C].txt"}]}"#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try "data".write(toFile: dir + "/in.txt", atomically: true, encoding: .utf8)
        try #"{"in":"in.txt","c":[1,2,3]}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        _ = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "c", "-w", dir])
        _ = try TestSupport.run(clowdr, ["rerun", "failed", dir + "/prov", "-w", dir])
        #expect(try TestSupport.run(clowdr, ["export", "prov", dir + "/prov", "-o", dir + "/p.json"]).status == 0)
        #expect(try TestSupport.run(clowdr, ["export", "prov", dir + "/prov", "--format", "provn", "-o", dir + "/p.provn"]).status == 0)
        let script = """
            import sys, warnings
            warnings.simplefilter('error')
            from collections import Counter
            from prov.model import ProvDocument
            d = ProvDocument.deserialize(sys.argv[1], format='json')
            again = ProvDocument.deserialize(content=d.serialize(format='json'), format='json')
            c = Counter(type(r).__name__ for r in d.get_records())
            ours = [l for l in open(sys.argv[2]).read().splitlines() if l.startswith('  ') and '(' in l]
            theirs = [l for l in d.get_provn().splitlines() if l.startswith('  ') and '(' in l]
            print(d == again, c['ProvActivity'], c['ProvGeneration'], c['ProvCommunication'], c['ProvAgent'], len(ours) == len(theirs))
            """
        let out = try TestSupport.run(TestSupport.python!, ["-c", script, dir + "/p.json", dir + "/p.provn"])
        // 4 attempts (3 + the rerun of the failing one), 4 outputs (each attempt copies its file before the check), 1 rerun, 2 agents.
        #expect(out.stdout == "True 4 4 1 2 True\n", "\(out.stdout) \(out.stderr)")
        // PROV-N read back (our parser into prov's model) equals the PROV-JSON as prov loads it.
        let roundTrip = try TestSupport.run(
            TestSupport.python!, [TestSupport.repositoryRoot + "/scripts/provn_roundtrip.py", dir + "/p.json", dir + "/p.provn"])
        #expect(roundTrip.status == 0 && roundTrip.stdout.hasPrefix("equal "), "\(roundTrip.stdout) \(roundTrip.stderr)")
    }

    @Test("archive: a .tar.gz with a consistent log, logs, exports and MANIFEST; verify; query on the unpacked copy; tampering found")
    func archive() throws {
        let prov = try experiment()
        let into = prov + "/../archives"
        let made = try TestSupport.run(clowdr, ["archive", prov, "--into", into])
        #expect(made.status == 0, "\(made.stderr)")
        let file = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(file.hasSuffix(".tar.gz") && FileManager.default.fileExists(atPath: file))
        #expect(try FileManager.default.contentsOfDirectory(atPath: into).count == 1, "no temporary file left")
        let verify = try TestSupport.run(clowdr, ["archive", "--verify", file])
        #expect(verify.status == 0 && verify.stdout.contains("every sha256 matches MANIFEST"), "\(verify.stdout)")
        // Without --into, into the current folder (as exports are).
        let here = prov + "/../here"
        try FileManager.default.createDirectory(atPath: here, withIntermediateDirectories: true)
        let plain = try TestSupport.run("/bin/sh", ["-c", "cd '\(here)' && '\(clowdr)' archive '\(prov)'"])
        #expect(plain.status == 0 && plain.stdout.hasPrefix("./clowdr-") && plain.stdout.contains(".tar.gz"), "\(plain.stdout) \(plain.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: here).count == 1)
        // GNU tar reads it, sha256sum agrees with MANIFEST, and the unpacked copy answers queries.
        let unpacked = prov + "/../unpacked"
        try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
        #expect(try TestSupport.run("/bin/tar", ["-xzf", file, "-C", unpacked]).status == 0)
        let root = unpacked + "/" + (try FileManager.default.contentsOfDirectory(atPath: unpacked).first!)
        #expect(try TestSupport.run("/bin/sh", ["-c", "cd '\(root)' && sha256sum -c --quiet MANIFEST"]).status == 0)
        // Invocations are archived; these tasks print nothing, so their streams left no files to archive. The archive
        // is an RO-Crate: its metadata lists every member but itself.
        let invocations = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/invocations.json"))) as? [String: Any]
        #expect(invocations?["5"] != nil && invocations?.count == 6)
        #expect(!FileManager.default.fileExists(atPath: root + "/tasks/5.1.stderr"))
        let metadata = try String(contentsOfFile: root + "/ro-crate-metadata.json", encoding: .utf8)
        for member in ["clowdr.db", "descriptor.json", "invocations.json", "MANIFEST", ".html"] { #expect(metadata.contains(member), "\(member)") }
        let top = try TestSupport.run(clowdr, ["query", "--top", "ram", "-n", "1", root])
        #expect(rows(top.stdout).first?.first == "5")
        // A member changed after the fact is reported.
        try "tampered".write(toFile: root + "/descriptor.json", atomically: true, encoding: .utf8)
        let repacked = prov + "/../tampered.tar.gz"
        #expect(try TestSupport.run("/bin/sh", ["-c", "cd '\(unpacked)' && tar -czf '\(repacked)' *"]).status == 0)
        let bad = try TestSupport.run(clowdr, ["archive", "--verify", repacked])
        #expect(bad.status == 1 && bad.stdout.contains("descriptor.json: sha256"), "\(bad.stdout)")
    }
}
