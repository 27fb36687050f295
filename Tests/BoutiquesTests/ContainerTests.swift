import Boutiques
import Foundation
import JSON
import TestSupport
import Testing

/// Container command lines against `launch/container-command-lines.json` (bosh 0.5.33 run with logging shims).
@Suite("Container command lines", .enabled(if: TestSupport.sharedFixtures != nil, "../shared/fixtures is absent"))
struct ContainerTests {
    static let file = (TestSupport.sharedFixtures ?? "") + "/boutiques/launch/container-command-lines.json"

    /// bosh's launch flags, as clowdr's container options.
    static func options(_ args: [String], imageType: String) -> ContainerOptions? {
        if args.contains("--no-container") { return nil }
        var engine: ContainerEngine = imageType == "docker" ? .docker : .singularity
        if args.contains("--force-singularity") { engine = .singularity }
        var o = ContainerOptions(engine: engine)
        o.forced = args.contains { $0.hasPrefix("--force-") }
        o.mapUser = args.contains("-u")
        o.noPull = args.contains("--no-pull")
        o.noAutomounts = args.contains("--no-automounts")
        for (k, a) in args.enumerated() where a == "-v" { o.volumes.append(args[k + 1]) }
        let cliOpts = args.filter { $0.hasPrefix("--container-opts=") }.map { String($0.dropFirst("--container-opts=".count)) }
        if !cliOpts.isEmpty { o.containerOpts = cliOpts }
        return o
    }

    @Test("every recorded scenario gives bosh's container command")
    func scenarios() throws {
        let fixture = try BoutiquesDocument.load(Self.file)
        let dir = try TestSupport.temporaryDirectory("containers")
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        for f in ["in.txt", "sub/b.txt"] { _ = FileManager.default.createFile(atPath: dir + "/" + f, contents: Data("x".utf8)) }
        let cwd = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
        var same = 0
        let scenarios = fixture["scenarios"]?.arrayValue ?? []
        for s in scenarios {
            let name = s["scenario"]!.stringValue!
            let d = try DescriptorValidator.validate(fixture["descriptors"]![s["descriptor_file"]!.stringValue!]!)
            let renderer = Renderer(d, workingDirectory: cwd)
            let r = try renderer.render(fixture["invocation"]!)
            let stdout = s["bosh_stdout"]!.stringValue!
            guard let o = Self.options(s["bosh_args"]!.arrayValue!.compactMap(\.stringValue), imageType: d.container?.type ?? "docker") else {
                let section = stdout.components(separatedBy: "Container command\n").dropFirst().first?.components(separatedBy: "\n").first ?? ""
                #expect(section.isEmpty, "\(name): bosh ran no container")
                same += 1
                continue
            }
            let expected = stdout.components(separatedBy: "Container command\n")[1].components(separatedBy: "\nExit code")[0]
            let launch = try renderer.containerLaunch(r, options: o, cwd: cwd, scriptName: "temp-$RAND-$MILLIS.localExec.boshjob.sh")
            let ours = launch.command.replacingOccurrences(of: cwd, with: "$CWD")
            #expect(ours == expected, "\(name)")
            if ours == expected { same += 1 }
            #expect(launch.scriptContent.hasPrefix("#!" + (d.shell ?? "/bin/sh -l") + "\n"))
            if let loc = stdout.components(separatedBy: "Container location\n").dropFirst().first, loc.hasPrefix("Pulled from "),
                let source = launch.pullSource
            {
                #expect(loc.hasPrefix("Pulled from \(source)"), "\(name)")
            }
        }
        print("container-command-lines: \(same)/\(scenarios.count) identical")
        #expect(same == scenarios.count)
    }
}

@Suite("Container command lines beyond bosh's recordings")
struct ContainerExtraTests {
    func descriptor(env: String) throws -> Descriptor {
        try DescriptorValidator.validate(
            try JSONParser.parse(
                #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"echo [S]","container-image":{"type":"docker","image":"org/img:1"},"environment-variables":[{"name":"V","value":"\#(env)"}],"inputs":[{"id":"s","name":"s","type":"String","value-key":"[S]"}]}"#
            ))
    }

    @Test("podman takes docker's command line; environment values with a quote stay one word (bosh breaks them)")
    func podmanAndQuotes() throws {
        let d = try descriptor(env: "it's")
        let renderer = Renderer(d, workingDirectory: "/")
        let r = try renderer.render(["s": "x"])
        let launch = try renderer.containerLaunch(r, options: ContainerOptions(engine: .podman), cwd: "/", scriptName: "run.sh")
        #expect(launch.command == #"podman run --entrypoint=/bin/sh --rm  -e V='it'"'"'s'  -v /:/ -w / org/img:1 //run.sh"#)
        // The shell reads it back as the original value.
        let out = try TestSupport.run("/bin/sh", ["-c", "printf %s " + #"'it'"'"'s'"#])
        #expect(out.stdout == "it's")
    }

    @Test("an environment value that is an input's value-key takes the input's value")
    func envFromInput() throws {
        let d = try descriptor(env: "[S]")
        let renderer = Renderer(d, workingDirectory: "/")
        #expect(renderer.environment(try renderer.render(["s": "a b"])).map(\.value) == ["a b"])
    }
}
