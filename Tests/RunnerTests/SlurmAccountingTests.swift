import EventLog
import Foundation
import Subprocess
import Testing

@testable import Backends

/// sacct's records read without a cluster (the real cluster's cases are in clowdrTests/SlurmTests).
@Suite("Slurm accounting records")
struct SlurmAccountingTests {
    @Test("elements never split off their array share one record, A_[2-3,7%2]: each gets its final word")
    func pendingRange() {
        #expect(SlurmAccounting.elements("12_[2-3,7%2]") == ["12_2", "12_3", "12_7"])
        #expect(SlurmAccounting.elements("12_4") == ["12_4"])
        #expect(SlurmAccounting.elements("12") == ["12"])
        let text = "12_0|CANCELLED by 0|0:0||||||\n12_[1-2%2]|CANCELLED by 0|0:0||||||\n12_0.batch|FAILED|1:0||||||\n"
        let parsed = SlurmAccounting.parse(text)
        #expect(Set(parsed.keys) == ["12_0", "12_1", "12_2"])
        #expect(parsed["12_2"]?.failureClass == .cancelled)
    }

    @Test("SIGKILL at or above the memory request is the memory limit's kill, even before slurmstepd says so")
    func killedAtMemoryLimit() {
        let f = FinalState(state: "FAILED", failureClass: .appError, signal: 9, peakRSS: 211 << 20, requestedMemory: 80 << 20)
        #expect(SlurmAccounting.refine(f, output: "").failureClass == .oom)
        var under = f
        under.peakRSS = 20 << 20
        #expect(SlurmAccounting.refine(under, output: "").failureClass == .appError)
    }
}

extension SlurmAccountingTests {
    @Test("sacct's rows of an element killed for memory (22.05): oom from the rows alone")
    func memoryRows() {
        let text = "3593_0|FAILED|0:9|00:00:01|00:00.111||80M|UNLIMITED\n3593_0.batch|CANCELLED by 0|0:9|00:00:01|00:00.111|206768K||\n"
        let f = SlurmAccounting.parse(text)["3593_0"]
        #expect(f.map { SlurmAccounting.refine($0, output: "") }?.failureClass == .oom, "\(String(describing: f))")
    }

    @Test("a job's end read before its batch step's is not settled: the peak that says why it was killed is still to come")
    func unsettled() throws {
        let early = "3816_0|FAILED|0:9|00:00:01|00:00.119||80M|UNLIMITED\n3816_0.batch|RUNNING|0:0|00:00:01|||\n"
        #expect(SlurmAccounting.parse(early)["3816_0"]?.settled == false)
        #expect(SlurmAccounting.parse("3816_0|FAILED|0:9|00:00:01|00:00.119||80M|UNLIMITED\n")["3816_0"]?.settled == false)
        let late = early.replacingOccurrences(of: "RUNNING|0:0|00:00:01|||", with: "CANCELLED by 0|0:9|00:00:01|00:00.119|206736K||")
        let final = try #require(SlurmAccounting.parse(late)["3816_0"])
        #expect(final.settled && final.peakRSS == 206736 * 1024)
        // Never started (cancelled while pending): no step will come.
        #expect(SlurmAccounting.parse("3817_[1-2]|CANCELLED by 0|0:0|00:00:00|00:00:00||80M|UNLIMITED\n")["3817_1"]?.settled == true)
    }

    @Test("an element read under its array's own id: final when it never started, not settled when it ran")
    func arrayRecord() {
        let pending = SlurmAccounting.parse("3900|CANCELLED by 0|0:0|00:00:00|00:00:00||80M|UNLIMITED\n")
        #expect(SlurmAccounting.finals(of: ["3900_4"], in: pending, output: { _ in "" })["3900_4"]?.settled == true)
        let ran = SlurmAccounting.parse("3831|FAILED|0:9|00:00:01|00:00.122||16?|\n3831.batch|CANCELLED by 0|0:9|00:00:01|00:00.122|206780K||\n")
        let early = SlurmAccounting.finals(of: ["3831_0"], in: ran, output: { _ in "" })["3831_0"]
        #expect(early?.settled == false && early?.state == "FAILED", "\(String(describing: early))")
    }
}

extension SlurmAccountingTests {
    @Test("an element its array's records do not list (slurmdbd kept none) is asked for again, then ends as no record: never success")
    func elementWithoutRecord() throws {
        // Slurm 22.05, an array of 1,000 cancelled while pending: the array's record lists only some of its elements.
        let text = "4100_[52,79,108]|CANCELLED by 0|0:0|00:00:00|00:00:00||80M|UNLIMITED\n4100_3|COMPLETED|0:0|00:00:01|00:00.100||80M|UNLIMITED\n"
        let finals = SlurmAccounting.finals(of: ["4100_79", "4100_500", "4101_0"], in: SlurmAccounting.parse(text), output: { _ in "" })
        #expect(finals["4100_79"]?.failureClass == .cancelled && finals["4100_79"]?.settled == true)
        let missing = try #require(finals["4100_500"])
        #expect(missing.state == FinalState.noRecord && missing.failureClass == .unknown && !missing.settled && !missing.completed)
        #expect(missing.reason(task: "500", labels: "", scheduler: "Slurm").contains("no record"))
        // An array sacct does not know at all may be on its way to slurmdbd: nothing is said of it yet.
        #expect(finals["4101_0"] == nil)
    }

    @Test("Slurm's commands print an array's element list whole (SLURM_BITSTR_LEN=0), and run without env in between")
    func commandEnvironment() throws {
        let out = try SlurmCommands().once("env", [])
        #expect(out.status == 0)
        #expect(out.stdout.split(separator: "\n").contains("SLURM_BITSTR_LEN=0"))
        #expect(Subprocess.onPath("env") != nil && Subprocess.onPath("no-such-command-\(getpid())") == nil)
        let missing = try SlurmCommands().once("no-such-command-\(getpid())", [])
        #expect(missing.status != 0 && missing.stderr.contains("no-such-command"))
    }
}
