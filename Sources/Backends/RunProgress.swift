public import Foundation

/// Live counts, for a progress line.
public struct RunProgress: Sendable {
    public var total: Int
    public var succeeded = 0
    public var failed = 0
    public var cancelled = 0
    public var running = 0
    public var started: Date = Date()
    public var done: Int { succeeded + failed + cancelled }

    public init(total: Int) { self.total = total }

    /// `12/200 done (3 failed), 2 running, 00:41 elapsed, ETA 10:12`.
    public var line: String {
        let elapsed = Date().timeIntervalSince(started)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        func clock(_ s: Double) -> String {
            let t = Int(s.rounded())
            return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%02d:%02d", t / 60, t % 60)
        }
        return
            "\(done)/\(total) done (\(failed) failed\(cancelled > 0 ? ", \(cancelled) cancelled" : "")), \(running) running, \(clock(elapsed)) elapsed"
            + (done > 0 && done < total ? ", ETA \(clock(eta))" : "")
    }
}
