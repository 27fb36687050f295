import ClowdrErrors
public import Foundation
import Subprocess

/// The tool's own image with clowdr added at /opt/clowdr: what each child of an AWS Batch array job runs, so that
/// `clowdr task` monitors the tool exactly as locally, inside the tool's environment. Built by podman or docker from
/// a `make dist` install (clowdr with its own loader and libraries: it runs in any image, even busybox), and pushed
/// to the registry the tag names.
public struct DerivedImage: Sendable {
    /// The tool's image (the descriptor's `container-image`).
    public var base: String
    /// The new image's name, with its registry (`123456789012.dkr.ecr.us-east-1.amazonaws.com/tool:clowdr`).
    public var tag: String
    /// The root of a `make dist` install (it holds bin/clowdr and lib/clowdr).
    public var dist: String
    /// podman or docker.
    public var engine: String

    public init(base: String, tag: String, dist: String, engine: String) {
        self.base = base
        self.tag = tag
        self.dist = dist
        self.engine = engine
    }

    /// The `make dist` install this clowdr runs from, if it does (its launcher sets CLOWDR_EXECUTABLE).
    public static func runningDist(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard let launcher = env["CLOWDR_EXECUTABLE"], launcher.hasSuffix("/bin/clowdr") else { return nil }
        let root = String(launcher.dropLast("/bin/clowdr".count))
        return FileManager.default.fileExists(atPath: root + "/lib/clowdr/clowdr") ? root : nil
    }

    public var containerfile: String {
        """
        # clowdr: \(base) with clowdr at /opt/clowdr, for AWS Batch (clowdr cloud image).
        FROM \(base)
        COPY clowdr /opt/clowdr
        LABEL org.clowdr.base="\(base)"

        """
    }

    /// Builds the image (the dist is copied into a build folder of its own first).
    public func build() throws {
        guard FileManager.default.fileExists(atPath: dist + "/bin/clowdr") else {
            throw BackendError(
                "\(dist) is not a clowdr dist install (no bin/clowdr): give the folder make dist wrote", code: "usage.dist", usage: true)
        }
        let context = NSTemporaryDirectory() + "clowdr-image-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: context) }
        try? FileManager.default.removeItem(atPath: context)
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: dist, toPath: context + "/clowdr")
        try containerfile.write(toFile: context + "/Containerfile", atomically: true, encoding: .utf8)
        try run([engine, "build", "-t", tag, "-f", context + "/Containerfile", context], what: "build \(tag) from \(base)")
    }

    /// Pushes the image to its registry (`insecure`: a plain-HTTP registry, such as one on 127.0.0.1).
    public func push(insecure: Bool = false) throws {
        var arguments = [engine, "push"]
        if insecure { arguments.append(engine == "podman" ? "--tls-verify=false" : "--disable-content-trust") }
        try run(arguments + [tag], what: "push \(tag)")
    }

    func run(_ arguments: [String], what: String) throws {
        let o: Subprocess.Output
        do { o = try Subprocess.run("/usr/bin/env", arguments, stdout: .discard) } catch {
            throw BackendError("cannot start \(engine) to \(what): \(error)", code: "image.engine_missing", usage: true)
        }
        guard o.status == 0 else {
            let said = o.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            let hint =
                said.contains("server gave HTTP response to HTTPS client")
                ? "\nThe registry speaks plain HTTP: add --insecure-registry (only for a registry you trust, such as one on 127.0.0.1)" : ""
            throw BackendError("\(engine) could not \(what): \(said.suffix(2000))\(hint)", code: "image.failed")
        }
    }
}
