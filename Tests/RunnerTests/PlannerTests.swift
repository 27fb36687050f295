import Boutiques
import Foundation
import JSON
import Runner
import TestSupport
import Testing

@Suite("Planner: folders, sweeps, BIDS, and their errors")
struct PlannerTests {
    static let descriptorText = #"""
        {"name":"t","tool-version":"1","description":"d","schema-version":"0.5",
         "command-line":"tool [BIDS] [OUT] [LEVEL] [P] [S] [X] [L]",
         "inputs":[{"id":"bids_dir","name":"b","type":"File","value-key":"[BIDS]"},
                   {"id":"output_dir","name":"o","type":"String","value-key":"[OUT]"},
                   {"id":"analysis_level","name":"a","type":"String","value-key":"[LEVEL]","value-choices":["participant","group"]},
                   {"id":"participant_label","name":"p","type":"String","list":true,"optional":true,"value-key":"[P]","command-line-flag":"--participant_label"},
                   {"id":"session_label","name":"s","type":"String","list":true,"optional":true,"value-key":"[S]","command-line-flag":"--session_label"},
                   {"id":"x","name":"x","type":"Number","optional":true,"value-key":"[X]","command-line-flag":"-x"},
                   {"id":"l","name":"l","type":"Number","list":true,"optional":true,"value-key":"[L]","command-line-flag":"-l"}]}
        """#

    func setup() throws -> (String, Planner) {
        let dir = try TestSupport.temporaryDirectory("planner")
        let d = try DescriptorValidator.validate(try JSONParser.parse(Self.descriptorText))
        return (dir, Planner(descriptor: d, workingDirectory: dir))
    }

    func write(_ json: String, _ path: String) throws { try json.write(toFile: path, atomically: true, encoding: .utf8) }

    @Test("a folder of invocations gives one task each, sorted by file name")
    func folder() throws {
        let (dir, planner) = try setup()
        try FileManager.default.createDirectory(atPath: dir + "/inv", withIntermediateDirectories: true)
        for name in ["b", "c", "a"] {
            try write(#"{"bids_dir":"ds","output_dir":"\#(name)","analysis_level":"participant"}"#, dir + "/inv/\(name).json")
        }
        try write("not an invocation", dir + "/inv/notes.txt")
        let tasks = try planner.plan(dir + "/inv").tasks
        #expect(tasks.map(\.id) == ["0", "1", "2"])
        #expect(tasks.map { $0.invocation["output_dir"]?.stringValue } == ["a", "b", "c"])
        #expect(tasks[0].rendered.commandLine == "tool ds a participant")
        // Labels: the file's name and the parameters that differ between the files (not bids_dir, the same in all).
        #expect(tasks[1].labels == ["invocation": "b", "output_dir": "b"])
    }

    @Test("sweeps: one task per value, the cartesian product for several, lists of lists for list inputs")
    func sweeps() throws {
        var (dir, planner) = try setup()
        try write(#"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant","x":[1,2,3],"l":[[1,2],[3]]}"#, dir + "/i.json")
        planner.sweeps = ["x", "l"]
        let tasks = try planner.plan(dir + "/i.json").tasks
        #expect(tasks.count == 6)
        #expect(tasks.map(\.rendered.commandLine).prefix(2) == ["tool ds o participant -x 1 -l 1 2", "tool ds o participant -x 1 -l 3"])
        #expect(tasks[5].labels == ["x": "3", "l": "[3]"])
    }

    @Test("a list input swept over plain values: one task per value, labelled by the value")
    func sweepFlatList() throws {
        var (dir, planner) = try setup()
        try write(#"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant","participant_label":["01","02"]}"#, dir + "/i.json")
        planner.sweeps = ["participant_label"]
        let tasks = try planner.plan(dir + "/i.json").tasks
        #expect(
            tasks.map(\.rendered.commandLine) == ["tool ds o participant --participant_label 01", "tool ds o participant --participant_label 02"])
        #expect(tasks.map { $0.labels["participant_label"] } == ["01", "02"])
    }

    @Test(
        "sweep errors say what is wrong",
        arguments: [
            (["y"], #"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant"}"#, "no input 'y'"),
            (["x"], #"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant"}"#, "has no value for 'x'"),
            (["output_dir"], #"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant"}"#, "must be a non-empty list"),
            (["l"], #"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant","l":[1,[2]]}"#, "not a mix of both"),
        ])
    func sweepErrors(sweeps: [String], invocation: String, message: String) throws {
        var (dir, planner) = try setup()
        try write(invocation, dir + "/i.json")
        planner.sweeps = sweeps
        #expect {
            try planner.plan(dir + "/i.json")
        } throws: { "\($0)".contains(message) }
    }

    /// Makes a BIDS dataset under `dir/ds`: each path ending in `/` is an empty folder, any other a small file.
    func dataset(_ dir: String, _ paths: [String]) throws {
        try FileManager.default.createDirectory(atPath: dir + "/ds", withIntermediateDirectories: true)
        try write(#"{"Name":"x","BIDSVersion":"1.8.0"}"#, dir + "/ds/dataset_description.json")
        for path in paths {
            let full = dir + "/ds/" + path
            if path.hasSuffix("/") {
                try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
            } else {
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try write("x", full)
            }
        }
    }

    static let fourSubjects = [
        "sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz", "sub-01/ses-2/anat/sub-01_ses-2_T1w.nii.gz", "sub-02/ses-1/anat/sub-02_ses-1_T1w.nii.gz",
        "sub-03/anat/sub-03_T1w.nii.gz",
    ]

    @Test("BIDS: participants x sessions from the labels, else discovered in the dataset")
    func bids() throws {
        var (dir, planner) = try setup()
        planner.bids = true
        try dataset(dir, Self.fourSubjects)
        try write(
            #"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant","participant_label":["01","sub-02"],"session_label":["ses-1"]}"#,
            dir + "/i.json")
        let given = try planner.plan(dir + "/i.json").tasks
        #expect(given.map { $0.labels["participant"]! + "/" + $0.labels["session"]! } == ["01/1", "02/1"], "sub-/ses- prefixes are accepted")
        #expect(given[1].rendered.commandLine == "tool ds o participant --participant_label 02 --session_label 1")
        try write(#"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant"}"#, dir + "/j.json")
        let found = try planner.plan(dir + "/j.json")
        #expect(found.tasks.map { "\($0.labels["participant"]!)/\($0.labels["session"] ?? "-")" } == ["01/1", "01/2", "02/1", "03/-"])
        #expect(found.warnings.isEmpty)
        // Group level: one task.
        try write(#"{"bids_dir":"ds","output_dir":"o","analysis_level":"group"}"#, dir + "/g.json")
        #expect(try planner.plan(dir + "/g.json").tasks.count == 1)
    }

    @Test("BIDS: folders with no data and names that are no BIDS labels are passed over, with a warning each")
    func bidsPassedOver() throws {
        var (dir, planner) = try setup()
        planner.bids = true
        try dataset(dir, Self.fourSubjects + ["sub-02/ses-2/", "sub-04/", "sub-04_old/anat/x.nii.gz", "sub-05/.gitkeep", "sub-06/ses-a_b/f"])
        try write(#"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant"}"#, dir + "/i.json")
        let plan = try planner.plan(dir + "/i.json")
        #expect(plan.tasks.map { "\($0.labels["participant"]!)/\($0.labels["session"] ?? "-")" } == ["01/1", "01/2", "02/1", "03/-"])
        let warnings = plan.warnings.joined(separator: "\n")
        for expected in [
            "sub-02/ses-2 holds no file", "sub-04 holds no file", "sub-04_old: not a BIDS participant folder", "sub-05 holds no file",
            "ses-a_b: not a BIDS session",
        ] {
            #expect(warnings.contains(expected), "no warning '\(expected)' in:\n\(warnings)")
        }
    }

    @Test("BIDS: participants.tsv that disagrees with the folders is a warning, both ways")
    func bidsParticipantsTable() throws {
        var (dir, planner) = try setup()
        planner.bids = true
        try dataset(dir, Self.fourSubjects)
        try write("participant_id\tage\nsub-01\t30\nsub-02\t31\nsub-09\t40\n", dir + "/ds/participants.tsv")
        try write(#"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant"}"#, dir + "/i.json")
        let plan = try planner.plan(dir + "/i.json")
        #expect(plan.tasks.count == 4)
        #expect(plan.warnings.contains { $0.contains("lists sub-09, which have no data folder") })
        #expect(plan.warnings.contains { $0.contains("does not list sub-03, which have data") })
    }

    @Test(
        "BIDS errors name the path or the labels, and what was expected",
        arguments: [
            (#""bids_dir":"nowhere""#, "bids_dir 'nowhere' does not exist"),
            (#""bids_dir":"notbids""#, "'notbids' is not a BIDS dataset: the folder has no dataset_description.json"),
            (#""bids_dir":"nowhere","participant_label":["01"]"#, "bids_dir 'nowhere' does not exist"),
            (#""bids_dir":"ds","participant_label":["01","99","sub-98","04"]"#, "participant_label sub-99, sub-98, sub-04 not found with data"),
            (#""bids_dir":"ds","participant_label":["01"],"session_label":["3"]"#, "session_label ses-3 not found"),
        ])
    func bidsErrors(members: String, message: String) throws {
        var (dir, planner) = try setup()
        planner.bids = true
        try dataset(dir, Self.fourSubjects + ["sub-04/"])
        try FileManager.default.createDirectory(atPath: dir + "/notbids/sub-01", withIntermediateDirectories: true)
        try write(#"{"output_dir":"o","analysis_level":"participant",\#(members)}"#, dir + "/i.json")
        #expect {
            try planner.plan(dir + "/i.json")
        } throws: { "\($0)".contains(message) && "\($0)".contains("i.json") }
    }

    @Test("an invalid invocation stops the plan with the file and the pointer")
    func invalidInvocation() throws {
        let (dir, planner) = try setup()
        try write(#"{"bids_dir":"ds","output_dir":"o","analysis_level":"weekly"}"#, dir + "/i.json")
        #expect {
            try planner.plan(dir + "/i.json")
        } throws: { e in "\(e)".contains("i.json: /analysis_level") }
    }

    @Test(
        "BIDS: a label given as one string for a list input is refused in validate -i's words (one behaviour); scalar label inputs take and get scalar values"
    )
    func bidsScalars() throws {
        var (dir, planner) = try setup()
        planner.bids = true
        try dataset(dir, ["sub-07/ses-a/f"])
        try write(
            #"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant","participant_label":"07","session_label":["a"]}"#, dir + "/i.json")
        #expect {
            try planner.plan(dir + "/i.json")
        } throws: { e in "\(e)".contains("i.json: /participant_label: [invocation.type]") }
        try write(
            #"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant","participant_label":["07"],"session_label":["a"]}"#, dir + "/i.json")
        #expect(
            try planner.plan(dir + "/i.json").tasks.map(\.rendered.commandLine) == ["tool ds o participant --participant_label 07 --session_label a"])
        let scalar = Self.descriptorText.replacingOccurrences(
            of: #""list":true,"optional":true,"value-key":"[P]""#, with: #""optional":true,"value-key":"[P]""#)
        var p2 = Planner(descriptor: try DescriptorValidator.validate(try JSONParser.parse(scalar)), workingDirectory: dir)
        p2.bids = true
        try write(#"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant","participant_label":"07"}"#, dir + "/j.json")
        let tasks = try p2.plan(dir + "/j.json").tasks
        #expect(tasks.map { $0.rendered.invocation["participant_label"] } == [.string("07")])
    }
}
