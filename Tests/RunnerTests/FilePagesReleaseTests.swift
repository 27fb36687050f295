import CClowdrSystem
import Foundation
import Runner
import Testing

/// What a worker (`clowdr task`) hands back after each sample so that a scheduler's sum of resident sizes is its
/// tool's: the resident pages of its read-only file mappings, even those other processes map too.
@Suite("A worker's hand-back of its code's pages")
struct FilePagesReleaseTests {
    /// This process's resident KB in mappings of files it cannot write: all of them, and the C library's.
    static func readOnlyFileResident() throws -> (all: Int, libc: Int) {
        var all = 0
        var libc = 0
        var counted = false
        var isLibc = false
        // Read to its end (procfs says its files are empty, which a read of the stated size would believe).
        let smaps = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps")).readDataToEndOfFile()
        for line in String(decoding: smaps, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), !range.hasSuffix(":"), fields.count >= 5 {
                counted = fields[1].hasPrefix("r") && !fields[1].contains("w") && fields[4] != "0"
                isLibc = fields.last?.contains("/libc.so") == true
            } else if counted, fields.first == "Rss:", fields.count >= 2, let kb = Int(fields[1]) {
                all += kb
                if isLibc { libc += kb }
            }
        }
        return (all, libc)
    }

    @Test("drops the resident pages of read-only file mappings, the C library's (which every process maps) included, and the code runs on")
    func drops() throws {
        let before = try Self.readOnlyFileResident()
        try #require(before.libc > 64, "the C library is resident: \(before)")
        #expect(clowdr_release_file_pages() > 0)
        let after = try Self.readOnlyFileResident()
        // What reading /proc/self/smaps touched comes back; the rest stays out.
        #expect(after.all < before.all / 2, "before \(before), after \(after)")
        #expect(after.libc < before.libc, "before \(before), after \(after)")
        #expect([3, 1, 2].sorted() == [1, 2, 3] && String(describing: 42) == "42")
    }
}
