import BackendTesting
import Backends
import Boutiques
import EventLog
import Foundation
import Runner
import TestSupport
import Testing

/// `Backend`'s promises, in-process (`BackendContract`): on the scheduler in memory, in parts and without
/// accounting, and on this machine's pool. `SlurmTests` checks them on the real Slurm.
@Suite("The Backend contract")
struct BackendContractTests {
    func contract(_ name: String, keepsAccounting: Bool = true, make: @escaping (ExperimentLayout, EventLog, Descriptor) throws -> any Backend)
        throws -> BackendContract
    {
        BackendContract(name: name, folder: try TestSupport.temporaryDirectory("contract-\(name)"), keepsAccounting: keepsAccounting, make: make)
    }

    @Test("the scheduler in memory keeps them: one part, parts of two, and without accounting")
    func fake() throws {
        for (size, accounting) in [(Int.max, true), (2, true), (3, false)] {
            let c = try contract("fake", keepsAccounting: accounting) { _, _, _ in FakeBackend(partSize: size, keepsAccounting: accounting) }
            defer { try? FileManager.default.removeItem(atPath: c.folder) }
            try c.check()
        }
    }

    @Test("a backend that breaks one is caught: parts out of order, an ended attempt still held, an answer without accounting")
    func brokenCaught() throws {
        let c = try contract("broken") { _, _, _ in ReversedParts() }
        defer { try? FileManager.default.removeItem(atPath: c.folder) }
        #expect(throws: BackendContract.Violation.self) { try c.check() }
        let never = try contract("never-ends") { _, _, _ in FakeBackend(holdSeconds: 3600) }
        defer { try? FileManager.default.removeItem(atPath: never.folder) }
        var patient = never
        patient.patience = 0.5
        #expect(throws: BackendContract.Violation.self) { try patient.check() }
        let answers = try contract("answers", keepsAccounting: false) { _, _, _ in FakeBackend(keepsAccounting: true) }
        defer { try? FileManager.default.removeItem(atPath: answers.folder) }
        #expect(throws: BackendContract.Violation.self) { try answers.check() }
    }

    @Test("this machine's pool keeps them")
    func local() throws {
        let c = try contract("local") { layout, log, d in
            LocalBackend(
                layout: layout, descriptor: d, options: RunOptions(jobs: 2, workingDirectory: layout.directory), log: log, factory: EventFactory(),
                cancel: CancellationFlag())
        }
        defer { try? FileManager.default.removeItem(atPath: c.folder) }
        try c.check()
    }
}

/// A scheduler that hands its parts over last first: what the contract must catch.
final class ReversedParts: Backend, @unchecked Sendable {
    let name = "reversed"
    let inner = FakeBackend(partSize: 2)
    func submit(_ batch: SubmissionBatch, accepted: (Range<Int>, [String]) throws -> Void) throws {
        var parts: [(Range<Int>, [String])] = []
        try inner.submit(batch) { parts.append(($0, $1)) }
        for p in parts.reversed() { try accepted(p.0, p.1) }
    }
    func queue() throws -> [String: QueueState] { try inner.queue() }
    func accounting(_ ids: [String]) throws -> [String: FinalState]? { try inner.accounting(ids) }
    func cancel(_ ids: [String]) throws { try inner.cancel(ids) }
    func release(_ ids: [String]) { inner.release(ids) }
}
