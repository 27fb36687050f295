import CClowdrSystem
public import Foundation

/// CRC-32 (zlib's): the checksum S3 verifies for each uploaded part and object (`x-amz-checksum-crc32`).
public enum CRC32 {
    /// The checksum of `data`.
    public static func checksum(_ data: Data) -> UInt32 {
        data.withUnsafeBytes { clowdr_crc32($0.baseAddress, $0.count) }
    }

    /// The checksum as S3 writes it: the 4 bytes, big-endian, in base64.
    public static func base64(_ data: Data) -> String {
        withUnsafeBytes(of: checksum(data).bigEndian) { Data($0).base64EncodedString() }
    }
}
