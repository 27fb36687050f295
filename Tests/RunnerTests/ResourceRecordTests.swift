import Backends
import EventLog
import Foundation
import TestSupport
import Testing

/// `mem:auto` (Slurm's name), `memory:auto` (AWS Batch's) and `time:auto`: resources worked out from the record.
@Suite("Resources from the record")
struct ResourceRecordTests {
    @Test("1.5x the highest peak and the longest run; a task killed for memory or time gets at least twice what it was given; no record, no value")
    func fromRecord() throws {
        let dir = try TestSupport.temporaryDirectory("resources")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        let f = EventFactory()
        try log.append([
            // Task 0: killed for memory on AWS Batch, given 50 MB, peak 60 MB by the scheduler.
            f.make(task: "0", attempt: 1, .taskSubmitted(TaskSubmitted(backend: "awsbatch", nativeID: "j:0", resources: ["memory": "50M"]))),
            f.make(
                task: "0", attempt: 1,
                .taskEnded(
                    TaskEnded(
                        backend: "awsbatch", nativeID: "j:0", state: "FAILED", failureClass: .oom, reason: "OutOfMemoryError", peakRSS: 60 << 20,
                        wallTime: 3))),
            // Task 1: succeeded, peak 100 MB by clowdr, 200 s.
            f.make(task: "1", attempt: 1, .taskSubmitted(TaskSubmitted(backend: "slurm", nativeID: "7_1", resources: ["time": "10"]))),
            f.make(task: "1", attempt: 1, .taskExited(TaskExited(exitCode: 0, wallTime: 200, peakRSS: 100 << 20))),
            // Task 2: timed out at its 1-minute limit after 61 s.
            f.make(task: "2", attempt: 1, .taskSubmitted(TaskSubmitted(backend: "slurm", nativeID: "7_2", resources: ["time": "1"]))),
            f.make(
                task: "2", attempt: 1,
                .taskEnded(TaskEnded(backend: "slurm", nativeID: "7_2", state: "TIMEOUT", failureClass: .timeout, reason: "time limit", wallTime: 61))
            ),
        ])
        let record = try ResourceRecord(log: log)
        // max(1.5 x 60 MB, 2 x 50 MB), under either name, the other resources as given.
        #expect(record.resolve(["memory": "auto", "vcpus": "2"], task: "0") == ["memory": "100M", "vcpus": "2"])
        #expect(record.resolve(["mem": "auto"], task: "0") == ["mem": "100M"])
        #expect(record.resolve(["mem": "auto", "time": "auto"], task: "1") == ["mem": "150M", "time": "5"])
        // max(1.5 x 61 s, 2 x 60 s) = 120 s: 2 minutes.
        #expect(record.resolve(["time": "auto"], task: "2") == ["time": "2"])
        #expect(record.resolve(["memory": "auto", "time": "auto", "account": "abc"], task: "9") == ["account": "abc"])
    }
}
