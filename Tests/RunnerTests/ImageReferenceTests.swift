import Boutiques
import Testing

/// How `--image` is read before a run asks its registry whether it exists.
struct ImageReferenceTests {
    @Test("image references: Docker Hub's short names, registries with ports, ECR, tags and digests, podman's local store")
    func references() {
        let cases: [(String, String, String, String)] = [
            ("ubuntu", "docker.io", "library/ubuntu", "latest"),
            ("bids/example:0.0.7", "docker.io", "bids/example", "0.0.7"),
            ("127.0.0.1:5001/clowdr/tool:t1", "127.0.0.1:5001", "clowdr/tool", "t1"),
            ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/tool:clowdr", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "tool", "clowdr"),
            ("quay.io/org/tool@sha256:abc", "quay.io", "org/tool", "sha256:abc"),
            ("localhost/clowdr-aws-test:latest", "localhost", "clowdr-aws-test", "latest"),
            ("localhost:5000/x", "localhost:5000", "x", "latest"),
        ]
        for (image, registry, repository, reference) in cases {
            let r = ImageReference(image)
            #expect(r.registry == registry && r.repository == repository && r.reference == reference, "\(image): \(r)")
        }
        #expect(ImageReference("123456789012.dkr.ecr.eu-west-1.amazonaws.com/tool:clowdr").isECR)
        #expect(ImageReference("localhost/x").isLocalStore && !ImageReference("localhost:5000/x").isLocalStore)
        #expect(ImageReference("127.0.0.1:5001/x").isLoopback && !ImageReference("quay.io/x").isLoopback)
    }
}
