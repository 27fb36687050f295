import EventLog
import Export
import Foundation
import JSON
import TestSupport
import Testing

/// Which of an invocation's values the PROV export declares as the files an attempt used.
@Suite("PROV: input files from the descriptor")
struct PROVInputTests {
    @Test("a File input's values are files, whatever they look like; a String's are not, even with / or . in them")
    func fileInputsFromTypes() throws {
        let dir = try TestSupport.temporaryDirectory("provinputs")
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        let f = EventFactory(clock: SteppingClock(), ids: SequentialIDSource())
        try log.append([
            f.make(
                .experimentCreated(
                    ExperimentCreated(
                        experiment: "E", descriptorSHA256: "00", invocations: ["i.json"], backend: "local", user: "u", host: "h", clowdrVersion: "0",
                        os: "Linux"))),
            f.make(
                task: "0",
                .taskPlanned(
                    TaskPlanned(
                        invocation: ["image": "T1w", "masks": ["m1", "m2"], "label": "sub-01/ses.1", "threshold": 0.5], commandLine: "tool"))),
            f.make(task: "0", attempt: 1, .taskStarted(TaskStarted(host: "h", pid: 1))),
            f.make(task: "0", attempt: 1, .taskExited(TaskExited(exitCode: 0, wallTime: 1))),
        ])
        try """
        {"name": "tool", "tool-version": "1", "description": "d", "schema-version": "0.5", "command-line": "tool [IMAGE] [MASKS] [LABEL] [T]",
         "inputs": [{"id": "image", "name": "image", "type": "File", "value-key": "[IMAGE]"},
                    {"id": "masks", "name": "masks", "type": "File", "list": true, "value-key": "[MASKS]"},
                    {"id": "label", "name": "label", "type": "String", "value-key": "[LABEL]"},
                    {"id": "threshold", "name": "t", "type": "Number", "value-key": "[T]"}]}
        """.write(toFile: dir + "/descriptor.json", atomically: true, encoding: .utf8)
        try PROVExport.write(logPath: dir + "/clowdr.db", descriptorPath: dir + "/descriptor.json", to: dir + "/p.json", format: .json)
        let doc = try JSONParser.parse(String(contentsOfFile: dir + "/p.json", encoding: .utf8))
        let files = Set(
            (doc["entity"]?.objectValue ?? JSONObject()).compactMap { id, e -> String? in
                id.hasPrefix("clowdr:file_") ? e["prov:location"]?.stringValue : nil
            })
        #expect(files == ["T1w", "m1", "m2"])
        // Without the descriptor (a bare log), no value is taken for a file.
        try PROVExport.write(logPath: dir + "/clowdr.db", descriptorPath: nil, to: dir + "/bare.json", format: .json)
        #expect(try !String(contentsOfFile: dir + "/bare.json", encoding: .utf8).contains("clowdr:file_"))
    }
}
