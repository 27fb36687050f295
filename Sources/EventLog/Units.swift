import Foundation

/// The one way sizes are written for a person, in every command, reason and report: binary units with one decimal,
/// as `query` prints them (`140.0 MiB`), so the same number never reads as two ("140 MB" here, "140.0 MiB" there).
public enum Units {
    /// Bytes as `812 B`, `1.5 KiB`, `140.0 MiB`, `2.0 GiB`.
    public static func bytes<N: BinaryInteger>(_ n: N) -> String { bytes(Double(n)) }

    public static func bytes(_ v: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var x = v
        var k = 0
        while abs(x) >= 1024 && k < units.count - 1 {
            x /= 1024
            k += 1
        }
        return k == 0 ? "\(Int64(x)) B" : String(format: "%.1f %@", x, units[k])
    }
}
