public import Backends
import EventLog
import Foundation
public import Runner

/// A scheduler in memory, for tests of what drives a `Backend` (the controller, the contract): it splits a
/// submission into parts of `partSize`, holds each attempt `holdSeconds` once released, then ends it as `outcome`
/// says; `keepsAccounting` false makes it a scheduler without accounting (`accounting` answers nil).
public final class FakeBackend: Backend, @unchecked Sendable {
    public let name: String
    public let partSize: Int
    public let holdSeconds: Double
    public let keepsAccounting: Bool
    /// How an attempt ends (by default: COMPLETED, exit 0).
    public let outcome: @Sendable (AttemptPlan) -> FinalState

    private enum Slot {
        case staged(AttemptPlan)
        case held(AttemptPlan, until: Date)
        case ended(FinalState)
    }
    private let lock = NSLock()
    private var slots: [String: Slot] = [:]
    private var next = 0
    /// Every part handed over, in order (the attempts' ids), for tests to compare with what the controller recorded.
    public private(set) var parts: [[String]] = []

    public init(
        name: String = "fake", partSize: Int = .max, holdSeconds: Double = 0.05, keepsAccounting: Bool = true,
        outcome: (@Sendable (AttemptPlan) -> FinalState)? = nil
    ) {
        self.name = name
        self.partSize = max(1, partSize)
        self.holdSeconds = holdSeconds
        self.keepsAccounting = keepsAccounting
        self.outcome = outcome ?? { _ in FinalState(state: "COMPLETED", failureClass: .appError, exitCode: 0) }
    }

    public var pollPolicy: PollPolicy {
        var p = PollPolicy()
        (p.first, p.steady, p.segmentGrace, p.accountingPatience) = (0.01, 0.02, 0, 0)
        return p
    }

    public var recordsThroughSegments: Bool { false }

    public func submit(_ batch: SubmissionBatch, accepted: (Range<Int>, [String]) throws -> Void) throws {
        var start = 0
        while start < batch.attempts.count {
            let range = start..<min(batch.attempts.count, start + partSize)
            let ids = lock.withLock {
                range.map { i -> String in
                    next += 1
                    let id = "\(name)-\(next)"
                    slots[id] = .staged(batch.attempts[i])
                    return id
                }
            }
            lock.withLock { parts.append(ids) }
            try accepted(range, ids)
            start = range.upperBound
        }
    }

    public func release(_ ids: [String]) {
        lock.withLock {
            for id in ids {
                if case .staged(let plan)? = slots[id] { slots[id] = .held(plan, until: Date().addingTimeInterval(holdSeconds)) }
            }
        }
    }

    /// Ends the attempts whose time is up.
    private func advance() {
        let now = Date()
        for (id, slot) in slots {
            if case .held(let plan, let until) = slot, until <= now { slots[id] = .ended(outcome(plan)) }
        }
    }

    public func queue() throws -> [String: QueueState] {
        lock.withLock {
            advance()
            var out: [String: QueueState] = [:]
            for (id, slot) in slots {
                switch slot {
                case .staged: out[id] = .pending(reason: "staged")
                case .held: out[id] = .running
                case .ended: break
                }
            }
            return out
        }
    }

    public func accounting(_ ids: [String]) throws -> [String: FinalState]? {
        guard keepsAccounting else { return nil }
        return lock.withLock {
            advance()
            var out: [String: FinalState] = [:]
            for id in ids { if case .ended(let f)? = slots[id] { out[id] = f } }
            return out
        }
    }

    public func finalWithoutAccounting(_ id: String) -> FinalState? {
        lock.withLock {
            advance()
            if case .ended(let f)? = slots[id] { return f }
            return nil
        }
    }

    public func cancel(_ ids: [String]) throws {
        lock.withLock {
            for id in ids where slots[id] != nil {
                if case .ended = slots[id]! { continue }
                slots[id] = .ended(FinalState(state: "CANCELLED", failureClass: .cancelled))
            }
        }
    }
}
