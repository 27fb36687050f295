import ClowdrErrors
import Foundation
import Subprocess

/// The INI files of the AWS CLI: `[section]` lines, `key = value` lines, `#` and `;` comments.
struct INIFile {
    var sections: [String: [String: String]] = [:]

    func section(_ name: String) -> [String: String]? { sections[name] }

    /// The file at `path`, or nil when there is none.
    static func load(_ path: String) throws -> INIFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw AWSError("cannot read \(path)", code: "aws.config_unreadable", usage: true)
        }
        var file = INIFile()
        var current: String?
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else {
                    throw AWSError(
                        "\(path), line \(n + 1): expected a section name in brackets, found '\(line)'", code: "aws.config_syntax", usage: true)
                }
                current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                file.sections[current!, default: [:]] = file.sections[current!] ?? [:]
                continue
            }
            // A nested setting (`s3 =` then indented lines) is kept under its parent's name with its own key.
            guard let eq = line.firstIndex(of: "="), let section = current else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if raw.first == " " || raw.first == "\t" { continue }  // nested settings are not read
            file.sections[section]![key] = value
        }
        return file
    }
}
