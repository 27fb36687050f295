import Foundation

/// The value after `name` on the command line, or `value`.
func argument(_ name: String, default value: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return value
}

/// Prints a line and flushes it at once: a figure printed is a figure seen, even through a pipe when a later step
/// fails.
func emit(_ line: String) {
    print(line)
    fflush(nil)
}

/// Resident memory of this process now and at its peak, bytes.
func memory() -> (rss: Int64, hwm: Int64) {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Int64 {
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            return (Int64(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
        }
        return 0
    }
    return (field("VmRSS:"), field("VmHWM:"))
}

/// This process's CPU time so far (user + system), in seconds.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// The regular files under `path` and the bytes they take on disk (allocated blocks, as `du` counts them).
func diskUse(_ path: String) -> (files: Int, bytes: Int64) {
    var files = 0
    var bytes: Int64 = 0
    guard let walk = FileManager.default.enumerator(atPath: path) else { return (0, 0) }
    for case let name as String in walk {
        var s = stat()
        guard lstat(path + "/" + name, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG else { continue }
        files += 1
        bytes += Int64(s.st_blocks) * 512
    }
    return (files, bytes)
}

/// Files and bytes per 100,000 tasks, from what `tasks` tasks left.
func per100k(_ use: (files: Int, bytes: Int64), tasks: Int) -> String {
    let scale = 100_000 / Double(max(tasks, 1))
    return String(format: "%.0f files, %.1f MB on disk per 100,000 tasks", Double(use.files) * scale, Double(use.bytes) * scale / 1e6)
}

/// Runs a shell script; its status, standard output and wall time (stderr discarded).
func sh(_ script: String) throws -> (status: Int32, out: String, seconds: Double) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", script]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    let t0 = DispatchTime.now().uptimeNanoseconds
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self), Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
}
