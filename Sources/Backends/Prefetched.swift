import Foundation

/// A value computed on a thread of its own from the moment it is made, for whoever asks for it later: e.g. the
/// cluster's MaxArraySize, read while the experiment is planned rather than after.
final class Prefetched<Value: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<Value, any Error>?

    init(_ compute: @escaping @Sendable () throws -> Value) {
        Thread.detachNewThread { [self] in
            let r = Result { try compute() }
            condition.withLock {
                result = r
                condition.broadcast()
            }
        }
    }

    /// The value, once computed; rethrows what computing it threw.
    func value() throws -> Value {
        try condition.withLock {
            while result == nil { condition.wait() }
            return try result!.get()
        }
    }
}
