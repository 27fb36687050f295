import CClowdrSystem
import Foundation

/// The `clowdr-shim` server that starts every attempt of this process (`Sources/clowdr-shim/main.c`): started once,
/// on the first attempt, and again if it was killed; it ends when this value is released.
///
/// Each command is started from the server's tiny address space, so its peak memory is its own, and costs one `exec`,
/// as in a bare spawn loop; the server is its parent and reports its exact usage when it ends. Threads share one
/// server: a request takes it about 0.05 ms.
final class Supervisor: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private var server: (pid: pid_t, socket: Int32)?

    init(path: String) { self.path = path }

    deinit { lock.withLock { stop() } }

    /// Asks the server to start `argv` (its first string a full path): the leader of its own process group and a
    /// child subreaper, with stdin from /dev/null and the given streams; its report comes through `report`. Returns
    /// the command's pid, or -errno. A server found gone before it took the request is replaced, once; one that goes
    /// while starting the command is not asked again (it may have started it): -ECONNABORTED.
    func run(_ argv: CStrings, _ envp: CStrings, cwd: String, stdout: Int32, stderr: Int32, report: Int32, records: Int32 = -1) -> Int32 {
        lock.withLock {
            for _ in 0..<2 {
                guard let socket = connect() else { return -errno }
                let pid = argv.withPointers { a in
                    envp.withPointers { e in clowdr_shim_run(socket, a, e, cwd, stdout, stderr, report, records) }
                }
                guard pid == -EPIPE || pid == -ECONNRESET else { return pid }
                stop()
            }
            return -EPIPE
        }
    }

    /// The server's socket, starting a server when there is none (`lock` held). Nil with errno set when it cannot
    /// be started.
    private func connect() -> Int32? {
        if let server { return server.socket }
        var socket: Int32 = -1
        let pid = clowdr_shim_start(path, &socket)
        guard pid > 0 else {
            errno = -pid
            return nil
        }
        server = (pid, socket)
        return socket
    }

    /// Closes the socket, which ends the server, and reaps it (`lock` held); its own CPU time (not its attempts') is
    /// added to `serverCPU`.
    private func stop() {
        guard let s = server else { return }
        let cpu = Self.ownCPU(s.pid)
        close(s.socket)
        var status: Int32 = 0
        while waitpid(s.pid, &status, 0) < 0 && errno == EINTR {}
        Self.serverCPULock.withLock { Self.serverCPU += cpu }
        server = nil
    }

    /// A live process's own CPU seconds, user and system, from /proc (its reaped children's are not in them); 0 when
    /// it cannot be read.
    static func ownCPU(_ pid: pid_t) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
        // After the name: state (field 3), ... utime (14), stime (15).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(clowdr_clock_ticks())
    }

    /// The CPU seconds of every server this process started and has ended; guarded by `serverCPULock`.
    nonisolated(unsafe) static var serverCPU = 0.0
    static let serverCPULock = NSLock()
}
