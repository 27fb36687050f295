import ArgumentParser
import Foundation

/// `clowdr-testkit`: the helper processes the tests drive (and `make bench` reuses): writers appending to a log
/// from other processes, and synthetic experiments. Not installed; not part of clowdr's interface.
@main
struct TestKit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clowdr-testkit", abstract: "Helper processes for clowdr's tests and benchmarks.",
        subcommands: [AppendWorkerCommand.self, SynthExperimentCommand.self])
}

/// Writes a line straight to fd 1, unbuffered, so a line printed is a line the reader sees even if the process is
/// killed next.
func emit(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + off, $0.count - off) }
        if n <= 0 { break }
        off += n
    }
    bytes.removeAll()
}
