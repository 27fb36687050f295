import ArgumentParser
import ClowdrErrors
import Foundation
import Share
import ShareHTTP

/// The server `clowdr share` starts (`exec`), with the secret in `CLOWDR_SHARE_TOKEN` (never in the arguments,
/// which every user of the machine can read in `ps`). Prints the address to open once it accepts connections, then
/// serves until it is stopped.
@main
struct ClowdrShare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clowdr-share", abstract: "The server behind `clowdr share` (run that instead: it checks the arguments and makes the secret).")

    @Argument(help: "An experiment folder, or a PROVDIR.")
    var target: String

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    var port = 8050

    @Flag(name: [.customShort("V"), .long], help: "Print one line per request.")
    var verbose = false

    @Flag(help: "Print the address as JSON.")
    var json = false

    func run() throws {
        let token = ProcessInfo.processInfo.environment["CLOWDR_SHARE_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        unsetenv("CLOWDR_SHARE_TOKEN")
        let isExperiment = FileManager.default.fileExists(atPath: target + "/clowdr.db")
        let site = ShareSite(root: isExperiment ? .experiment(target) : .provdir(target))
        var log: (@Sendable (String) -> Void)?
        if verbose { log = { (line: String) in FileHandle.standardError.write(Data("clowdr share: \(line)\n".utf8)) } }
        let server = ShareServer(site: site, host: host, port: port, token: token, log: log)
        let bound: Int
        do { bound = try server.start() } catch let e as CodedFailure where e.isUsageError {
            FileHandle.standardError.write(Data("clowdr share: error[\(e.errorCode)]: --host: \(e.message)\n".utf8))
            Foundation.exit(2)
        }
        let url = server.url(port: bound)
        let line =
            json
            ? #"{"url":"\#(url)","host":"\#(host)","port":\#(bound),"secret":\#(token == nil ? "false" : "true")}"# + "\n"
            : "serving \(url)  (\(isExperiment ? "experiment" : "experiments of") \(target); Ctrl-C stops)\n"
        FileHandle.standardOutput.write(Data(line.utf8))  // unbuffered: scripts wait for this line
        while true { pause() }
    }
}
