import Boutiques
import EventLog
import Foundation
import Subprocess

/// The container images a process's attempts ran in, each resolved once (`image_resolved`): the engine's digest
/// and id for docker and podman (`image inspect`), the file's SHA-256 for a Singularity or Apptainer image file.
final class ImageDigests: @unchecked Sendable {
    private let lock = NSLock()
    private var resolved: [String: ImageResolved] = [:]

    /// The image an attempt ran in, as its engine resolves it now (after the attempt: the engine has pulled it).
    func resolve(engine: ContainerEngine, image: String, file: String?, files: FileBook) -> ImageResolved {
        let key = engine.rawValue + " " + (file ?? image)
        if let known = lock.withLock({ resolved[key] }) { return known }
        let found = file.map { Self.imageFile(engine: engine, $0, files: files) } ?? Self.inspect(engine: engine, image: image)
        if found.reason == nil { lock.withLock { resolved[key] = found } }  // a failure is asked again next time
        return found
    }

    /// An image file's SHA-256 (through the files' hash cache: a 2 GB image is hashed once per process).
    static func imageFile(engine: ContainerEngine, _ path: String, files: FileBook) -> ImageResolved {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return ImageResolved(engine: engine.rawValue, image: path, reason: "cannot read the image file: \(String(cString: strerror(errno)))")
        }
        let id = FileBook.Identity(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            mtimeNs: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
        guard let sha = files.hash(path, as: id) else {
            return ImageResolved(engine: engine.rawValue, image: path, reason: "the image file changed while it was read")
        }
        return ImageResolved(engine: engine.rawValue, image: path, digest: "sha256:" + sha)
    }

    /// `ENGINE image inspect`: the first repository digest and the image id (docker and podman both give them).
    static func inspect(engine: ContainerEngine, image: String) -> ImageResolved {
        guard let executable = Subprocess.onPath(engine.rawValue) else {
            return ImageResolved(engine: engine.rawValue, image: image, reason: "\(engine.rawValue) is not on PATH")
        }
        let out: Subprocess.Output
        do {
            out = try Subprocess.run(executable, ["image", "inspect", "--format", "{{json .RepoDigests}}|{{.Id}}", image])
        } catch {
            return ImageResolved(engine: engine.rawValue, image: image, reason: "\(error)")
        }
        let text = out.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        guard out.status == 0, let bar = text.lastIndex(of: "|") else {
            let message = out.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            return ImageResolved(engine: engine.rawValue, image: image, reason: message.isEmpty ? "\(engine.rawValue) image inspect failed" : message)
        }
        let digests = (try? JSONSerialization.jsonObject(with: Data(text[..<bar].utf8))) as? [String] ?? []
        let digest = digests.first.flatMap { $0.split(separator: "@").last.map(String.init) }
        let id = String(text[text.index(after: bar)...])
        return ImageResolved(engine: engine.rawValue, image: image, digest: digest, id: id.isEmpty ? nil : id)
    }
}
