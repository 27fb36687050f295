import Foundation
import Testing

@testable import EventLog

/// The hand-written payloads (`PayloadJSON.swift`) are byte for byte the Codable form's.
@Suite("Event model: hand-written payload JSON")
struct PayloadJSONTests {
    /// Strings with what JSON escapes (quotes, backslashes, control characters), slashes, and non-ASCII text.
    static let strings = [
        "", "slurm", "12_3", "a/b", "quote\"back\\slash", "tab\tline\nfeed\r", "\u{01}\u{1f}\u{7f}", "café ü 数据", "emoji 🧠", "\u{2028}",
    ]
    /// Resource names in byte order traps: case, digits, '-' and '_'.
    static let names = ["mem", "time", "cpus-per-task", "cpus", "Z", "a10", "a9", "a_b", "aab", "a-b", "gres", "x/y"]

    @Test("task_submitted: every field present or absent, resources in any order, strings that need escaping")
    func taskSubmitted() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<500 {
            let backend = Self.strings.randomElement(using: &generator)!
            let nativeID = round % 3 == 0 ? nil : Self.strings.randomElement(using: &generator)!
            var resources: [String: String]?
            if round % 4 != 0 {
                resources = [:]
                for name in Self.names.shuffled(using: &generator).prefix(round % 6) {
                    resources![name] = Self.strings.randomElement(using: &generator)!
                }
            }
            let p = TaskSubmitted(backend: backend, nativeID: nativeID, resources: resources)
            #expect(try #require(p.fastJSON()) == EventBody.encode(p))
        }
    }

    @Test("task_submitted with a non-ASCII resource name falls back to the Codable form")
    func nonASCIIName() throws {
        let p = TaskSubmitted(backend: "slurm", nativeID: "1_0", resources: ["mém": "1G", "mem": "2G"])
        #expect(p.fastJSON() == nil)
        #expect(try EventBody.taskSubmitted(p).payloadJSON() == EventBody.encode(p))
    }

    @Test("task_started: with and without a boot id, any pid")
    func taskStarted() throws {
        for host in Self.strings {
            for pid: Int32 in [0, 1, 4_194_304, Int32.max, -1] {
                for bootID in [nil, "829eeb74-23df-4f2b-b39d-0570a7ea9ef7", host] {
                    let p = TaskStarted(host: host, pid: pid, bootID: bootID)
                    #expect(p.fastJSON() == (try EventBody.encode(p)))
                }
            }
        }
    }
}
