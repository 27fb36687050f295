import CClowdrSystem
public import EventLog
import Foundation

/// Reads the resources of whole process trees from `/proc`: every descendant of a task's top process (children,
/// grandchildren...) and every process of its process group.
///
/// CPU and I/O of a tree are cumulative: a live process's own counters plus those of the children it has reaped
/// (the kernel adds a reaped child's CPU time to `cutime`/`cstime` and its I/O to the parent's `/proc/PID/io`).
/// RSS and VMS are sums over the live processes.
public struct ProcessTreeReader: Sendable {
    static let ticks = Double(clowdr_clock_ticks())
    static let pageSize = Int64(clowdr_page_size())

    /// One process as `/proc/PID/stat` shows it.
    struct Stat {
        var pid: Int32
        var ppid: Int32
        var pgrp: Int32
        /// utime + cutime, and stime + cstime: own CPU plus that of reaped children.
        var userTicks: UInt64
        var systemTicks: UInt64
        var threads: Int32
        var vsize: Int64
        var rssPages: Int64
    }

    public init() {}

    // Parsing below is on bytes, never through Foundation: a worker alone in a job samples every second, and what its
    // code touches to do so counts in the scheduler's sum of the job's resident sizes.

    /// Every process on the machine (one scan of /proc).
    static func allProcesses() -> [Stat] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var out: [Stat] = []
        while let entry = readdir(dir) {
            let pid = withUnsafeBytes(of: entry.pointee.d_name) { name -> Int32? in
                let digits = name.prefix { $0 != 0 }
                guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
                return Int32(truncatingIfNeeded: number(digits))
            }
            guard let pid, let s = stat(pid) else { continue }
            out.append(s)
        }
        return out
    }

    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? Array(buf[0..<n]) : nil
    }

    /// The decimal integer that `bytes` starts with, after any blanks (0 when there is none).
    static func number<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Int64 {
        var value: Int64 = 0
        var negative = false
        var i = bytes.startIndex
        while i != bytes.endIndex, bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\t") { i = bytes.index(after: i) }
        if i != bytes.endIndex, bytes[i] == UInt8(ascii: "-") {
            negative = true
            i = bytes.index(after: i)
        }
        while i != bytes.endIndex, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            value = value &* 10 &+ Int64(bytes[i] &- UInt8(ascii: "0"))
            i = bytes.index(after: i)
        }
        return negative ? -value : value
    }

    /// The number after `key` on the line of `bytes` that starts with it (0 when no line does).
    static func field(_ key: String, in bytes: [UInt8]) -> Int64 {
        let key = Array(key.utf8)
        for line in bytes.split(separator: UInt8(ascii: "\n")) where line.starts(with: key) {
            return number(line.dropFirst(key.count))
        }
        return 0
    }

    static func stat(_ pid: Int32) -> Stat? {
        guard let b = read("/proc/\(pid)/stat"), let close = b.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // Fields after the command name, from field 3 (state).
        let fields = b[(close + 2)...].split(separator: UInt8(ascii: " "))
        func f(_ n: Int) -> Int64 { number(fields[n - 3]) }
        guard fields.count > 21 else { return nil }
        return Stat(
            pid: pid, ppid: Int32(f(4)), pgrp: Int32(f(5)), userTicks: UInt64(max(0, f(14) + f(16))), systemTicks: UInt64(max(0, f(15) + f(17))),
            threads: Int32(f(20)),
            vsize: f(23), rssPages: f(24))
    }

    /// `read_bytes` and `write_bytes` of `/proc/PID/io` (0 when unreadable).
    static func io(_ pid: Int32) -> (Int64, Int64) {
        guard let b = read("/proc/\(pid)/io") else { return (0, 0) }
        return (field("read_bytes:", in: b), field("write_bytes:", in: b))
    }

    /// VmHWM of a process, bytes: its own peak resident memory.
    static func highWaterMark(_ pid: Int32) -> Int64 {
        guard let b = read("/proc/\(pid)/status") else { return 0 }
        return field("VmHWM:", in: b) * 1024
    }

    /// Samples the trees of several roots with one scan of /proc. Returns a sample and the largest VmHWM of a
    /// member for each root that still has processes: the root, its descendants and the rest of its process group.
    public func sample(roots: [Int32]) -> [Int32: (sample: Sample, highWater: Int64)] {
        let all = ProcessTreeReader.allProcesses()
        var children: [Int32: [Int32]] = [:]
        var byPID: [Int32: Stat] = [:]
        for s in all {
            children[s.ppid, default: []].append(s.pid)
            byPID[s.pid] = s
        }
        var out: [Int32: (Sample, Int64)] = [:]
        for root in roots {
            // The descendants of the root, and anything else in its process group.
            var members = Set<Int32>()
            var stack = [root]
            while let p = stack.popLast() {
                guard byPID[p] != nil, members.insert(p).inserted else { continue }
                stack += children[p] ?? []
            }
            for s in all where s.pgrp == root { members.insert(s.pid) }
            guard !members.isEmpty else { continue }
            var user: UInt64 = 0
            var system: UInt64 = 0
            var rss: Int64 = 0
            var vms: Int64 = 0
            var threads: Int32 = 0
            var rb: Int64 = 0
            var wb: Int64 = 0
            var hwm: Int64 = 0
            for p in members {
                guard let s = byPID[p] else { continue }
                user += s.userTicks
                system += s.systemTicks
                rss += s.rssPages * ProcessTreeReader.pageSize
                vms += s.vsize
                threads += s.threads
                let (r, w) = ProcessTreeReader.io(p)
                rb += r
                wb += w
                hwm = max(hwm, ProcessTreeReader.highWaterMark(p))
            }
            out[root] = (
                Sample(
                    cpuUser: Double(user) / ProcessTreeReader.ticks, cpuSystem: Double(system) / ProcessTreeReader.ticks, rss: rss, vms: vms,
                    readBytes: rb, writeBytes: wb, processes: Int32(members.count), threads: threads),
                hwm
            )
        }
        return out
    }
}
