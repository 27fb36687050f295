import Foundation

/// Runs the recording of a submission's accepted parts on a thread of its own, one part after another in the order
/// given, while the submitting thread hands the next part to the scheduler: a submission of many arrays takes about
/// the longer of the two, not their sum.
///
/// `add` throws the failure of a part recorded earlier (the submission then stops: nothing more is submitted that
/// could not be recorded); `finish` waits for every part and throws the first failure. Used once.
final class PipelinedRecorder: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [() throws -> Void] = []
    private var working = false
    private var closed = false
    private var started = false
    private var failure: (any Error)?

    /// Queues `work` behind what is queued.
    func add(_ work: @escaping () throws -> Void) throws {
        let start = try condition.withLock {
            if let failure { throw failure }
            queue.append(work)
            condition.broadcast()
            defer { started = true }
            return !started
        }
        if start { Thread.detachNewThread { [self] in run() } }
    }

    /// Waits until everything queued was recorded, or failed; throws the first failure.
    func finish() throws {
        try condition.withLock {
            closed = true
            condition.broadcast()
            while !queue.isEmpty || working { condition.wait() }
            if let failure { throw failure }
        }
    }

    private func run() {
        while let work = next() {
            var error: (any Error)?
            do { try work() } catch let e { error = e }
            condition.withLock {
                working = false
                if let error, failure == nil {
                    failure = error
                    queue.removeAll()
                }
                condition.broadcast()
            }
        }
    }

    /// The next part to record; nil once `finish` was called and nothing is left.
    private func next() -> (() throws -> Void)? {
        condition.withLock {
            while queue.isEmpty && !closed { condition.wait() }
            guard !queue.isEmpty else { return nil }
            working = true
            return queue.removeFirst()
        }
    }
}
