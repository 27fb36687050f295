import EventLog
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
}
