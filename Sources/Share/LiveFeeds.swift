import EventLog
import Export
import Foundation
import SQLite

/// What the live page is pushed (Server-Sent Events) instead of polling: one watcher per experiment served, which
/// looks at the log every `interval` seconds and, when it grew, builds what changed once (`ReportData.changes`: the
/// rows of the tasks the new events are about) and hands it to every page following that experiment. A watcher runs
/// while at least one page follows; it also ingests what the workers of a cluster run wrote, every half second.
public final class LiveFeeds: @unchecked Sendable {
    /// Sends one frame to a page; false when the page is gone.
    public typealias Send = @Sendable (String) -> Bool

    let interval: Double
    /// Seconds between comments sent to idle pages, so that a connection closed without a word is noticed.
    let heartbeat: Double
    private let lock = NSLock()
    private var feeds: [String: Feed] = [:]
    private var nextID = 0

    public init(interval: Double = 0.025, heartbeat: Double = 15) {
        self.interval = interval
        self.heartbeat = heartbeat
    }

    /// Follows the experiment in `directory`: `send` gets, at once, `{"seq":N}` (what the log holds now), then each
    /// change. Returns the id that `unsubscribe` takes.
    public func subscribe(directory: String, _ send: @escaping Send) -> Int {
        let (id, feed, start) = lock.withLock { () -> (Int, Feed, Bool) in
            nextID += 1
            let existing = feeds[directory]
            let feed = existing ?? Feed(directory: directory)
            feeds[directory] = feed
            feed.subscribers[nextID] = send
            return (nextID, feed, existing == nil)
        }
        _ = send(Self.frame(#"{"seq":\#(lock.withLock { feed.seq })}"#))
        if start { Thread.detachNewThread { [self] in watch(feed) } }
        return id
    }

    public func unsubscribe(directory: String, id: Int) {
        lock.withLock { _ = feeds[directory]?.subscribers.removeValue(forKey: id) }
    }

    /// How many pages follow an experiment now.
    public func followers(of directory: String) -> Int { lock.withLock { feeds[directory]?.subscribers.count ?? 0 } }

    /// One Server-Sent Events frame.
    static func frame(_ json: String) -> String { "data: \(json)\n\n" }

    /// An experiment's watcher: the log's last seq and the followers, changed under the feeds' lock.
    final class Feed: @unchecked Sendable {
        let directory: String
        var seq: Int64
        var subscribers: [Int: Send] = [:]

        init(directory: String) {
            self.directory = directory
            seq = (try? ReportData.lastSeq(experimentDirectory: directory)) ?? 0
        }
    }

    /// Runs until nobody follows the feed.
    func watch(_ feed: Feed) {
        let log = try? EventLog(path: feed.directory, mode: .readOnly)
        var lastIngest = Date.distantPast
        var lastSent = Date()
        while true {
            Thread.sleep(forTimeInterval: interval)
            let (subscribers, seq) = lock.withLock { () -> ([Int: Send], Int64) in
                if feed.subscribers.isEmpty { feeds[feed.directory] = nil }
                return (feed.subscribers, feed.seq)
            }
            if subscribers.isEmpty { return }
            if Date().timeIntervalSince(lastIngest) >= 0.5 {
                _ = try? ExperimentLayout(directory: feed.directory).ingestNewSegments()  // when this user can write the log
                lastIngest = Date()
            }
            let now: Int64? = (try? log?.withConnection { db -> Int64? in try db.scalar("SELECT coalesce(max(seq), 0) FROM events")?.int64 }) ?? nil
            var message: String?
            if let now, now != seq, let change = try? ReportData.changes(experimentDirectory: feed.directory, since: seq) {
                lock.withLock { feed.seq = change.seq }
                message = Self.frame(change.json)
            } else if Date().timeIntervalSince(lastSent) >= heartbeat {
                message = ": still here\n\n"
            }
            guard let message else { continue }
            lastSent = Date()
            let gone = subscribers.filter { !$0.value(message) }.map(\.key)
            if !gone.isEmpty { lock.withLock { for id in gone { feed.subscribers[id] = nil } } }
        }
    }
}
