import CClowdrSystem
import Foundation

/// `clowdr-shim`, the small long-lived process that starts each attempt's command line (see
/// `Sources/clowdr-shim/main.c` and `Supervisor`), and the report it writes when the command ends.
///
/// It exists for one figure: a process that clowdr starts directly inherits clowdr's own peak memory in its
/// `ru_maxrss` (Linux records the address space it had before `execve`), so the kernel's exit-time peak of every
/// small task would be clowdr's size. The shim starts the command from its own tiny address space instead and reports
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

    /// The CPU seconds the clowdr-shim servers of this process used, those that have ended (a run's, once it
    /// returned): part of what clowdr costs per attempt.
    public static func serverCPUSeconds() -> Double { Supervisor.serverCPULock.withLock { Supervisor.serverCPU } }

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
        /// Tracing asked for: whether its records were written (and from how many calls), or the errno that kept the
        /// filter from being installed. Nil when not asked.
        var traced: Bool?
        var calls: Int64?
        var untraced: Int32?

        /// The command's end as a wait status (what `waitpid` would have said of it).
        var waitStatus: Int32 { signal ?? ((exitCode ?? 127) & 0xff) << 8 }

        /// Parses the shim's one line (nil for anything else: a server killed before it wrote). Byte by byte: it is
        /// read once per attempt.
        init?(_ line: String) {
            var fields: [String: Int64] = [:]
            var words = line.utf8.split(separator: UInt8(ascii: " "))
            if let last = words.last, last.last == UInt8(ascii: "\n") { words[words.count - 1] = last.dropLast() }
            guard words.count >= 3, words[0].elementsEqual("clowdr-shim".utf8), words[1].elementsEqual("1".utf8) else { return nil }
            for word in words.dropFirst(2) {
                guard let eq = word.firstIndex(of: UInt8(ascii: "=")), let value = Self.integer(word[word.index(after: eq)...]) else { return nil }
                fields[String(decoding: word[..<eq], as: UTF8.self)] = value
            }
            guard let user = fields["utime_us"], let system = fields["stime_us"], let maxrss = fields["maxrss_kb"] else { return nil }
            self.init(
                exitCode: fields["exit"].map { Int32($0) }, signal: fields["signal"].map { Int32($0) }, cpuUser: Double(user) / 1e6,
                cpuSystem: Double(system) / 1e6, maxRSS: maxrss * 1024, readBlocks: fields["inblock"] ?? 0, writeBlocks: fields["oublock"] ?? 0)
            traced = fields["traced"].map { $0 == 1 } ?? (fields["untraced"] != nil ? false : nil)
            calls = fields["calls"]
            untraced = fields["untraced"].map { Int32($0) }
        }

        /// A decimal integer, optionally negative; nil for anything else (or more than 18 digits).
        static func integer(_ digits: Substring.UTF8View.SubSequence) -> Int64? {
            var value: Int64 = 0
            var negative = false
            var count = 0
            for (i, b) in digits.enumerated() {
                if i == 0 && b == UInt8(ascii: "-") {
                    negative = true
                    continue
                }
                guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9"), count < 18 else { return nil }
                value = value * 10 + Int64(b - UInt8(ascii: "0"))
                count += 1
            }
            return count > 0 ? (negative ? -value : value) : nil
        }

        init(exitCode: Int32?, signal: Int32?, cpuUser: Double, cpuSystem: Double, maxRSS: Int64, readBlocks: Int64, writeBlocks: Int64) {
            self.exitCode = exitCode
            self.signal = signal
            self.cpuUser = cpuUser
            self.cpuSystem = cpuSystem
            self.maxRSS = maxRSS
            self.readBlocks = readBlocks
            self.writeBlocks = writeBlocks
        }
    }

    /// Reads a command's report from the read end of its pipe, to the end (the server closes it once written, or
    /// by exiting), and closes it.
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
