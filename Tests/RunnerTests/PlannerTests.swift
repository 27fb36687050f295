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
        let tasks = try planner.plan(dir + "/inv")
        #expect(tasks.map(\.id) == ["0", "1", "2"])
        #expect(tasks.map { $0.invocation["output_dir"]?.stringValue } == ["a", "b", "c"])
        #expect(tasks[0].rendered.commandLine == "tool ds a participant")
    }

    @Test("sweeps: one task per value, the cartesian product for several, lists of lists for list inputs")
    func sweeps() throws {
        var (dir, planner) = try setup()
        try write(#"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant","x":[1,2,3],"l":[[1,2],[3]]}"#, dir + "/i.json")
        planner.sweeps = ["x", "l"]
        let tasks = try planner.plan(dir + "/i.json")
        #expect(tasks.count == 6)
        #expect(tasks.map(\.rendered.commandLine).prefix(2) == ["tool ds o participant -x 1 -l 1 2", "tool ds o participant -x 1 -l 3"])
        #expect(tasks[5].labels == ["x": "3", "l": "[3]"])
    }

    @Test(
        "sweep errors say what is wrong",
        arguments: [
            (["y"], #"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant"}"#, "no input 'y'"),
            (["x"], #"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant"}"#, "has no value for 'x'"),
            (["output_dir"], #"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant"}"#, "must be a non-empty list"),
            (["l"], #"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant","l":[1,2]}"#, "list of lists"),
        ])
    func sweepErrors(sweeps: [String], invocation: String, message: String) throws {
        var (dir, planner) = try setup()
        try write(invocation, dir + "/i.json")
        planner.sweeps = sweeps
        #expect {
            try planner.plan(dir + "/i.json")
        } throws: { "\($0)".contains(message) }
    }

    @Test("BIDS: participants x sessions from the labels, else discovered in the dataset")
    func bids() throws {
        var (dir, planner) = try setup()
        planner.bids = true
        try write(
            #"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant","participant_label":["01","02"],"session_label":["a","b"]}"#,
            dir + "/i.json")
        let given = try planner.plan(dir + "/i.json")
        #expect(given.map { $0.labels["participant"]! + $0.labels["session"]! } == ["01a", "01b", "02a", "02b"])
        #expect(given[1].rendered.commandLine == "tool ds o participant --participant_label 01 --session_label b")
        // Discovered: sub-* and their ses-* folders.
        for path in ["ds/sub-01/ses-1", "ds/sub-01/ses-2", "ds/sub-02/ses-1", "ds/sub-03"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + path, withIntermediateDirectories: true)
        }
        try write(#"{"Name":"x","BIDSVersion":"1.8.0"}"#, dir + "/ds/dataset_description.json")
        try write(#"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant"}"#, dir + "/j.json")
        let found = try planner.plan(dir + "/j.json")
        #expect(found.map { "\($0.labels["participant"]!)/\($0.labels["session"] ?? "-")" } == ["01/1", "01/2", "02/1", "03/-"])
        // Group level: one task.
        try write(#"{"bids_dir":"ds","output_dir":"o","analysis_level":"group"}"#, dir + "/g.json")
        #expect(try planner.plan(dir + "/g.json").count == 1)
    }

    @Test("BIDS without labels needs a dataset with dataset_description.json")
    func bidsErrors() throws {
        var (dir, planner) = try setup()
        planner.bids = true
        try FileManager.default.createDirectory(atPath: dir + "/notbids/sub-01", withIntermediateDirectories: true)
        try write(#"{"bids_dir":"notbids","output_dir":"o","analysis_level":"participant"}"#, dir + "/i.json")
        #expect {
            try planner.plan(dir + "/i.json")
        } throws: { "\($0)".contains("dataset_description.json") }
    }

    @Test("an invalid invocation stops the plan with the file and the pointer")
    func invalidInvocation() throws {
        let (dir, planner) = try setup()
        try write(#"{"bids_dir":"ds","output_dir":"o","analysis_level":"weekly"}"#, dir + "/i.json")
        #expect {
            try planner.plan(dir + "/i.json")
        } throws: { e in "\(e)".contains("i.json: /analysis_level") }
    }

    @Test("BIDS: a label given as one string is one participant; scalar label inputs get scalar values")
    func bidsScalars() throws {
        var (dir, planner) = try setup()
        planner.bids = true
        try write(
            #"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant","participant_label":"07","session_label":["a"]}"#, dir + "/i.json")
        #expect(try planner.plan(dir + "/i.json").map(\.rendered.commandLine) == ["tool ds o participant --participant_label 07 --session_label a"])
        let scalar = Self.descriptorText.replacingOccurrences(
            of: #""list":true,"optional":true,"value-key":"[P]""#, with: #""optional":true,"value-key":"[P]""#)
        var p2 = Planner(descriptor: try DescriptorValidator.validate(try JSONParser.parse(scalar)), workingDirectory: dir)
        p2.bids = true
        try write(#"{"bids_dir":"ds","output_dir":"o","analysis_level":"participant","participant_label":"07"}"#, dir + "/j.json")
        let tasks = try p2.plan(dir + "/j.json")
        #expect(tasks.map { $0.rendered.invocation["participant_label"] } == [.string("07")])
    }
}
