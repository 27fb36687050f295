public import ArgumentParser
import ClowdrErrors
import EventLog
import Foundation
import Logging

/// The `clowdr` command: runs a pipeline over many subjects and keeps a complete record of every execution.
///
/// The executable's `main.swift` calls ``main()``; tests parse and ask for help in-process
/// (`Clowdr.parseAsRoot(_:)`, `Clowdr.helpMessage(for:)`).
public struct Clowdr: ParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "clowdr",
        abstract: "Run a Boutiques tool over many subjects and keep a complete, queryable record of every execution.",
        discussion: """
            Every launch, monitor sample, exit and rerun is an event in the experiment's append-only log \
            (PROVDIR/<experiment-id>/clowdr.db). Status, reruns, queries and reports are derived from it.

            Exit status: 0 done; 1 the work failed (some task failed or was cancelled, a check found problems: \
            fsck, archive --verify); 2 a usage error (nothing was done); 3 clowdr itself could not do what was \
            asked (a file it cannot write, a scheduler or cloud API still failing after its retries, a damaged \
            log): the message says what, where, and what to do.
            """,
        version: ClowdrVersion.current,
        subcommands: [
            RunCommand.self, RerunCommand.self, WatchCommand.self, StatusCommand.self, QueryCommand.self, LineageCommand.self, DiffCommand.self,
            ExportCommand.self, ShareCommand.self,
            ArchiveCommand.self, LocalCommand.self,
            ClusterCommand.self, CloudCommand.self, SyncCommand.self,
            TaskCommand.self,
            ValidateCommand.self,
            SimulateCommand.self, FsckCommand.self, UpgradeCommand.self,
            IngestCommand.self,
            EventsCommand.self,
        ]
    )

    /// Runs the command line: a usage error exits with 2, clowdr's own failure with 3, each with a message on stderr;
    /// a command that ran and found its work failed (tasks, checks) throws `ExitCode(1)`.
    public static func main() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["CLOWDR_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
            return handler
        }
        var command: any ParsableCommand
        do { command = try parseAsRoot() } catch {
            let code = exitCode(for: error)
            if code == .success || error is CleanExit { exit(withError: error) }
            // Bad flags or arguments: a usage error (exit 2), with the command's usage line.
            fail(code: "usage.invalid", message: withoutPrefix(fullMessage(for: error)), exitCode: 2)
        }
        do { try command.run() } catch let error as any CodedError {
            fail(code: error.errorCode, message: error.description, exitCode: error.isUsageError ? 2 : failed)
        } catch let error as CLIError {
            fail(code: error.code, message: error.message, exitCode: error.exitCode)
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch {
            // Help asked for by running a command group alone; else a ValidationError raised while running (a
            // path that names no experiment...): a usage error.
            let code = exitCode(for: error)
            if code == .success || error is CleanExit { exit(withError: error) }
            fail(
                code: code == .validationFailure ? "usage.invalid" : "cli.failed", message: withoutPrefix(message(for: error)),
                exitCode: code == .validationFailure ? 2 : failed)
        }
    }

    /// The exit status of clowdr's own failure (1 is the work's: a task, a check).
    static let failed: Int32 = 3

    /// ArgumentParser's message without its own "Error: " prefix (ours is `clowdr: error[CODE]: `).
    static func withoutPrefix(_ message: String) -> String {
        message.hasPrefix("Error: ") ? String(message.dropFirst("Error: ".count)) : message
    }

    /// Reports an error the one way every command does, `clowdr: error[CODE]: MESSAGE` on standard error (and as
    /// JSON on standard output when `--json` was asked for), then exits.
    static func fail(code: String, message: String, exitCode: Int32) -> Never {
        FileHandle.standardError.write(Data("clowdr: error[\(code)]: \(message)\n".utf8))
        if CommandLine.arguments.contains("--json") {
            let object = ["error": ["code": code, "message": message, "exit_code": Int(exitCode)] as [String: Any]]
            FileHandle.standardOutput.write(Data((JSONOutput.line(object) + "\n").utf8))
        }
        Foundation.exit(exitCode)
    }
}

/// An error the CLI finds itself: a stable code, a message for people and the exit code to leave with.
struct CLIError: Error {
    var code: String
    var message: String
    var exitCode: Int32

    static func usage(_ message: String, code: String = "usage.invalid") -> CLIError { CLIError(code: code, message: message, exitCode: 2) }
    static func failure(_ message: String, code: String = "cli.failed") -> CLIError {
        CLIError(code: code, message: message, exitCode: Clowdr.failed)
    }
}
