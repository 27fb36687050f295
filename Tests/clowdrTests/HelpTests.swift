import ArgumentParser
import Foundation
import TestSupport
import Testing

@testable import ClowdrCLI

/// Every command's help, pinned: what `clowdr COMMAND --help` prints is compared with `Tests/clowdrTests/help/`, one
/// file per command (`clowdr-cloud-setup.txt`). A change of help text shows in review as a diff of those files; after a
/// deliberate change, `CLOWDR_UPDATE_GOLDEN=1 swift test --filter HelpTests` rewrites them (that run fails on purpose).
@Suite("every command's help, pinned")
struct HelpTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/help"

    /// Every command under `clowdr`, with the names that lead to it (`["clowdr", "cloud", "setup"]`).
    static func commands(
        _ command: any ParsableCommand.Type = Clowdr.self, path: [String] = ["clowdr"]
    ) -> [(path: [String], type: any ParsableCommand.Type)] {
        [(path, command)]
            + command.configuration.subcommands.flatMap { sub in
                commands(sub, path: path + [sub.configuration.commandName ?? sub._commandName])
            }
    }

    @Test("each command's help is its pinned text", arguments: HelpTests.commands().map(\.path))
    func pinned(path: [String]) throws {
        let type = try #require(Self.commands().first { $0.path == path }?.type)
        let help = Clowdr.helpMessage(for: type, columns: 100)
        let file = Self.folder + "/" + path.joined(separator: "-") + ".txt"
        if ProcessInfo.processInfo.environment["CLOWDR_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(atPath: Self.folder, withIntermediateDirectories: true)
            try help.write(toFile: file, atomically: true, encoding: .utf8)
            Issue.record("\(file) rewritten from this build (CLOWDR_UPDATE_GOLDEN=1): review the diff, then run the tests without it")
            return
        }
        let pinned = try String(contentsOfFile: file, encoding: .utf8)
        #expect(help == pinned, "\(path.joined(separator: " ")) --help differs from \(file) (CLOWDR_UPDATE_GOLDEN=1 rewrites it)")
    }

    @Test("no pinned help is left for a command that no longer exists")
    func noStaleFiles() throws {
        let expected = Set(Self.commands().map { $0.path.joined(separator: "-") + ".txt" })
        let present = Set(try FileManager.default.contentsOfDirectory(atPath: Self.folder))
        #expect(present.subtracting(expected).isEmpty, "help files of no command: \(present.subtracting(expected).sorted())")
    }

    @Test("every command and every argument it shows has help text")
    func everythingExplained() throws {
        // argument-parser's description of the whole tree (`clowdr --experimental-dump-help`), asked in-process.
        var dump = ""
        do { _ = try Clowdr.parseAsRoot(["--experimental-dump-help"]) } catch { dump = Clowdr.fullMessage(for: error) }
        let root = try #require(try JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [String: Any])
        var unexplained: [String] = []
        func visit(_ command: [String: Any], path: String) {
            if (command["abstract"] as? String ?? "").isEmpty { unexplained.append(path) }
            for argument in command["arguments"] as? [[String: Any]] ?? [] where argument["shouldDisplay"] as? Bool ?? true {
                let names = (argument["names"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                if (argument["abstract"] as? String ?? "").isEmpty {
                    unexplained.append("\(path) \(names.first ?? argument["valueName"] as? String ?? "?")")
                }
            }
            // argument-parser's own `help` command is not clowdr's to explain.
            for sub in command["subcommands"] as? [[String: Any]] ?? [] where sub["commandName"] as? String != "help" {
                visit(sub, path: path + " " + (sub["commandName"] as? String ?? "?"))
            }
        }
        visit(try #require(root["command"] as? [String: Any]), path: "clowdr")
        #expect(unexplained.isEmpty, "without help text: \(unexplained)")
    }
}

/// Command lines parsed in-process: which command they reach, with what, and the usage errors people meet.
@Suite("command lines, parsed in-process")
struct ParseTests {
    @Test("the original Clowdr's forms reach the commands they name")
    func originalForms() throws {
        let local = try #require(try Clowdr.parseAsRoot(["local", "d.json", "inv", "prov"]) as? LocalCommand)
        #expect(local.original.descriptor == "d.json")
        let cloud = try #require(
            try Clowdr.parseAsRoot(["cloud", "run", "d.json", "inv", "prov", "s3://b/p", "aws", #filePath]) as? CloudRunCommand)
        #expect(cloud.cloud == "aws")
    }

    @Test("--json on every summary: status, run, rerun, watch, archive, cloud setup and teardown")
    func jsonFlags() throws {
        let status = try #require(try Clowdr.parseAsRoot(["status", "--json", "exp"]) as? StatusCommand)
        #expect(status.json)
        let summaries: [any ParsableCommand.Type] = [
            RunCommand.self, RerunCommand.self, WatchCommand.self, ArchiveCommand.self, CloudSetupCommand.self, CloudTeardownCommand.self,
        ]
        for type in summaries {
            #expect(Clowdr.helpMessage(for: type).contains("--json"), "\(type._commandName) has no --json")
        }
    }

    @Test("an unknown flag, a missing argument and a bad value are usage errors that name what was wrong")
    func usageErrors() {
        let cases: [([String], String)] = [
            (["status", "--jsn", "exp"], "--jsn"),
            (["run", "d.json"], "invocation"),
            (["run", "d.json", "i.json", "--jobs", "two"], "--jobs"),
            (["export", "nonsense", "exp"], "nonsense"),
        ]
        for (line, named) in cases {
            do {
                _ = try Clowdr.parseAsRoot(line)
                Issue.record("\(line.joined(separator: " ")) parsed")
            } catch {
                #expect(Clowdr.exitCode(for: error) == .validationFailure, "\(line.joined(separator: " "))")
                #expect(Clowdr.fullMessage(for: error).contains(named), "\(line.joined(separator: " ")): \(Clowdr.fullMessage(for: error))")
            }
        }
    }
}
