import Foundation
import JSON
import TestSupport
import Testing

/// `clowdr share` as a login node's other users meet it: 127.0.0.1 is theirs too, so the share needs its secret;
/// `--json` says where it listens; the secret is in no process's arguments.
@Suite(
    "clowdr share: private by default", .serialized,
    .enabled(if: TestSupport.binary("clowdr") != nil && TestSupport.binary("clowdr-share") != nil, "build clowdr and clowdr-share first"))
struct ShareAccessTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"
    static let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]

    /// Starts `clowdr share DIR --port 0 --json` with `extra`; returns the process and what it printed.
    func start(_ dir: String, _ extra: [String] = []) throws -> (Process, JSONValue) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: clowdr)
        p.arguments = ["share", dir, "--port", "0", "--json"] + extra
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        return (p, try JSONParser.parse([UInt8](line)))
    }

    /// curl's status for `url`, as this user or as nobody, with `headers`.
    func status(_ url: String, asNobody: Bool = false, headers: [String] = []) throws -> String {
        let curl = ["/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"] + headers.flatMap { ["-H", $0] } + [url]
        let command = asNobody ? Self.asNobody + curl : curl
        return try TestSupport.run(command[0], Array(command.dropFirst())).stdout
    }

    @Test("another user of the machine is refused without the secret and let in with it; --json prints the URL to open; --no-token opens it")
    func anotherUser() throws {
        let dir = try TestSupport.temporaryDirectory("share-access")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let id = "2027-01-01_00-00-00-ACCESS01"
        try FileManager.default.createDirectory(atPath: dir + "/" + id, withIntermediateDirectories: true)
        let made = try TestSupport.run(
            TestSupport.binary("clowdr-testkit") ?? "clowdr-testkit", ["synth-experiment", "--dir", dir + "/" + id, "--tasks", "3", "--samples", "2"])
        #expect(made.status == 0, "\(made.stderr)")
        let (server, printed) = try start(dir)
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let url = try #require(printed["url"]?.stringValue)
        let port = try #require(printed["port"].flatMap { Int($0.description) })
        #expect(url.hasPrefix("http://127.0.0.1:\(port)/?token=") && printed["secret"] == .bool(true), "\(printed)")
        let token = String(url.split(separator: "=").last ?? "")
        let page = "http://127.0.0.1:\(port)/e/\(id)/"
        let ps = try TestSupport.run("/bin/ps", ["-eo", "args"]).stdout
        #expect(!ps.contains(token), "the secret is in no process's arguments")
        #expect(try status(page) == "403")
        #expect(try status(page + "?token=wrong") == "403")
        #expect(try status(page, headers: ["Authorization: Bearer \(token)"]) == "200")
        #expect(try status(page + "?token=\(token)") == "302", "the URL's token is exchanged for a cookie")
        if getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
            #expect(try status(page, asNobody: true) == "403", "another user without the secret")
            #expect(try status(page + "api/core", asNobody: true) == "403")
            #expect(try status(page, asNobody: true, headers: ["Authorization: Bearer \(token)"]) == "200", "the secret is the key, not the user")
        }
        let (open, said) = try start(dir, ["--no-token"])
        defer {
            open.terminate()
            open.waitUntilExit()
        }
        let openURL = try #require(said["url"]?.stringValue)
        #expect(!openURL.contains("token") && said["secret"] == .bool(false), "\(said)")
        #expect(try status(openURL + "e/\(id)/") == "200")
    }
}
