import EventLog
import Foundation
import TestSupport
import Testing

/// What an experiment records of the command line that made it: every key is a `RecordedOption` (named once, read
/// back by rerun, watch and sync), with the values as given.
@Suite("the options a run records", .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"))
struct RecordedOptionTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    @Test("every recorded key is a RecordedOption, and each value is the flag's")
    func keysAreNamed() throws {
        let dir = try TestSupport.temporaryDirectory("recorded-options")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try
            #"{"name":"t","tool-version":"1","description":"t","command-line":"true [X]","schema-version":"0.5","inputs":[{"id":"x","name":"x","type":"Number","list":true,"value-key":"[X]"}]}"#
            .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"x": [1, 2, 3]}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let r = try TestSupport.run(
            clowdr,
            [
                "run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/p", "--setup", "--sweep", "x", "-j", "3", "--workdir", dir,
                "--sample-interval", "0.5", "--trace-files", "off", "--name", "named",
            ])
        #expect(r.status == 0, "\(r.stderr)")
        let layout = try #require(ExperimentLayout.experiments(inProvdir: dir + "/p").last)
        let options = try #require(try EventLog(path: layout.log, mode: .readOnly).projectedState().experiment?.options)
        let unnamed = Set(options.keys).subtracting(RecordedOption.allCases.map(\.rawValue))
        #expect(unnamed.isEmpty, "keys no RecordedOption names: \(unnamed.sorted())")
        #expect(options[.jobs] == "3")
        #expect(options[.workdir] == dir)
        #expect(options[.sampleInterval] == "0.5")
        #expect(options[.traceFiles] == "off")
        #expect(options[.sweep] == "x")
        #expect(options[.setup] == "true")
        #expect(options[.backend] == "local")
        #expect(options[.jobname] == "", "--jobname goes with a scheduler")
        #expect(options[.invocationFiles] == "false")
        #expect(options[.awsSetup] == nil, "no AWS option is recorded for a local run")
    }
}
