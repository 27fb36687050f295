import ArgumentParser
import EventLog
import Foundation
import Logging

/// The `clowdr` command: runs a pipeline over many subjects and keeps a complete record of every execution.
@main
struct Clowdr: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clowdr",
        abstract: "Run a Boutiques tool over many subjects and keep a complete, queryable record of every execution.",
        discussion: """
            Every launch, monitor sample, exit and rerun is an event in the experiment's append-only log \
            (PROVDIR/<experiment-id>/clowdr.db). Status, reruns, queries and reports are derived from it.
            """,
        version: ClowdrVersion.current,
        subcommands: [
            Run.self, Rerun.self, Status.self, QueryCommand.self, ExportCommand.self, ShareCommand.self, ArchiveCommand.self, Local.self, Task.self,
            Validate.self,
            Simulate.self, Fsck.self,
            Ingest.self,
            Events.self,
        ]
    )

    /// Runs the command line; usage errors exit with 2, failures with 1, each with a message on stderr.
    static func main() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["CLOWDR_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
            return handler
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("clowdr: \(error.message)\n".utf8))
            Foundation.exit(error.exitCode)
        } catch let error as EventLogError {
            FileHandle.standardError.write(Data("clowdr: \(error)\n".utf8))
            if case .notFound = error { Foundation.exit(2) }
            Foundation.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is CleanExit {
                exit(withError: error)
            }
            let message = fullMessage(for: error)
            if !message.isEmpty { FileHandle.standardError.write(Data("\(message)\n".utf8)) }
            // Usage errors (bad flags, failed validation) exit with 2, as the documentation promises.
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}

/// An error the CLI reports itself: a message for people and the exit code to leave with.
struct CLIError: Error {
    var message: String
    var exitCode: Int32

    static func usage(_ message: String) -> CLIError { CLIError(message: message, exitCode: 2) }
    static func failure(_ message: String) -> CLIError { CLIError(message: message, exitCode: 1) }
}
