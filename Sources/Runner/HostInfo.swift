import CClowdrSystem
public import ClowdrErrors
public import EventLog
import Foundation

/// Facts about this machine and process, recorded in events.
public enum HostInfo {
    /// The host name (read once).
    public static let hostname: String = {
        var buf = [UInt8](repeating: 0, count: 256)
        gethostname(&buf, buf.count)
        return String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self)
    }()

    /// The Linux boot id ("" when unknown): a pid means something only within one boot. Read once.
    public static let bootID: String =
        ((try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)

    /// The user running clowdr.
    public static var user: String {
        if let pw = getpwuid(getuid()) { return String(cString: pw.pointee.pw_name) }
        return ProcessInfo.processInfo.environment["USER"] ?? String(getuid())
    }

    /// "Linux 6.18.0 x86_64".
    public static var os: String {
        var u = utsname()
        uname(&u)
        func s<T>(_ t: T) -> String { withUnsafeBytes(of: t) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
        return "\(s(u.sysname)) \(s(u.release)) \(s(u.machine))"
    }

    /// What an attempt records of the host it ran on (`task_started` v2), read once: CPU model, logical CPUs,
    /// memory, kernel release, OS release.
    public static let facts: (cpuModel: String?, cpus: Int, memory: Int64?, kernel: String, osRelease: String?) = {
        func field(_ file: String, _ name: String, separator: Character) -> String? {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
            for line in text.split(separator: "\n") {
                guard let i = line.firstIndex(of: separator), line[..<i].trimmingCharacters(in: .whitespaces) == name else { continue }
                return line[line.index(after: i)...].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            return nil
        }
        var u = utsname()
        uname(&u)
        let kernel = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let memory = field("/proc/meminfo", "MemTotal", separator: ":").flatMap { Int64($0.split(separator: " ").first ?? "") }.map { $0 * 1024 }
        return (
            field("/proc/cpuinfo", "model name", separator: ":"), Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), memory, kernel,
            field("/etc/os-release", "PRETTY_NAME", separator: "=")
        )
    }()

    /// The cloud instance this process runs on (its type, whether it is spot), when a worker found out (an AWS Batch
    /// worker asks the instance metadata service once); nil elsewhere.
    public static var instance: (type: String, spot: Bool?)? {
        get { instanceLock.withLock { instanceFacts } }
        set { instanceLock.withLock { instanceFacts = newValue } }
    }
    private static let instanceLock = NSLock()
    nonisolated(unsafe) private static var instanceFacts: (type: String, spot: Bool?)?

    /// Start time of a process in clock ticks since boot (`/proc/PID/stat` field 22), nil when it is gone.
    public static func startTicks(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3), so field 22 is fields[19].
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// This process, as the controller of an experiment.
    public static func controller() -> ControllerInfo {
        let pid = getpid()
        return ControllerInfo(host: hostname, pid: pid, bootID: bootID, startTicks: startTicks(of: pid))
    }

    /// Whether the process a `ControllerInfo` names is still alive: same host and boot, the pid exists, and it
    /// started at the recorded time (so a reused pid is not taken for it). On another host we cannot tell: alive.
    public static func isAlive(_ c: ControllerInfo) -> Bool {
        guard c.host == hostname else { return true }
        guard c.bootID == bootID else { return false }
        guard kill(c.pid, 0) == 0 || errno == EPERM else { return false }
        if let recorded = c.startTicks, let now = startTicks(of: c.pid) { return recorded == now }
        return true
    }

}

/// A failure while running: what went wrong and where.
public struct RunError: CodedError {
    public var message: String
    public var errorCode: String
    public var isUsageError: Bool { false }
    public init(_ message: String, code: String = "run.failed") {
        self.message = message
        errorCode = code
    }
    public var description: String { message }
}
