import EventLog
import Foundation
import JSON

/// `clowdr-bench share [--tasks N] [--viewers V]`: `clowdr share` on a synthetic experiment of N tasks (100,000 by
/// default) followed by V pages at once (50: one headless Chromium, the others event streams read as a browser
/// would), while events are appended to the log one a second: how long after each event the Chromium page shows it,
/// pushed (Server-Sent Events) and polled (`?push=off`, the page as it was: the version asked twice a second, then
/// the documents). Then the start time of clowdr itself, which the server's library must not change.
func shareBenchmark() throws {
    let n = argument("--tasks", default: "100000")
    let viewers = Int(argument("--viewers", default: "50"))!
    let root = NSTemporaryDirectory() + "clowdr-sharebench-\(getpid())"
    let dir = root + "/2026-01-01_00-00-00-SHAREBEN"
    defer { try? FileManager.default.removeItem(atPath: root) }
    let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    let synth = Process()
    synth.executableURL = URL(fileURLWithPath: bin + "/clowdr-testkit")
    synth.arguments = ["synth-experiment", "--dir", dir, "--tasks", n, "--samples", "50"]
    synth.standardOutput = FileHandle.nullDevice
    try synth.run()
    synth.waitUntilExit()
    print("share benchmark: synthetic experiment of \(n) tasks, \(viewers) viewers (1 Chromium page, \(viewers - 1) event streams)")
    let script = "scripts/browser/check-page.py"
    guard FileManager.default.fileExists(atPath: script) else { return print("  (no \(script): skipped)") }

    // The server, and where it listens.
    let server = Process()
    server.executableURL = URL(fileURLWithPath: bin + "/clowdr")
    server.arguments = ["share", dir, "--port", "0", "--json"]
    let out = Pipe()
    server.standardOutput = out
    try server.run()
    defer { server.terminate() }
    var line = Data()
    while !line.contains(UInt8(ascii: "\n")) {
        let chunk = out.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        line += chunk
    }
    guard let url = try JSONParser.parse([UInt8](line))["url"]?.stringValue, let q = url.firstIndex(of: "?") else {
        return print("  clowdr share printed no address: \(String(decoding: line, as: UTF8.self))")
    }
    let base = String(url[..<q])
    let token = String(url[url.index(after: q)...].dropFirst("token=".count))
    let port = UInt16(base.split(separator: ":").last!.dropLast())!
    let id = (dir as NSString).lastPathComponent
    let followers = EventStreams(port: port, path: "/e/\(id)/api/events", token: token, count: viewers - 1)

    let log = try EventLog(path: dir, mode: .readWrite)
    let factory = EventFactory()
    for mode in ["push", "poll"] {
        let start = try log.replay().lastSeq
        let events = 10
        let page = Process()
        page.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        page.arguments = [
            script, base + "e/\(id)/?token=\(token)" + (mode == "poll" ? "&push=off" : ""), "--timeout", "180", "--step",
            "done=wait:Number(document.body.dataset.seq) >= \(start + Int64(events))",
        ]
        let pageOut = Pipe()
        page.standardOutput = pageOut
        try page.run()
        // The page of 100,000 tasks is ready in a few seconds; then one event a second, each about another task.
        Thread.sleep(forTimeInterval: 15)
        var written: [(seq: Int64, at: Double)] = []
        for k in 0..<events {
            try log.append([factory.make(task: String(k * 997 % 100_000), attempt: 2, .taskStarted(TaskStarted(host: "bench", pid: 1)))])
            written.append((start + Int64(k + 1), Date().timeIntervalSince1970))
            Thread.sleep(forTimeInterval: 1)
        }
        let result = pageOut.fileHandleForReading.readDataToEndOfFile()
        page.waitUntilExit()
        guard let r = try? JSONParser.parse([UInt8](result)), case .array(let changes)? = r["seq_changes"] else {
            print("  \(mode): the page run failed: \(String(decoding: result.prefix(300), as: UTF8.self))")
            continue
        }
        var delays: [Double] = []
        var previous = start
        for change in changes {
            guard case .array(let c) = change, c.count >= 3, let seq = Int64(c[1].stringValue ?? ""), let shown = Double(c[2].stringValue ?? ""),
                seq > previous
            else { continue }
            if let first = written.first(where: { $0.seq > previous && $0.seq <= seq }) { delays.append(shown / 1000 - first.at) }
            previous = seq
        }
        delays.sort()
        func ms(_ x: Double?) -> String { x.map { String(format: "%.0f", $0 * 1000) } ?? "?" }
        print(
            "  \(mode == "push" ? "pushed (Server-Sent Events)" : "polled (?push=off, as before)"): \(delays.count) of \(events) events seen; event to screen median \(ms(delays.isEmpty ? nil : delays[delays.count / 2])) ms, max \(ms(delays.last)) ms\(mode == "push" ? "  [goal < 200 ms]" : "")"
        )
    }
    print("  event streams followed meanwhile: \(followers.open()) of \(viewers - 1) still open, \(followers.frames()) frames received")

    // clowdr's own start (what every worker pays on every node): it links no part of the server.
    var times: [Double] = []
    let exe = bin + "/clowdr"
    for _ in 0..<30 {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(exe), strdup("--version"), nil]
        defer { for a in argv { free(a) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let t = DispatchTime.now().uptimeNanoseconds
        guard posix_spawn(&pid, exe, &actions, nil, argv, environ) == 0 else { break }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
        posix_spawn_file_actions_destroy(&actions)
    }
    guard times.count == 30 else { return print("  could not start \(exe)") }
    times.sort()
    print("  clowdr --version (a worker's start): median \(String(format: "%.1f", times[15])) ms over 30 starts")
}

/// Event-stream followers: sockets that ask for the page's feed and read whatever comes, as browsers would.
final class EventStreams: @unchecked Sendable {
    private let lock = NSLock()
    private var received = 0
    private var live = 0

    init(port: UInt16, path: String, token: String, count: Int) {
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard ok == 0 else { continue }
            let request = "GET \(path) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nAccept: text/event-stream\r\n\r\n"
            _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            lock.withLock { live += 1 }
            Thread.detachNewThread { [self] in
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if got <= 0 { break }
                    let frames = buffer[..<got].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).filter {
                        $0.starts(with: Array("data:".utf8))
                    }.count
                    lock.withLock { received += frames }
                }
                lock.withLock { live -= 1 }
                close(fd)
            }
        }
    }

    func open() -> Int { lock.withLock { live } }
    func frames() -> Int { lock.withLock { received } }
}
