/// A container image reference as registries read it: `[transport][registry/]repository[:tag][@digest]`. Docker
/// Hub when no registry is named (`ubuntu` is `docker.io/library/ubuntu:latest`); a transport prefix (`docker://`,
/// `docker-daemon:`, `shub://`, `library://`, `oras://`) is left out. AWS Batch's image check asks the registry
/// about it; the RO-Crate export names the image with it.
public struct ImageReference: Equatable, Sendable {
    public var registry: String
    public var repository: String
    public var tag: String?
    public var digest: String?
    /// The tag or digest asked for (`latest` when neither is given).
    public var reference: String { digest ?? tag ?? "latest" }

    public init(_ image: String) {
        var rest = image
        for transport in ["docker://", "docker-daemon:", "shub://", "library://", "oras://"] where rest.hasPrefix(transport) {
            rest.removeFirst(transport.count)
        }
        if let at = rest.firstIndex(of: "@") {
            digest = String(rest[rest.index(after: at)...])
            rest = String(rest[..<at])
        }
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = String(rest[..<colon])
        }
        let parts = rest.split(separator: "/", maxSplits: 1).map(String.init)
        if parts.count == 2, parts[0].contains(".") || parts[0].contains(":") || parts[0] == "localhost" {
            registry = parts[0]
            repository = parts[1]
        } else {
            registry = "docker.io"
            repository = parts.count == 1 ? "library/" + rest : rest
        }
    }

    public var isECR: Bool { registry.contains(".dkr.ecr.") && registry.hasSuffix(".amazonaws.com") }
    /// podman's name for its own store (`localhost/name`): nothing to ask over the network.
    public var isLocalStore: Bool { registry == "localhost" }
    public var isLoopback: Bool { ["127.0.0.1", "localhost", "[::1]"].contains(registry.split(separator: ":").first.map(String.init) ?? "") }
    /// The host that answers the registry API (Docker Hub's is not docker.io).
    public var apiHost: String { registry == "docker.io" ? "registry-1.docker.io" : registry }
}
