import Foundation

/// Runs the recording of a submission's accepted parts on a serial queue of its own, one part after another in
/// the order given, while the submitting thread hands the next part to the scheduler: a submission of many arrays
/// takes about the longer of the two, not their sum.
///
/// `add` throws the failure of a part recorded earlier (the submission then stops: nothing more is submitted that
/// could not be recorded), and parts queued after a failure are not recorded; `finish` waits for every part and
/// throws the first failure.
final class PipelinedRecorder: @unchecked Sendable {
    private let queue = DispatchQueue(label: "clowdr.recorder")
    private let lock = NSLock()
    private var failure: (any Error)?

    /// Queues `work` behind what is queued.
    func add(_ work: @escaping @Sendable () throws -> Void) throws {
        if let failure = lock.withLock({ failure }) { throw failure }
        queue.async { [self] in
            guard lock.withLock({ failure == nil }) else { return }
            do { try work() } catch { lock.withLock { if failure == nil { failure = error } } }
        }
    }

    /// Waits until everything queued was recorded, or failed; throws the first failure.
    func finish() throws {
        queue.sync {}
        if let failure = lock.withLock({ failure }) { throw failure }
    }
}
