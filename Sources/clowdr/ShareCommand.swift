import ArgumentParser
import ClowdrErrors
import EventLog
import Foundation
import Share

/// `clowdr share EXPERIMENT|PROVDIR [--host 127.0.0.1] [--port 8050]`.
struct ShareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "share",
        abstract: "Serve the live report of an experiment (or an index of a PROVDIR's experiments) over HTTP.",
        discussion: """
            The page is the report of `clowdr export html`, fed from the log as it grows: it checks for new events \
            every second and redraws within 2 s of them. Read-only: only the report's pages and data are served, \
            never files by path, and only GET and HEAD. Listens on 127.0.0.1 unless --host says otherwise; \
            --port 0 picks a free port. The address is printed once the server accepts connections. Ctrl-C stops it.
            """)

    @Argument(help: "An experiment folder, or a PROVDIR (an index of its experiments).")
    var target = "provdir"

    @Flag(name: [.customShort("V"), .long], help: "Print one line per request: method, path, status, size, time.")
    var verbose = false

    @Flag(name: [.short, .long], help: "The same as --verbose (the original Clowdr's flag for server messages).")
    var debug = false

    @Option(help: "The address to listen on (127.0.0.1: this machine only).")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    var port: Int = 8050

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, not \(port)") }
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: target, isDirectory: &isDir), isDir.boolValue else {
            throw ValidationError("\(target) is not a folder: give an experiment folder or a PROVDIR")
        }
        if !fm.fileExists(atPath: target + "/" + EventLog.fileName) && ExperimentLayout.experiments(inProvdir: target).isEmpty {
            throw ValidationError("\(target) holds no experiment: give an experiment folder (PROVDIR/<experiment-id>) or a PROVDIR")
        }
    }

    func run() throws {
        // Ctrl-C and SIGTERM end the server at once (it holds nothing to flush), even if the parent ignored them.
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        var stop = sigset_t()
        sigemptyset(&stop)
        sigaddset(&stop, SIGINT)
        sigaddset(&stop, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &stop, nil)  // a parent may have started us with them blocked
        let isExperiment = FileManager.default.fileExists(atPath: target + "/" + EventLog.fileName)
        let site = ShareSite(root: isExperiment ? .experiment(target) : .provdir(target))
        var log: (@Sendable (String) -> Void)?
        if verbose || debug {
            log = { (line: String) in FileHandle.standardError.write(Data("clowdr share: \(line)\n".utf8)) }
        }
        let server = ShareServer(site: site, host: host, port: UInt16(port), log: log)
        do {
            try server.run { url in
                let line = "serving \(url)  (\(isExperiment ? "experiment" : "experiments of") \(target); Ctrl-C stops)\n"
                FileHandle.standardOutput.write(Data(line.utf8))  // unbuffered: scripts wait for this line
            }
        } catch let e as CodedFailure where e.isUsageError {
            throw CLIError.usage("--host: \(e.message)", code: e.errorCode)
        }
    }
}
