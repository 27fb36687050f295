import CClowdrSystem
import Foundation

/// `clowdr-shim`, the small process that runs each attempt's command line (see `Sources/clowdr-shim/main.c`), and the
/// report it writes when the command ends.
///
/// It exists for one figure: a process that clowdr starts directly inherits clowdr's own peak memory in its
/// `ru_maxrss` (Linux records the address space it had before `execve`), so the kernel's exit-time peak of every
/// small task would be clowdr's size. The shim forks the command from its own tiny address space instead and reports
/// the command's exact `rusage`.
public enum Shim {
    /// The shim's path: `CLOWDR_SHIM` when set, else beside the running executable (where `swift build` puts it, and
    /// `make dist`), else in `../libexec/clowdr/`. Nil when none is found: attempts then run directly, and their peak
    /// comes from samples alone.
    public static let path: String? = {
        if let explicit = ProcessInfo.processInfo.environment["CLOWDR_SHIM"], !explicit.isEmpty {
            return access(explicit, X_OK) == 0 ? explicit : nil
        }
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let dir = (exe as NSString).deletingLastPathComponent
        for candidate in ["\(dir)/clowdr-shim", "\(dir)/../libexec/clowdr/clowdr-shim"] where access(candidate, X_OK) == 0 {
            return (candidate as NSString).standardizingPath
        }
        return nil
    }()

    /// What the shim reports of the command it ran.
    struct Report: Equatable {
        var exitCode: Int32?
        var signal: Int32?
        var cpuUser: Double
        var cpuSystem: Double
        /// The largest peak resident size of one process of the command's tree, bytes.
        var maxRSS: Int64
        var readBlocks: Int64
        var writeBlocks: Int64
        /// Set when the command could not be started at all.
        var execErrno: Int32?

        /// Parses the shim's one line (nil for anything else: a shim killed before it wrote).
        init?(_ line: String) {
            let words = line.split(separator: " ")
            guard words.count >= 3, words[0] == "clowdr-shim", words[1] == "1" else { return nil }
            var fields: [Substring: Int64] = [:]
            for w in words.dropFirst(2) {
                guard let eq = w.firstIndex(of: "="), let v = Int64(w[w.index(after: eq)...].trimmingCharacters(in: .newlines)) else { return nil }
                fields[w[..<eq]] = v
            }
            if let e = fields["exec_errno"] {
                self.init(exitCode: 127, signal: nil, cpuUser: 0, cpuSystem: 0, maxRSS: 0, readBlocks: 0, writeBlocks: 0, execErrno: Int32(e))
                return
            }
            guard let user = fields["utime_us"], let system = fields["stime_us"], let maxrss = fields["maxrss_kb"] else { return nil }
            self.init(
                exitCode: fields["exit"].map { Int32($0) }, signal: fields["signal"].map { Int32($0) }, cpuUser: Double(user) / 1e6,
                cpuSystem: Double(system) / 1e6, maxRSS: maxrss * 1024, readBlocks: fields["inblock"] ?? 0, writeBlocks: fields["oublock"] ?? 0,
                execErrno: nil)
        }

        init(
            exitCode: Int32?, signal: Int32?, cpuUser: Double, cpuSystem: Double, maxRSS: Int64, readBlocks: Int64, writeBlocks: Int64,
            execErrno: Int32?
        ) {
            self.exitCode = exitCode
            self.signal = signal
            self.cpuUser = cpuUser
            self.cpuSystem = cpuSystem
            self.maxRSS = maxRSS
            self.readBlocks = readBlocks
            self.writeBlocks = writeBlocks
            self.execErrno = execErrno
        }
    }

    /// Reads the shim's report from the read end of its pipe, once the shim has exited (every writer is gone, so
    /// this never blocks for long), and closes it.
    static func readReport(_ fd: Int32) -> Report? {
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                bytes += buffer[0..<n]
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        return Report(String(decoding: bytes, as: UTF8.self))
    }
}
