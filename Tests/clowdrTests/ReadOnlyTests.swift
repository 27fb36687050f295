import Foundation
import TestSupport
import Testing

/// Reading never writes: every command that reads an experiment works on one stored where this user cannot write
/// (a colleague's folder, read-only media) and changes no byte of it. The commands run as `nobody` (through
/// setpriv) on an experiment that root made, so the folder is really not writable for them.
@Suite(
    "reading never writes", .serialized,
    .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"),
    .enabled(
        if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
        "needs root and setpriv (util-linux) to run commands as nobody"))
struct ReadOnlyTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"
    static let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]

    /// Every file under `dir` with its bytes (a small experiment): what must not change.
    func fingerprint(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let walker = FileManager.default.enumerator(atPath: dir)!
        while let name = walker.nextObject() as? String {
            guard walker.fileAttributes?[.type] as? FileAttributeType == .typeRegular else { continue }
            out[name] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
        }
        return out
    }

    func nobody(_ arguments: [String]) throws -> TestSupport.Output {
        try TestSupport.run(Self.asNobody[0], Array(Self.asNobody.dropFirst()) + [clowdr] + arguments)
    }

    /// Whether `nobody` can run this build's clowdr (its folders must be readable by others).
    static let nobodyCanRun: Bool = {
        guard getuid() == 0, let clowdr = TestSupport.binary("clowdr") else { return false }
        return (try? TestSupport.run(asNobody[0], Array(asNobody.dropFirst()) + [clowdr, "--version"]))?.status == 0
    }()

    @Test(
        "status, query, fsck, events, export, share and archive --verify as another user: all work, no byte changes",
        .enabled(if: nobodyCanRun, "nobody cannot run this build's clowdr (its folders are not readable by others)"))
    func readOnlyExperiment() throws {
        let dir = try TestSupport.temporaryDirectory("readonly")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let d =
            #"{"name":"r","tool-version":"1","description":"d","schema-version":"0.5","command-line":"echo [K]; exit [K]","inputs":[{"id":"k","name":"k","type":"Number","integer":true,"value-key":"[K]"}]}"#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"k":[0,1,0]}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        _ = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "k", "-w", dir])
        let archive = try TestSupport.run(clowdr, ["archive", dir + "/prov", "--into", dir]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // Two copies: the folder as the run left it (with its empty -wal and -shm), and one copied without them.
        let exp = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").first!
        try FileManager.default.createDirectory(atPath: dir + "/copy", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: dir + "/prov/" + exp, toPath: dir + "/copy/" + exp)
        for f in ["clowdr.db-wal", "clowdr.db-shm"] { try? FileManager.default.removeItem(atPath: "\(dir)/copy/\(exp)/\(f)") }
        _ = try TestSupport.run("/bin/chmod", ["-R", "a+rX,go-w", dir])

        for provdir in [dir + "/prov", dir + "/copy"] {
            let before = try fingerprint(provdir)
            let status = try nobody(["status", provdir])
            #expect(status.status == 1 || status.status == 0)
            #expect(status.stdout.contains("3 tasks: 2 succeeded, 1 failed"), "\(provdir): \(status.stdout) \(status.stderr)")
            #expect(try nobody(["status", "--json", provdir]).status == 0)
            let top = try nobody(["query", "--top", "ram", "--format", "tsv", provdir])
            #expect(top.status == 0 && top.stdout.split(separator: "\n").count == 4, "\(top.stdout) \(top.stderr)")
            #expect(try nobody(["query", "--summary", provdir]).status == 0)
            #expect(try nobody(["query", "--sql", "SELECT count(*) FROM events", provdir]).status == 0)
            #expect(try nobody(["fsck", provdir]).stdout.hasSuffix("ok\n"))
            #expect(try nobody(["events", provdir]).stdout.contains("task_exited"))
            let json = try nobody(["export", "json", provdir, "-o", "-"])
            #expect(json.status == 0 && json.stdout.hasPrefix("{"), "\(json.stderr)")
            #expect(try nobody(["export", "prov", provdir, "-o", "-"]).stdout.contains("prov:Plan"))
            #expect(try nobody(["export", "html", provdir, "-o", "-"]).stdout.contains("<html"))
            #expect(try share(provdir).contains("<html"), "clowdr share serves the report")
            #expect(try fingerprint(provdir) == before, "\(provdir): a reading command changed the experiment")
        }
        let verified = try nobody(["archive", "--verify", archive])
        #expect(verified.status == 0 && verified.stdout.contains("every sha256 matches"), "\(verified.stdout) \(verified.stderr)")
    }

    /// Starts `clowdr share` as nobody on a free port, fetches its page, stops it.
    func share(_ provdir: String) throws -> String {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.asNobody[0])
        server.arguments = Array(Self.asNobody.dropFirst()) + [clowdr, "share", provdir, "--port", "0"]
        let out = Pipe()
        server.standardOutput = out
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        // "serving http://127.0.0.1:PORT/  (...)": the first line, once the server accepts connections.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let url = text.split(separator: " ").dropFirst().first else { return "no address in: \(text)" }
        // The PROVDIR's index, then the first experiment's report page, with the share's secret.
        let fetch = """
            import re, sys, urllib.request
            base, token = sys.argv[1].split('?token=')
            get = lambda u: urllib.request.urlopen(urllib.request.Request(u, headers={'Authorization': 'Bearer ' + token})).read().decode()
            index = get(base)
            print(get(base + re.search(r'href="/?(e/[^"]+)"', index).group(1)))
            """
        let page = try TestSupport.run("/usr/bin/env", ["python3", "-c", fetch, String(url)])
        return page.stdout + page.stderr
    }
}
