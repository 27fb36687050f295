import CSystem
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

    /// Every process on the machine (one scan of /proc).
    static func allProcesses() -> [Stat] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var out: [Stat] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), let s = stat(pid) else { continue }
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

    static func stat(_ pid: Int32) -> Stat? {
        guard let b = read("/proc/\(pid)/stat"), let close = b.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // Fields after the command name, from field 3 (state).
        let fields = b[(close + 2)...].split(separator: UInt8(ascii: " "))
        func f(_ n: Int) -> Int64 { Int64(String(decoding: fields[n - 3], as: UTF8.self)) ?? 0 }
        guard fields.count > 21 else { return nil }
        return Stat(
            pid: pid, ppid: Int32(f(4)), pgrp: Int32(f(5)), userTicks: UInt64(max(0, f(14) + f(16))), systemTicks: UInt64(max(0, f(15) + f(17))),
            threads: Int32(f(20)),
            vsize: f(23), rssPages: f(24))
    }

    /// `read_bytes` and `write_bytes` of `/proc/PID/io` (0 when unreadable).
    static func io(_ pid: Int32) -> (Int64, Int64) {
        guard let b = read("/proc/\(pid)/io") else { return (0, 0) }
        var r: Int64 = 0
        var w: Int64 = 0
        for line in b.split(separator: UInt8(ascii: "\n")) {
            let s = String(decoding: line, as: UTF8.self)
            if s.hasPrefix("read_bytes: ") { r = Int64(s.dropFirst(12)) ?? 0 }
            if s.hasPrefix("write_bytes: ") { w = Int64(s.dropFirst(13)) ?? 0 }
        }
        return (r, w)
    }

    /// VmHWM of a process, bytes: its own peak resident memory.
    static func highWaterMark(_ pid: Int32) -> Int64 {
        guard let b = read("/proc/\(pid)/status") else { return 0 }
        for line in b.split(separator: UInt8(ascii: "\n")) {
            let s = String(decoding: line, as: UTF8.self)
            if s.hasPrefix("VmHWM:") {
                return (Int64(s.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "0") ?? 0) * 1024
            }
        }
        return 0
    }

    /// Samples the trees of several roots with one scan of /proc. Returns a sample and the largest VmHWM of a
    /// member for each root that still has processes. With `excludingRoots`, a root itself is not a member (it is
    /// `clowdr-shim`, which is not part of the task), only its descendants and the rest of its process group.
    public func sample(roots: [Int32], excludingRoots: Bool = false) -> [Int32: (sample: Sample, highWater: Int64)] {
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
            if excludingRoots { members.remove(root) }
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
