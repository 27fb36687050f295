import CClowdrSystem
import EventLog
public import Foundation

/// `clowdr export html`: the report as one self-contained HTML file.
///
/// The page, its style and its script are the files in `Sources/Export/Report/` (compiled into the binary); the
/// data ([`ReportData`](x-source-tag://ReportData)) is embedded as two gzip+base64 blocks the script decodes with
/// the browser's `DecompressionStream`. A Content-Security-Policy forbids every request, so the file works from
/// `file://` with no connection and never loads anything from elsewhere.
public enum HTMLReport {
    /// The page with the data embedded (static report).
    public static func page(_ data: ReportData, title: String) throws -> String {
        let blocks = try [("clowdr-core", data.core), ("clowdr-detail", data.detail)].map { id, json in
            "<script type=\"application/octet-stream\" id=\"\(id)\" data-encoding=\"gzip+base64\">\n"
                + (try gzip(Array(json.utf8))).base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed])
                + "\n</script>"
        }
        return fill(title: title, connect: "'none'", data: blocks.joined(separator: "\n"))
    }

    /// The page that loads its data from `clowdr share`'s endpoints under `api` (a relative URL ending in `/`).
    public static func livePage(api: String, title: String) -> String {
        let config = "{\"api\":\"\(api.replacingOccurrences(of: "\"", with: ""))\"}"
        return fill(title: title, connect: "'self'", data: "<script type=\"application/json\" id=\"clowdr-live\">\(config)</script>")
    }

    /// Writes the report of the experiment folder `directory` to `output` (under a temporary name, then renamed).
    @discardableResult
    public static func write(experimentDirectory directory: String, to output: String, budget: ReportData.Budget = .init()) throws -> ReportData {
        let data = try ReportData.build(experimentDirectory: directory, budget: budget)
        let html = try page(data, title: "clowdr · " + (directory as NSString).lastPathComponent)
        try AtomicFile.write(to: output) { $0.write(html) }
        return data
    }

    static func fill(title: String, connect: String, data: String) -> String {
        let template = String(decoding: PackageResources.report_html, as: UTF8.self)
        // One pass over the template: a placeholder's value is never scanned for other placeholders.
        let values = [
            "title": escape(title), "connect": connect, "version": ClowdrVersion.current,
            "style": String(decoding: PackageResources.report_css, as: UTF8.self),
            "script": String(decoding: PackageResources.report_js, as: UTF8.self), "data": data,
        ]
        var out = ""
        out.reserveCapacity(template.utf8.count + data.utf8.count + 100_000)
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}"), let value = values[String(rest[open.upperBound..<close.lowerBound])] else {
                out += "{{"
                rest = rest[open.upperBound...]
                continue
            }
            out += value
            rest = rest[close.upperBound...]
        }
        out += rest
        return out
    }

    /// Text made safe inside HTML elements and double-quoted attributes.
    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// gzip in memory (zlib; level 6 for files, 1 where speed matters more than size).
    public static func gzip(_ bytes: [UInt8], level: Int32 = 6) throws -> Data {
        let cap = clowdr_gzip_bound(bytes.count)
        var out = [UInt8](repeating: 0, count: cap)
        let n = bytes.withUnsafeBytes { src in out.withUnsafeMutableBytes { clowdr_gzip(src.baseAddress, bytes.count, $0.baseAddress, cap, level) } }
        guard n > 0 else { throw ExportError("cannot compress the report data (\(bytes.count) bytes)") }
        return Data(out[0..<n])
    }
}
