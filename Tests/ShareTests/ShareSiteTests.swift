import EventLog
import Export
import Foundation
import JSON
import Share
import TestSupport
import Testing

/// What `clowdr share` answers, request by request (no sockets: the site is independent of the server).
@Suite("clowdr share: routes")
struct ShareSiteTests {
    /// A PROVDIR with one small experiment of two tasks.
    func provdir() throws -> (provdir: String, id: String) {
        let provdir = try TestSupport.temporaryDirectory("share")
        let id = "2027-01-01_00-00-00-SHARE001"
        let dir = provdir + "/" + id
        try FileManager.default.createDirectory(atPath: dir + "/tasks", withIntermediateDirectories: true)
        try "hello from task 0\n".write(toFile: dir + "/tasks/0.1.stdout", atomically: false, encoding: .utf8)
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        let f = EventFactory(clock: SteppingClock(), ids: SequentialIDSource())
        try log.append([
            f.make(
                .experimentCreated(
                    ExperimentCreated(
                        experiment: id, name: "shared", descriptorSHA256: "00", invocations: [], options: [:], backend: "local", user: "u", host: "h",
                        clowdrVersion: "0", os: "Linux"))),
            f.make(task: "0", .taskPlanned(TaskPlanned(invocation: ["x": 1], commandLine: "tool 1"))),
            f.make(task: "1", .taskPlanned(TaskPlanned(invocation: ["x": 2], commandLine: "tool 2"))),
            f.make(task: "0", attempt: 1, .taskStarted(TaskStarted(host: "h", pid: 1))),
            f.make(task: "0", attempt: 1, .taskExited(TaskExited(exitCode: 0, wallTime: 1, cpuUser: 1, peakRSS: 1000))),
        ])
        try "not served\n".write(toFile: provdir + "/secret.txt", atomically: false, encoding: .utf8)
        return (provdir, id)
    }

    func body(_ r: ShareSite.Response) -> String { String(decoding: r.body, as: UTF8.self) }

    @Test("the index lists the PROVDIR's experiments; the page and its data are served; a single experiment redirects")
    func routes() throws {
        let (provdir, id) = try provdir()
        let site = ShareSite(root: .provdir(provdir))
        let index = site.respond(method: "GET", path: "/", acceptsGzip: true)
        #expect(index.status == 200 && body(index).contains("/e/\(id)/") && body(index).contains("1 planned, 1 succeeded"), "\(body(index))")
        let page = site.respond(method: "GET", path: "/e/\(id)/", acceptsGzip: true)
        #expect(page.status == 200 && body(page).contains("\"api\":\"/e/\(id)/api/\"") && body(page).contains("connect-src 'self'"))
        let version = site.respond(method: "GET", path: "/e/\(id)/api/version", acceptsGzip: true)
        #expect(body(version) == "{\"seq\":5}")
        let core = site.respond(method: "GET", path: "/e/\(id)/api/core", acceptsGzip: false)
        #expect(core.status == 200 && !core.gzipped && body(core).hasPrefix("{\"format\":\"clowdr-report/1\",\"seq\":5"))
        let gz = site.respond(method: "GET", path: "/e/\(id)/api/detail", acceptsGzip: true)
        #expect(gz.status == 200 && gz.gzipped && gz.body.prefix(2) == Data([0x1f, 0x8b]))
        let task = site.respond(method: "GET", path: "/e/\(id)/api/task/0", acceptsGzip: true)
        #expect(task.status == 200 && body(task).contains("hello from task 0"))
        let single = ShareSite(root: .experiment(provdir + "/" + id))
        let redirect = single.respond(method: "GET", path: "/", acceptsGzip: true)
        #expect(redirect.status == 302 && redirect.location == "/e/\(id)/")
    }

    @Test("read-only and nothing but its own routes: no traversal, no files by path, no other methods")
    func refusals() throws {
        let (provdir, id) = try provdir()
        let site = ShareSite(root: .provdir(provdir))
        for path in [
            "/secret.txt", "/e/\(id)/clowdr.db", "/e/\(id)/tasks/0.1.stdout", "/e/../secret.txt", "/e/\(id)/../../secret.txt", "/e/%2e%2e/secret.txt",
            "/e/\(id)/api/task/..", "/e/\(id)/api/task/9", "/e/nope/", "/e/\(id)/api/other", "/e/\(id)/api/task/0/../../x", "/../etc/passwd",
        ] {
            let r = site.respond(method: "GET", path: path, acceptsGzip: true)
            #expect(r.status == 404, "\(path) gave \(r.status)")
            #expect(!body(r).contains("not served"))
        }
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            #expect(site.respond(method: method, path: "/e/\(id)/api/core", acceptsGzip: true).status == 405)
        }
        #expect(site.respond(method: "HEAD", path: "/e/\(id)/api/version", acceptsGzip: true).status == 200)
    }
}
