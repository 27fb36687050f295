import Foundation
import Runner
import TestSupport

/// A tool that runs a command line (with `[K]`) once per value of `k`, swept, in a new folder: the run request.
enum SweepTool {
    static func request(_ commandLine: String, _ values: [Int], jobs: Int = 2) throws -> RunRequest {
        let dir = try TestSupport.temporaryDirectory("sweep")
        let descriptor = """
            {"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":\(String(decoding: try JSONEncoder().encode(commandLine), as: UTF8.self)),
             "inputs":[{"id":"k","name":"k","type":"Number","integer":true,"value-key":"[K]"}]}
            """
        try descriptor.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try "{\"k\": [\(values.map(String.init).joined(separator: ","))]}".write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        var r = RunRequest(
            descriptorPath: dir + "/d.json", invocationPath: dir + "/i.json", provdir: dir + "/prov",
            options: RunOptions(jobs: jobs, workingDirectory: dir))
        r.sweeps = ["k"]
        return r
    }
}
