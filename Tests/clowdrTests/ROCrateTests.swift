import Export
import Foundation
import TestSupport
import Testing

/// `clowdr export rocrate`: a Workflow Run RO-Crate (Provenance Run Crate 0.5) of an experiment made by `clowdr run`,
/// read back as JSON, as a zip, and by the community's tools (roc-validator, runcrate, ro-crate-py).
@Suite("clowdr export rocrate", .serialized, .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"))
struct ROCrateTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    /// The Python of `.build-rocrate`, the virtual environment `make test-deps` makes with roc-validator 0.13.0,
    /// runcrate 0.6.2 and rocrate 0.16.0; nil when absent.
    static let rocratePython: String? = {
        let path = TestSupport.repositoryRoot + "/.build-rocrate/bin/python"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    /// Three tasks copying `in.txt` to `out_<c>.txt`, the third failing its check (c = 3), then rerun (and failing
    /// again): four attempts, one of them a rerun. Returns the experiment's folder.
    func experiment() throws -> (dir: String, experiment: String) {
        let dir = try TestSupport.temporaryDirectory("rocrate")
        let d =
            #"{"name":"copier","tool-version":"2.1","description":"copies a file","schema-version":"0.5","command-line":"cp [IN] [OUT] && test [C] -ne 3 || { echo count [C] refused >&2; exit 1; }","inputs":[{"id":"in","name":"input file","type":"File","value-key":"[IN]"},{"id":"c","name":"count","type":"Number","integer":true,"value-key":"[C]"}],"output-files":[{"id":"out","name":"copy","value-key":"[OUT]","path-template":"out_[C].txt"}]}"#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try "data\n".write(toFile: dir + "/in.txt", atomically: true, encoding: .utf8)
        try #"{"in":"in.txt","c":[1,2,3]}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let run = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "c", "-w", dir])
        #expect(run.status == 1, "\(run.stderr)")
        _ = try TestSupport.run(clowdr, ["rerun", "failed", dir + "/prov", "-w", dir])
        let experiment = dir + "/prov/" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").first { !$0.hasPrefix(".") }!)
        return (dir, experiment)
    }

    /// The crate's entities by id.
    func graph(_ crate: String) throws -> [String: [String: Any]] {
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: crate + "/ro-crate-metadata.json"))) as! [String: Any]
        var byID: [String: [String: Any]] = [:]
        for e in doc["@graph"] as! [[String: Any]] { byID[e["@id"] as! String] = e }
        return byID
    }

    func ids(_ value: Any?) -> [String] {
        if let one = value as? [String: Any] { return [one["@id"] as! String] }
        return (value as? [[String: Any]])?.map { $0["@id"] as! String } ?? []
    }

    func sha256(_ path: String) throws -> String {
        String(try TestSupport.run("/usr/bin/sha256sum", [path]).stdout.prefix(64))
    }

    @Test("each attempt a CreateAction: inputs, outputs with sha256, status and error, usage with units, the rerun linked; files of the crate")
    func entities() throws {
        let (dir, experiment) = try experiment()
        let crate = dir + "/crate"
        let made = try TestSupport.run(clowdr, ["export", "rocrate", experiment, "-o", crate, "--license", "CC-BY-4.0"])
        #expect(made.status == 0, "\(made.stderr)")
        for file in ["ro-crate-metadata.json", "descriptor.json", "README.md", "clowdr.db", "invocations.json", "tasks/2.1.stderr"] {
            #expect(FileManager.default.fileExists(atPath: crate + "/" + file), "\(file)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: crate)
        #expect(
            names.contains { $0.hasSuffix(".prov.json") }
                && names.contains { $0.hasSuffix(".json") && !$0.hasSuffix(".prov.json") && $0.hasPrefix("clowdr-") })
        #expect(!names.contains { $0.hasSuffix("-wal") || $0.hasSuffix("-shm") }, "\(names)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).allSatisfy { !$0.contains(".staging-") && !$0.contains(".tmp-") })

        let g = try graph(crate)
        let root = g["./"]!
        #expect(ids(root["conformsTo"]).contains("https://w3id.org/ro/wfrun/provenance/0.5"))
        #expect(ids(root["mainEntity"]) == ["descriptor.json"])
        #expect(ids(root["license"]) == ["https://spdx.org/licenses/CC-BY-4.0"])
        let workflow = g["descriptor.json"]!
        #expect((workflow["@type"] as! [String]) == ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"])
        let tool = g[ids(workflow["hasPart"]).first!]!
        #expect(tool["name"] as? String == "copier" && tool["version"] as? String == "2.1")

        // Task 0, attempt 1: succeeded; its input file (declared and observed, with sha256), its value, its output.
        let first = g["#attempt/0/1"]!
        #expect(first["actionStatus"] as? String == "http://schema.org/CompletedActionStatus" && first["error"] == nil)
        #expect(ids(first["instrument"]) == [tool["@id"] as! String] && ids(first["agent"]).count == 1)
        let input = "file://" + dir + "/in.txt"
        #expect(ids(first["object"]).contains(input), "\(ids(first["object"]))")
        #expect(g[input]?["sha256"] as? String == (try sha256(dir + "/in.txt")))
        #expect(ids(g[input]?["exampleOfWork"]) == ["descriptor.json#input/in"])
        #expect(g["#value/0/c"]?["value"] as? String == "1")
        let output = "file://" + dir + "/out_1.txt"
        #expect(ids(first["result"]).contains(output))
        #expect(g[output]?["sha256"] as? String == (try sha256(dir + "/out_1.txt")))
        let usage = ids(first["resourceUsage"]).map { g[$0]! }
        #expect(usage.count == 5 && usage.allSatisfy { $0["propertyID"] is String && $0["unitCode"] is String && $0["value"] is NSNumber })
        #expect(first["startTime"] is String && (first["endTime"] as? String)?.hasSuffix("+00:00") == true)
        #expect(!ids(first["environment"]).isEmpty)

        // Task 2 failed twice: its second attempt is a rerun informed by the first, both with their reason.
        let rerun = g["#attempt/2/2"]!
        #expect(rerun["actionStatus"] as? String == "http://schema.org/FailedActionStatus")
        #expect((rerun["error"] as? String)?.isEmpty == false)
        #expect(ids(rerun["wasInformedBy"]) == ["#attempt/2/1"])
        #expect(g["#attempt/2/1"]!["wasInformedBy"] == nil)
        #expect(ids(g["#attempt/2/1"]!["result"]).contains("tasks/2.1.stderr"))  // what a failed attempt left: its stderr
        #expect(try String(contentsOfFile: crate + "/tasks/2.1.stderr", encoding: .utf8) == "count 3 refused\n")

        // Four attempts, each orchestrated by a ControlAction of the step; the experiment a failed run of the workflow.
        let actions = g.values.filter { $0["@type"] as? String == "CreateAction" }
        #expect(actions.count == 5)  // four attempts and the run
        #expect(Set(ids(root["mentions"])) == Set(actions.map { $0["@id"] as! String }))
        let organize = g["#organize"]!
        #expect(ids(organize["object"]).count == 4 && ids(organize["result"]) == ["#run"])
        #expect(ids(organize["object"]).allSatisfy { ids(g[$0]!["instrument"]) == ids(workflow["step"]) })
        #expect(g["#run"]!["error"] as? String == "1 of 3 tasks failed")
        // Every data entity is a part of the crate.
        let files = g.values.filter { ($0["@type"] as? String) == "File" }.map { $0["@id"] as! String }
        #expect(Set(files).isSubset(of: Set(ids(root["hasPart"]))))

        // The same log gives the same crate, byte for byte (the crate there is replaced).
        let written = try Data(contentsOf: URL(fileURLWithPath: crate + "/ro-crate-metadata.json"))
        #expect(try TestSupport.run(clowdr, ["export", "rocrate", experiment, "-o", crate, "--license", "CC-BY-4.0"]).status == 0)
        #expect(try graph(crate).count == g.count)
        #expect(try Data(contentsOf: URL(fileURLWithPath: crate + "/ro-crate-metadata.json")) == written)
    }

    @Test("as a .zip (what git and Zenodo take), --with-data copies the outputs in; bad paths are refused")
    func zip() throws {
        let (dir, experiment) = try experiment()
        let folder = dir + "/crate"
        let zip = dir + "/crate.zip"
        #expect(try TestSupport.run(clowdr, ["export", "rocrate", experiment, "-o", folder, "--with-data"]).status == 0)
        let made = try TestSupport.run(clowdr, ["export", "rocrate", experiment, "-o", zip, "--with-data"])
        #expect(made.status == 0 && made.stdout == zip + "\n", "\(made.stdout) \(made.stderr)")
        #expect(!made.stderr.contains("\u{1B}"), "no progress line when standard error is not a terminal")
        // In-process, the steps as they start: seven into a folder, the zip's the eighth.
        for (output, steps) in [(dir + "/steps", Array(1...7)), (dir + "/steps.zip", Array(1...8))] {
            var told: [ROCrateExport.Step] = []
            try ROCrateExport.write(experimentDirectory: experiment, to: output, options: ROCrateExport.Options()) { told.append($0) }
            #expect(told.map(\.number) == steps && told.allSatisfy { !$0.what.isEmpty && $0.count == steps.count }, "\(told)")
        }
        var archived: [ROCrateExport.Step] = []
        _ = try Archive.create(experimentDirectory: experiment, into: dir + "/archived") { archived.append($0) }
        #expect(archived.map(\.number) == Array(1...10) && archived.last?.what == "the tar.gz", "\(archived)")
        // Python's zipfile reads every member (CRC checked) and the metadata is the folder's, byte for byte.
        let script = """
            import sys, zipfile
            z = zipfile.ZipFile(sys.argv[1])
            print(z.testzip(), z.namelist()[0], z.read('ro-crate-metadata.json') == open(sys.argv[2], 'rb').read())
            """
        let read = try TestSupport.run("/usr/bin/python3", ["-c", script, zip, folder + "/ro-crate-metadata.json"])
        #expect(read.stdout == "None ro-crate-metadata.json True\n", "\(read.stdout) \(read.stderr)")
        let copied = "data" + dir + "/out_1.txt"
        #expect(FileManager.default.fileExists(atPath: folder + "/" + copied))
        #expect(ids(try graph(folder)["#attempt/0/1"]!["result"]).contains(copied))
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: dir).contains { $0.contains(".staging-") || $0.contains(".tmp-") }))

        try FileManager.default.createDirectory(atPath: dir + "/notacrate", withIntermediateDirectories: true)
        let refused = try TestSupport.run(clowdr, ["export", "rocrate", experiment, "-o", dir + "/notacrate"])
        #expect(refused.status != 0 && refused.stderr.contains("is not an RO-Crate"), "\(refused.stderr)")
        let stream = try TestSupport.run(clowdr, ["export", "rocrate", experiment, "-o", "-"])
        #expect(stream.status == 2 && stream.stderr.contains("not a stream"), "\(stream.stderr)")
    }

    /// What `scripts/rocrate_check.py` said: the validator's issues, runcrate's report, ro-crate-py's load.
    func check(_ crate: String) throws -> [String: Any] {
        let out = try TestSupport.run(Self.rocratePython!, [TestSupport.repositoryRoot + "/scripts/rocrate_check.py", crate])
        let report = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]
        return try #require(report, "\(out.stdout.suffix(2000)) \(out.stderr.suffix(2000))")
    }

    @Test(
        "roc-validator (provenance-run-crate-0.5, RECOMMENDED, offline on the context rocrate ships), runcrate report and ro-crate-py read it",
        .enabled(if: ROCrateTests.rocratePython != nil, "needs .build-rocrate (make test-deps installs roc-validator, runcrate and rocrate)"))
    func communityTools() throws {
        let (dir, experiment) = try experiment()
        let crate = dir + "/crate"
        let args = [
            "export", "rocrate", experiment, "-o", crate, "--license", "CC-BY-4.0", "--publisher", "Example Lab", "--publisher-url",
            "https://lab.example.org",
        ]
        #expect(try TestSupport.run(clowdr, args).status == 0)
        let report = try check(crate)
        // The one issue left is the profile's own conflict: Workflow RO-Crate REQUIRES the main workflow to be a File
        // of the crate (a relative id), the Process Run Crate RECOMMENDS every SoftwareSourceCode and
        // ComputationalWorkflow id to be an absolute http(s) URI: the validator reports it once per class, on the
        // class (docs/provenance.md).
        let issues = (report["validator"] as! [String: Any])["issues"] as! [[String: Any]]
        let other = issues.filter {
            !($0["check"] as? String == "process-run-crate-0.5_5.1"
                && ["http://schema.org/SoftwareSourceCode", "https://bioschemas.org/ComputationalWorkflow"].contains($0["entity"] as? String))
        }
        #expect(other.isEmpty, "\(other.prefix(10))")
        #expect(issues.count <= 2)
        let runcrate = report["runcrate"] as! [String: Any]
        let text = runcrate["text"] as? String ?? ""
        #expect(runcrate["exit"] as? Int == 0, "\(runcrate)")
        for attempt in ["#attempt/0/1", "#attempt/1/1", "#attempt/2/1", "#attempt/2/2", "#run"] {
            #expect(text.contains("action: \(attempt)"), "\(text)")
        }
        #expect(text.contains("step: descriptor.json#step"))
        let loaded = report["rocrate"] as! [String: Any]
        #expect(loaded["loaded"] as? Bool == true, "\(loaded)")

        // The zip: nothing REQUIRED; what it references outside itself (the input, observed files) is not in it, which
        // the validator notes as unavailable; nothing else.
        let zip = dir + "/crate.zip"
        #expect(try TestSupport.run(clowdr, args.map { $0 == crate ? zip : $0 }).status == 0)
        let zipped = ((try check(zip))["validator"] as! [String: Any])["issues"] as! [[String: Any]]
        #expect(zipped.allSatisfy { $0["severity"] as? String == "RECOMMENDED" }, "\(zipped.prefix(5))")
        let unexpected = zipped.filter { i in
            let check = i["check"] as? String
            return check != "process-run-crate-0.5_5.1" && !(check == "ro-crate-1.1_25.1" && (i["message"] as? String ?? "").contains("file:///"))
        }
        #expect(unexpected.isEmpty, "\(unexpected.prefix(5))")
    }
}
