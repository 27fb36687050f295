public import AWS
import Boutiques
import ClowdrErrors
import Foundation
import JSON

/// Whether a run's `--image` can be pulled, asked before anything is submitted (a tag that does not exist would
/// otherwise fail every child of the run, each with the same bare FAILED): ECR images through ECR's DescribeImages
/// (the caller's keys), others through the registry's own API (anonymously, as a public image is pulled). Only a
/// definite "no such image" refuses the run; a registry that cannot be asked (private, unreachable, an image in the
/// local engine's store) is not held against it.
public enum ImageCheck {
    /// Throws a usage error when the image definitely does not exist.
    public static func check(_ image: String, configuration: AWSConfiguration) throws {
        let r = ImageReference(image)
        if r.isLocalStore { return }
        let found = r.isECR ? try? ecr(r, configuration: configuration) : registry(r)
        guard found == false else { return }
        throw BackendError(
            "--image \(image): \(r.registry) has no image \(r.repository):\(r.reference); push it (clowdr cloud image --from TOOL-IMAGE --tag \(image) --push), or correct --image; nothing was submitted",
            code: "aws.image_missing", usage: true)
    }

    /// ECR's answer: true (found), false (no such repository or image), nil (could not tell).
    static func ecr(_ r: ImageReference, configuration: AWSConfiguration) throws -> Bool? {
        var c = configuration
        if let region = r.registry.split(separator: ".").dropFirst(3).first { c.region = String(region) }
        let id: JSONValue = r.reference.hasPrefix("sha256:") ? ["imageDigest": .string(r.reference)] : ["imageTag": .string(r.reference)]
        do {
            _ = try AWSHTTP(configuration: c).json11(
                service: "ecr", target: "AmazonEC2ContainerRegistry_V20150921.DescribeImages",
                ["repositoryName": .string(r.repository), "imageIds": [id]], operation: "DescribeImages", resource: "image \(r.repository)")
            return true
        } catch let e as AWSError where ["aws.imagenotfoundexception", "aws.repositorynotfoundexception"].contains(e.errorCode) {
            return false
        } catch { return nil }
    }

    /// The registry's v2 API: the manifest asked for, anonymously (a bearer token when the registry hands one out).
    static func registry(_ r: ImageReference) -> Bool? {
        guard let url = URL(string: "\(r.isLoopback ? "http" : "https")://\(r.apiHost)/v2/\(r.repository)/manifests/\(r.reference)") else {
            return nil
        }
        let accept = (
            "Accept",
            [
                "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
            ].joined(separator: ", ")
        )
        guard var answer = AWSHTTP.plain("HEAD", url, headers: [accept]) else { return nil }
        if answer.status == 401, let token = token(answer.header("WWW-Authenticate")) {
            guard let again = AWSHTTP.plain("HEAD", url, headers: [accept, ("Authorization", "Bearer \(token)")]) else { return nil }
            answer = again
        }
        switch answer.status {
        case 200..<300: return true
        case 404: return false
        default: return nil
        }
    }

    /// An anonymous token from a `Bearer realm="...",service="...",scope="..."` challenge.
    static func token(_ challenge: String?) -> String? {
        guard let challenge, challenge.lowercased().hasPrefix("bearer ") else { return nil }
        var fields: [String: String] = [:]
        for part in challenge.dropFirst(7).split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if kv.count == 2 { fields[kv[0].lowercased()] = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        guard let realm = fields["realm"], var components = URLComponents(string: realm) else { return nil }
        components.queryItems = ["service", "scope"].compactMap { k in fields[k].map { URLQueryItem(name: k, value: $0) } }
        guard let url = components.url, let answer = AWSHTTP.plain("GET", url), answer.status == 200,
            let body = try? JSONParser.parse([UInt8](answer.body))
        else { return nil }
        return body["token"]?.stringValue ?? body["access_token"]?.stringValue
    }
}
