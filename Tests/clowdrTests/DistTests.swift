import Foundation
import TestSupport
import Testing

/// `make dist`'s tarball: clowdr with its own loader and libraries, run where there is no C library at all (the
/// busybox image of the container tests, made from Debian's static busybox). The bundling is that of `make dist`
/// (scripts/dist/make-dist.sh), over the debug build the tests already have.
@Suite(
    "make dist: one tarball that runs on any x86-64 Linux",
    .enabled(
        if: TestSupport.binary("clowdr") != nil && TestSupport.hasBusyboxImage,
        "needs podman and localhost/clowdr-busybox:test: run scripts/containers/make-test-image.sh (make test does)"))
struct DistTests {
    @Test("the tarball runs an experiment in a busybox container with no C library; the host's clowdr reads the record")
    func busybox() throws {
        let dir = try TestSupport.temporaryDirectory("dist")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try TestSupport.run(
            TestSupport.repositoryRoot + "/scripts/dist/make-dist.sh", [TestSupport.buildDirectory, dir + "/out"])
        try #require(made.status == 0, "\(made.stdout) \(made.stderr)")
        let tarball = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(tarball.hasSuffix("-linux-x86_64.tar.gz") && FileManager.default.fileExists(atPath: tarball))
        // Unpacked as a user would, into a fresh folder.
        try FileManager.default.createDirectory(atPath: dir + "/opt", withIntermediateDirectories: true)
        #expect(try TestSupport.run("/bin/tar", ["-xzf", tarball, "-C", dir + "/opt"]).status == 0)
        let install = try FileManager.default.contentsOfDirectory(atPath: dir + "/opt").first!
        let work = dir + "/work"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let d =
            #"{"name":"b","tool-version":"1","description":"d","schema-version":"0.5","command-line":"echo hello [K] > out-[K].txt; exit [K]","inputs":[{"id":"k","name":"k","type":"Number","integer":true,"value-key":"[K]"}]}"#
        try d.write(toFile: work + "/d.json", atomically: true, encoding: .utf8)
        try #"{"k": [0, 3]}"#.write(toFile: work + "/i.json", atomically: true, encoding: .utf8)
        func inBusybox(_ arguments: [String]) throws -> TestSupport.Output {
            try TestSupport.run(
                "/usr/bin/env",
                [
                    "CONTAINERS_CONF=\(TestSupport.repositoryRoot)/scripts/containers/containers.conf", "podman", "run", "--rm", "--network=none",
                    "-v", "\(dir)/opt:/opt:ro", "-v", "\(work):/work", "-w", "/work", "localhost/clowdr-busybox:test",
                    "/opt/\(install)/bin/clowdr",
                ] + arguments)
        }
        let noLibc = try TestSupport.run(
            "/usr/bin/env",
            [
                "CONTAINERS_CONF=\(TestSupport.repositoryRoot)/scripts/containers/containers.conf", "podman", "run", "--rm",
                "localhost/clowdr-busybox:test", "sh", "-c", "ls /lib* /usr/lib 2>/dev/null | wc -l",
            ])
        #expect(noLibc.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "the image has no C library: \(noLibc.stdout)")
        let version = try inBusybox(["--version"])
        #expect(version.status == 0 && !version.stdout.isEmpty, "\(version.stdout) \(version.stderr)")
        let run = try inBusybox(["run", "d.json", "i.json", "--sweep", "k", "--provdir", "prov"])
        #expect(run.status == 1 && run.stdout.contains("2 attempts: 1 succeeded, 1 failed"), "\(run.stdout) \(run.stderr)")
        #expect(try String(contentsOfFile: work + "/out-0.txt", encoding: .utf8) == "hello 0\n")
        let clowdr = TestSupport.binary("clowdr")!
        let status = try TestSupport.run(clowdr, ["query", "--format", "csv", work + "/prov"])
        #expect(status.stdout.contains("\n0,1,succeeded,0,") && status.stdout.contains("\n1,1,failed,3,"), "\(status.stdout) \(status.stderr)")
        let peaks = try TestSupport.run(clowdr, ["query", "--sql", "SELECT min(peak_rss) FROM attempts", "--format", "csv", work + "/prov"])
        #expect((Int(peaks.stdout.split(separator: "\n").last ?? "") ?? 0) > 0, "the shim reported the peaks: \(peaks.stdout)")
    }
}
