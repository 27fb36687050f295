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
        // The manual page as make dist makes it: argument-parser's generate-manual over this clowdr (its tool sits
        // beside the debug build; make dist runs it through the package plugin).
        var environment: [String: String] = [:]
        let manualTool = TestSupport.buildDirectory + "/generate-manual-tool"
        if FileManager.default.isExecutableFile(atPath: manualTool) {
            try FileManager.default.createDirectory(atPath: dir + "/man", withIntermediateDirectories: true)
            let manual = try TestSupport.run(manualTool, [TestSupport.binary("clowdr")!, "--date", "2026-01-01", "-o", dir + "/man"])
            #expect(manual.status == 0, "\(manual.stderr)")
            environment["CLOWDR_MANUAL"] = dir + "/man/clowdr.1"
        }
        let made = try TestSupport.run(
            TestSupport.repositoryRoot + "/scripts/dist/make-dist.sh", [TestSupport.buildDirectory, dir + "/out"], environment: environment)
        try #require(made.status == 0, "\(made.stdout) \(made.stderr)")
        let tarball = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(tarball.hasSuffix("-linux-x86_64.tar.gz") && FileManager.default.fileExists(atPath: tarball))
        // Unpacked as a user would, into a fresh folder.
        try FileManager.default.createDirectory(atPath: dir + "/opt", withIntermediateDirectories: true)
        #expect(try TestSupport.run("/bin/tar", ["-xzf", tarball, "-C", dir + "/opt"]).status == 0)
        let install = try FileManager.default.contentsOfDirectory(atPath: dir + "/opt").first!
        // Completions for bash, zsh and fish, and the manual; bash reads its script.
        let share = dir + "/opt/" + install + "/share/"
        for file in ["bash-completion/completions/clowdr", "zsh/site-functions/_clowdr", "fish/vendor_completions.d/clowdr.fish"] {
            #expect(((try? String(contentsOfFile: share + file, encoding: .utf8)) ?? "").contains("clowdr"), "\(file)")
        }
        #expect(try TestSupport.run("/bin/bash", ["-n", share + "bash-completion/completions/clowdr"]).status == 0)
        if environment["CLOWDR_MANUAL"] != nil {
            let page = try String(contentsOfFile: share + "man/man1/clowdr.1", encoding: .utf8)
            // The manual names the command and its subcommands, down to export's.
            #expect(page.contains(".Nm clowdr") && page.contains(".It Em rocrate"), "\(page.prefix(200))")
        }
        let work = dir + "/work"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let d =
            #"{"name":"b","tool-version":"1","description":"d","schema-version":"0.5","command-line":"echo hello [K] > [OUT]; exit [K]","inputs":[{"id":"k","name":"k","type":"Number","integer":true,"value-key":"[K]"}],"output-files":[{"id":"out","name":"out","value-key":"[OUT]","path-template":"out-[K].txt"}]}"#
        try d.write(toFile: work + "/d.json", atomically: true, encoding: .utf8)
        try #"{"k": [0, 3]}"#.write(toFile: work + "/i.json", atomically: true, encoding: .utf8)
        func inBusybox(_ arguments: [String], environment: [String] = []) throws -> TestSupport.Output {
            try TestSupport.run(
                "/usr/bin/env",
                [
                    "CONTAINERS_CONF=\(TestSupport.repositoryRoot)/scripts/containers/containers.conf", "podman", "run", "--rm", "--network=none",
                    "-v", "\(dir)/opt:/opt:ro", "-v", "\(work):/work", "-w", "/work",
                ] + environment.flatMap { ["-e", $0] } + ["localhost/clowdr-busybox:test", "/opt/\(install)/bin/clowdr"] + arguments)
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
        // The outputs' checksums: libcrypto, loaded on first use from the tarball's own libraries.
        let events = try TestSupport.run(clowdr, ["events", "--no-samples", work + "/prov"]).stdout
        #expect(events.contains("5cac75949d52bdd627c7bb0770e2848ffad0c122a159ffa463f4ec0a5f53c82e"), "sha256 of out-0.txt: \(events)")

        // The AWS client loads libcurl on its first request (it is not linked): the tarball carries it and its
        // libraries. Nothing listens in the container, so the request fails as a refused connection, after libcurl
        // loaded; without libcurl, the error says what to install, at once.
        let aws = ["AWS_ACCESS_KEY_ID=a", "AWS_SECRET_ACCESS_KEY=b", "AWS_ENDPOINT_URL=http://127.0.0.1:1", "HOME=/work"]
        let refused = try inBusybox(["cloud", "setup", "--region", "us-east-1"], environment: aws)
        #expect(refused.status == 3 && refused.stderr.contains("error[aws.unreachable]"), "\(refused.stdout) \(refused.stderr)")
        try FileManager.default.removeItem(atPath: dir + "/opt/\(install)/lib/clowdr/libcurl.so.4")
        let missing = try inBusybox(["cloud", "setup", "--region", "us-east-1"], environment: aws)
        #expect(
            missing.status == 3 && missing.stderr.contains("error[aws.no_libcurl]") && missing.stderr.contains("libcurl4"),
            "\(missing.stdout) \(missing.stderr)")
        // Without libcrypto (loaded at the first checksum): the error says what to install.
        try FileManager.default.removeItem(atPath: dir + "/opt/\(install)/lib/clowdr/libcrypto.so.3")
        let noCrypto = try inBusybox(["run", "d.json", "i.json", "--sweep", "k", "--provdir", "prov-broken"])
        #expect(noCrypto.status == 127 && noCrypto.stderr.contains("error[system.no_libcrypto]"), "\(noCrypto.stdout) \(noCrypto.stderr)")
    }
}
