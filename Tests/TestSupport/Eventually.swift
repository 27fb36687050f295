import Foundation

extension TestSupport {
    /// A condition a test waited for that did not come in time: the test fails with what was awaited.
    public struct TimedOut: Error, CustomStringConvertible {
        public var what: String
        public var seconds: Double
        public var description: String { "timed out after \(seconds) s waiting for \(what)" }

        public init(what: String, seconds: Double) {
            self.what = what
            self.seconds = seconds
        }
    }

    /// Waits until `condition` holds, looking every `poll` seconds; throws `TimedOut` (naming `what`) when it still
    /// does not after `timeout` seconds. Tests wait for what they need to see, never for a fixed time.
    public static func eventually(_ what: String, timeout: Double = 30, poll: Double = 0.05, _ condition: () throws -> Bool) throws {
        let end = Date().addingTimeInterval(timeout)
        while true {
            if (try? condition()) == true { return }
            guard Date() < end else { throw TimedOut(what: what, seconds: timeout) }
            usleep(UInt32(poll * 1_000_000))
        }
    }
}
