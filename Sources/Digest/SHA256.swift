import CClowdrSystem
public import ClowdrErrors
public import Foundation

/// SHA-256 and HMAC-SHA256 from the system's libcrypto (through CClowdrSystem): of bytes, of a file, or fed in pieces.
public struct SHA256: ~Copyable {
    private let context: UnsafeMutableRawPointer

    /// A digest to feed with `update` and end with `finalize`.
    public init() { context = clowdr_sha256_new() }

    deinit {
        // `finalize` consumes the digest; one dropped unfinished still frees libcrypto's context.
        var discarded = [UInt8](repeating: 0, count: 32)
        clowdr_sha256_final(context, &discarded)
    }

    /// Adds `bytes` to the digest.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        clowdr_sha256_update(context, bytes.baseAddress, bytes.count)
    }

    /// The 32-byte digest of everything added.
    public consuming func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        clowdr_sha256_final(context, &digest)
        discard self
        return digest
    }

    /// The digest of `data`.
    public static func digest(_ data: Data) -> [UInt8] {
        let hash = SHA256()
        data.withUnsafeBytes { hash.update($0) }
        return hash.finalize()
    }

    /// The digest of a file's bytes, in lower-case hex, read in a stream (memory flat in the file's size).
    public static func hex(ofFile path: String) throws(DigestError) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        let rc = clowdr_sha256_file(path, &digest)
        guard rc == 0 else { throw DigestError(path: path, reason: String(cString: strerror(-rc))) }
        return Hex.lowercase(digest)
    }

    /// The digest of a file's bytes, in lower-case hex, only when the path still names the regular file of that
    /// device, inode, size and modification time (nanoseconds); nil when it does not, or cannot be read.
    public static func hex(ofFile path: String, device: UInt64, inode: UInt64, size: Int64, mtimeNs: Int64) -> String? {
        var digest = [UInt8](repeating: 0, count: 32)
        var expected = clowdr_file_identity(device: device, inode: inode, size: size, mtime_ns: mtimeNs)
        guard clowdr_sha256_file_as(path, &expected, &digest) == 0 else { return nil }
        return Hex.lowercase(digest)
    }

    /// HMAC-SHA256 of `message` under `key`.
    public static func hmac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        _ = clowdr_hmac_sha256(key, key.count, message, message.count, &digest)
        return digest
    }
}

/// Lower-case hexadecimal text of bytes.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A file that could not be read to hash it.
public struct DigestError: CodedError {
    public var path: String
    public var reason: String
    public var errorCode: String { "digest.unreadable" }
    public var isUsageError: Bool { false }
    public var description: String { "cannot read \(path) to hash it: \(reason)" }
}
