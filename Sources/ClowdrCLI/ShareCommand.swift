import ArgumentParser
import ClowdrErrors
import EventLog
import Foundation
import Runner
import Share

/// `clowdr share EXPERIMENT|PROVDIR [--host 127.0.0.1] [--port 8050] [--no-token] [--json]`: checks what to serve,
/// makes the share's secret, and hands over (`exec`) to `clowdr-share`, the server installed beside clowdr (kept
/// apart so that no other clowdr process, the worker on every node included, loads a network server library).
struct ShareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "share",
        abstract: "Serve the live report of an experiment (or an index of a PROVDIR's experiments) over HTTP.",
        discussion: """
            The page is the report of `clowdr export html`, fed from the log as it grows: each change is pushed to it \
            (Server-Sent Events) and shown within a fraction of a second. Read-only: only the report's pages and data \
            are served, never files by path, and only GET and HEAD. Private by default: the address printed carries \
            a secret (?token=...), which the browser then keeps in a cookie; anyone without it is refused, other \
            users of the same machine included (127.0.0.1 is theirs too). --no-token serves anyone who can reach the \
            port. Listens on 127.0.0.1 unless --host says otherwise; --port 0 picks a free port; the address is \
            printed once the server accepts connections (--json: as JSON). Ctrl-C stops it.
            """)

    @Argument(help: "An experiment folder, or a PROVDIR (an index of its experiments).")
    var target = "provdir"

    @Flag(name: [.customShort("V"), .long], help: "Print one line per request: method, path (its secret hidden), status, size, time.")
    var verbose = false

    @Flag(name: [.short, .long], help: "The same as --verbose (the original Clowdr's flag for server messages).")
    var debug = false

    @Option(help: "The address to listen on (127.0.0.1: this machine only).")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    var port: Int = 8050

    @Flag(help: "Serve without a secret: anyone who can reach the port reads the report (every user of this machine on 127.0.0.1).")
    var noToken = false

    @Flag(help: "Print the address as JSON once listening: {\"url\": ..., \"host\": ..., \"port\": ..., \"secret\": true|false}.")
    var json = false

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
        let server = URL(fileURLWithPath: Installation.executable).deletingLastPathComponent().appendingPathComponent("clowdr-share").path
        guard FileManager.default.isExecutableFile(atPath: server) else {
            throw CodedFailure(
                "clowdr share needs clowdr-share beside clowdr (\(server) is missing): install both (make dist puts them in bin/), or build it: swift build --product clowdr-share",
                code: "share.server_missing")
        }
        var arguments = [server, target, "--host", host, "--port", String(port)]
        if verbose || debug { arguments.append("--verbose") }
        if json { arguments.append("--json") }
        // The secret travels in the environment, which other users cannot read (arguments they can, in ps).
        var environment = ProcessInfo.processInfo.environment
        environment["CLOWDR_SHARE_TOKEN"] = noToken ? nil : ShareAccess.newToken()
        // Ctrl-C and SIGTERM end the server at once (it holds nothing to flush), even if the parent ignored them.
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        var stop = sigset_t()
        sigemptyset(&stop)
        sigaddset(&stop, SIGINT)
        sigaddset(&stop, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &stop, nil)  // a parent may have started us with them blocked
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        execve(server, argv, envp)
        throw CodedFailure("cannot start \(server): \(String(cString: strerror(errno)))", code: "share.server_failed")
    }
}
