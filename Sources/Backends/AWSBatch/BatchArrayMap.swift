import AWS
import ClowdrErrors
import Foundation
import JSON
import Runner

/// The map of an AWS Batch array job: `Worker`'s map (a first line with what every attempt shares, then, for element
/// i on line i + 2, its `TASK:ATTEMPT` items), where the first line also names the object holding the tasks'
/// invocations (`"invocations": "s3://..."`) and each item says where its invocation is in it
/// (`TASK:ATTEMPT@FIRST-LAST`, bytes). A worker fetches the map, then only its own invocations' bytes.
enum BatchArrayMap {
    static func text(
        template: TaskFile, invocations: (bundle: S3Location, ranges: [String: ClosedRange<Int>]), elements: [[(task: String, attempt: Int)]]
    ) -> String {
        var first = template.json(withAttempt: false, indent: nil)
        first.removeLast()  // the closing brace: the bundle is added as the last member
        first += #","invocations":"# + JSONWriter().string(.string(invocations.bundle.description)) + "}"
        var text = first + "\n"
        for e in elements {
            text +=
                e.map { item in
                    let r = invocations.ranges[item.task]
                    return "\(item.task):\(item.attempt)" + (r.map { "@\($0.lowerBound)-\($0.upperBound)" } ?? "")
                }.joined(separator: " ") + "\n"
        }
        return text
    }

    /// What a worker reads in a map: the map as `Worker` reads it (the byte ranges taken out), where the invocations
    /// are, and each task's range.
    static func parse(_ text: String, source: String) throws -> (map: String, bundle: S3Location?, ranges: [String: ClosedRange<Int>]) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let first = lines.first, case .object(let o) = try? JSONParser.parse(first) else {
            throw BackendError("\(source): line 1 must be a JSON object (what every attempt shares)", code: "task_file.array_map")
        }
        let bundle = o["invocations"]?.stringValue.flatMap(S3Location.init)
        var ranges: [String: ClosedRange<Int>] = [:]
        for i in lines.indices.dropFirst() where lines[i].contains("@") {
            lines[i] =
                lines[i].split(separator: " ").map { item -> String in
                    guard let at = item.firstIndex(of: "@") else { return String(item) }
                    let bounds = item[item.index(after: at)...].split(separator: "-").compactMap { Int($0) }
                    let task = item[..<at].split(separator: ":").dropLast().joined(separator: ":")
                    if bounds.count == 2, bounds[0] <= bounds[1] { ranges[task] = bounds[0]...bounds[1] }
                    return String(item[..<at])
                }.joined(separator: " ")
        }
        return (lines.joined(separator: "\n"), bundle, ranges)
    }
}
