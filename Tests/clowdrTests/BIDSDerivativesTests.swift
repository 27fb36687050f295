import Foundation
import TestSupport
import Testing

/// A BIDS run's derivatives say what made them: `dataset_description.json` made or merged when the run ends, checked
/// with the BIDS validator (bids-validator-deno); `clowdr archive` into them goes to their `code/clowdr/`.
@Suite("BIDS derivatives", .serialized, .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"))
struct BIDSDerivativesTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    static let validator: String? = {
        let path = TestSupport.repositoryRoot + "/.build-rocrate/bin/bids-validator-deno"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    /// A BIDS app in shell: for one participant and session, a `_beh.tsv` derivative and its sidecar; like fMRIPrep,
    /// it writes its own dataset_description.json (its name, version and CodeURL, and a key of its own).
    static let descriptor = #"""
        {"name": "shapp", "tool-version": "2.0", "description": "d", "schema-version": "0.5",
         "command-line": "sh -c 'd=[OUT]/sub-$1/ses-$2/beh; mkdir -p $d && printf \"n\\tv\\n1\\t2\\n\" > $d/sub-$1_ses-$2_task-reaction_desc-x_beh.tsv && printf \"{\\\"Description\\\": \\\"x\\\", \\\"n\\\": {\\\"Description\\\": \\\"n\\\"}, \\\"v\\\": {\\\"Description\\\": \\\"v\\\"}}\" > $d/sub-$1_ses-$2_task-reaction_desc-x_beh.json && [ -f [OUT]/dataset_description.json ] || printf \"{\\\"Name\\\": \\\"shapp output\\\", \\\"BIDSVersion\\\": \\\"1.9.0\\\", \\\"Acknowledgements\\\": \\\"ours\\\", \\\"GeneratedBy\\\": [{\\\"Name\\\": \\\"shapp\\\", \\\"Version\\\": \\\"2.0\\\", \\\"CodeURL\\\": \\\"https://example.org/shapp\\\"}]}\" > [OUT]/dataset_description.json' app [P] [S] [BIDS]",
         "inputs": [
          {"id": "bids_dir", "name": "BIDS dataset", "type": "File", "value-key": "[BIDS]"},
          {"id": "output_dir", "name": "out", "type": "String", "value-key": "[OUT]"},
          {"id": "participant_label", "name": "p", "type": "String", "list": true, "value-key": "[P]"},
          {"id": "session_label", "name": "s", "type": "String", "list": true, "optional": true, "value-key": "[S]"}],
         "output-files": [{"id": "stats", "name": "stats",
          "path-template": "[OUT]/sub-[P]/ses-[S]/beh/sub-[P]_ses-[S]_task-reaction_desc-x_beh.tsv"}]}
        """#

    /// A copy of the demo's raw dataset (8 participants, 2 sessions), with a DOI in its description when asked.
    func dataset(doi: Bool) throws -> String {
        let dir = try TestSupport.temporaryDirectory("bidsderiv")
        _ = try TestSupport.run("/bin/cp", ["-r", TestSupport.repositoryRoot + "/examples/bids-demo/dataset", dir + "/raw"])
        if doi {
            try #"{"Name": "raw", "BIDSVersion": "1.8.0", "DatasetType": "raw", "DatasetDOI": "doi:10.18112/openneuro.ds000001.v1.0.0"}"#
                .write(toFile: dir + "/raw/dataset_description.json", atomically: true, encoding: .utf8)
        }
        try Self.descriptor.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"bids_dir": "raw", "output_dir": "derivatives/shapp"}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        return dir
    }

    func run(_ dir: String, _ extra: [String] = []) throws -> TestSupport.Output {
        try TestSupport.run("/bin/sh", ["-c", "cd '\(dir)' && '\(clowdr)' run d.json i.json --bids --provdir prov " + extra.joined(separator: " ")])
    }

    func description(_ dir: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/derivatives/shapp/dataset_description.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// The BIDS validator's errors on `folder` (its warnings left out).
    func validatorErrors(_ folder: String) throws -> [[String: Any]] {
        let checked = try TestSupport.run(Self.validator!, [folder, "--format", "json"])
        let report = try JSONSerialization.jsonObject(with: Data(checked.stdout.utf8)) as? [String: Any]
        let issues = try #require(
            (report?["issues"] as? [String: Any])?["issues"] as? [[String: Any]], "\(checked.stdout.prefix(500)) \(checked.stderr.prefix(500))")
        let errors = issues.filter { $0["severity"] as? String == "error" }
        #expect(errors.isEmpty, "\(errors)")
        return errors
    }

    @Test("merged with what the tool wrote: its keys and entries kept in order, clowdr's added once per experiment, the raw dataset's DOI")
    func merged() throws {
        let dir = try dataset(doi: true)
        let first = try run(dir)
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        #expect(first.stdout.contains("derivatives: \(dir)/derivatives/shapp/dataset_description.json updated"), "\(first.stdout)")
        var d = try description(dir)
        #expect(d["Name"] as? String == "shapp output" && d["BIDSVersion"] as? String == "1.9.0" && d["Acknowledgements"] as? String == "ours")
        #expect(d["DatasetType"] as? String == "derivative")
        var generated = d["GeneratedBy"] as! [[String: Any]]
        #expect(
            generated.count == 2 && generated[0]["Name"] as? String == "shapp" && generated[0]["CodeURL"] as? String == "https://example.org/shapp")
        #expect(generated[1]["Name"] as? String == "clowdr" && (generated[1]["Version"] as? String)?.isEmpty == false)
        let experiment = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").first { !$0.hasPrefix(".") }!
        #expect(
            (generated[1]["Description"] as? String)?.contains(experiment) == true
                && (generated[1]["Description"] as? String)?.contains(dir + "/prov/") == true)
        #expect((d["SourceDatasets"] as? [[String: Any]])?.first?["DOI"] as? String == "doi:10.18112/openneuro.ds000001.v1.0.0")
        // The tool's own keys keep their order: the file is rewritten, not reordered.
        let text = try String(contentsOfFile: dir + "/derivatives/shapp/dataset_description.json", encoding: .utf8)
        let order = ["\"Name\"", "\"BIDSVersion\"", "\"Acknowledgements\"", "\"GeneratedBy\""].map { text.range(of: $0)!.lowerBound }
        #expect(order == order.sorted())

        // Run again (a rerun of all): the same experiment's entry is replaced, not repeated; a second experiment adds its own.
        let again = try TestSupport.run(clowdr, ["rerun", "all", dir + "/prov/" + experiment, "-w", dir])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(((try description(dir))["GeneratedBy"] as! [[String: Any]]).count == 2)
        #expect(try run(dir).status == 0)
        d = try description(dir)
        generated = d["GeneratedBy"] as! [[String: Any]]
        #expect(generated.map { $0["Name"] as? String } == ["shapp", "clowdr", "clowdr"], "\(generated)")
        #expect((d["SourceDatasets"] as! [Any]).count == 1)

        if Self.validator != nil { #expect(try validatorErrors(dir + "/derivatives/shapp").isEmpty) }
    }

    @Test(
        "made when the tool writes none, valid to the BIDS validator; two experiments finishing at once both recorded; the archive goes to code/clowdr/",
        .enabled(if: BIDSDerivativesTests.validator != nil, "needs .build-rocrate (make test-deps installs bids-validator-deno)"))
    func made() throws {
        let dir = try dataset(doi: false)
        // The tool writes no description of its own here.
        try Self.descriptor.replacingOccurrences(of: #" && [ -f [OUT]/dataset_description.json ] || printf"#, with: #" && true || printf"#)
            .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        let a = Process()
        a.executableURL = URL(fileURLWithPath: "/bin/sh")
        a.arguments = ["-c", "cd '\(dir)' && '\(clowdr)' run d.json i.json --bids --provdir prov-a -q >/dev/null 2>&1"]
        try a.run()
        let b = try TestSupport.run("/bin/sh", ["-c", "cd '\(dir)' && '\(clowdr)' run d.json i.json --bids --provdir prov-b -q"])
        a.waitUntilExit()
        #expect(a.terminationStatus == 0 && b.status == 0, "\(b.stderr)")
        let d = try description(dir)
        #expect(d["Name"] as? String == "shapp derivatives" && d["BIDSVersion"] as? String == "1.10.0" && d["DatasetType"] as? String == "derivative")
        let generated = d["GeneratedBy"] as! [[String: Any]]
        #expect(generated.map { $0["Name"] as? String } == ["shapp", "clowdr", "clowdr"], "both experiments' entries: \(generated)")
        #expect((d["SourceDatasets"] as? [[String: Any]])?.first?["URL"] as? String == "file://\(dir)/raw")

        let experiment = dir + "/prov-a/" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/prov-a").first { !$0.hasPrefix(".") }!)
        let archived = try TestSupport.run(clowdr, ["archive", experiment, "--into", dir + "/derivatives/shapp"])
        #expect(
            archived.status == 0 && archived.stdout.hasPrefix(dir + "/derivatives/shapp/code/clowdr/clowdr-"), "\(archived.stdout) \(archived.stderr)"
        )
        #expect(try validatorErrors(dir + "/derivatives/shapp").isEmpty)
    }

    @Test("--derivatives names the folder: outputs outside sub- folders, a description all the same; a folder given that is not one is made")
    func named() throws {
        let dir = try TestSupport.temporaryDirectory("bidsnamed")
        try
            #"{"name": "plain", "tool-version": "1", "description": "d", "schema-version": "0.5", "command-line": "echo [X] > [X].txt", "inputs": [{"id": "x", "name": "x", "type": "String", "value-key": "[X]"}], "output-files": [{"id": "o", "name": "o", "path-template": "[X].txt"}]}"#
            .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"x": "a"}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let out = try TestSupport.run(
            clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "-w", dir, "--derivatives", dir + "/named"])
        #expect(out.status == 0 && out.stdout.contains("derivatives: \(dir)/named/dataset_description.json written"), "\(out.stdout) \(out.stderr)")
        let d =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/named/dataset_description.json"))) as! [String: Any]
        #expect((d["GeneratedBy"] as! [[String: Any]]).map { $0["Name"] as? String } == ["plain", "clowdr"])
        // A folder on object storage is not described (yet): the run stands, a warning says so.
        let remote = try TestSupport.run(
            clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov3", "-w", dir, "--derivatives", "s3://bucket/derivatives"])
        #expect(remote.status == 0 && remote.stderr.contains("on object storage is not described yet"), "\(remote.stderr)")
        // Without --bids or --derivatives, nothing is written.
        let plain = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov2", "-w", dir])
        #expect(plain.status == 0 && !plain.stdout.contains("derivatives:"))
    }
}
