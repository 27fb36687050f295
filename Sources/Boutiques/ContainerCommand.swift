import Foundation
import JSON

/// The container engines a descriptor's image can run under.
public enum ContainerEngine: String, Sendable, CaseIterable {
    case docker, podman, singularity, apptainer

    /// docker and podman take the same command line; singularity and apptainer too.
    public var isDockerLike: Bool { self == .docker || self == .podman }
    /// The descriptor image type this engine belongs to.
    var family: String { isDockerLike ? "docker" : "singularity" }
}

/// How to run a container: the choices bosh's `exec launch` flags make.
public struct ContainerOptions: Sendable {
    public var engine: ContainerEngine
    /// `-v HOST:CONTAINER[:MODE]` mounts, in order (the mode is dropped, as bosh does).
    public var volumes: [String] = []
    /// Run as the calling user (`-u $(id -u):$(id -g)` for docker-like engines).
    public var mapUser = false
    /// Never pull the image (`--pull=never`).
    public var noPull = false
    /// Do not mount every File input's path into the container.
    public var noAutomounts = false
    /// Options that replace the descriptor's `container-opts`.
    public var containerOpts: [String]?
    /// The engine was chosen explicitly (then options given here are kept even for another image type).
    public var forced = false
    /// A local Singularity/Apptainer image file to use (`--simg`, bosh's `--imagepath`).
    public var imagePath: String?

    public init(engine: ContainerEngine) { self.engine = engine }
}

/// A container launch, ready to run: the script that holds the command line, and the engine's command.
public struct ContainerLaunch: Sendable, Equatable {
    public var engine: ContainerEngine
    /// The script file to write (mode 755) before running `command`.
    public var scriptPath: String
    public var scriptContent: String
    /// The command, for `/bin/sh -c` (so `$(id -u)` and `$PWD` in options expand on the host).
    public var command: String
    /// For Singularity/Apptainer: the local image file and where to pull it from when it is missing.
    public var localImage: String?
    public var pullSource: String?
    /// The folders mounted into the container, `HOST:CONTAINER`, in order: a file the tool names under a container
    /// folder is the host's file under the host folder.
    public var mounts: [String] = []
}

extension Renderer {
    /// Builds the container command for a rendered invocation, as bosh 0.5.33 does, with environment values
    /// always safely single-quoted. `cwd` is the launch folder; `scriptName` names the script within it.
    public func containerLaunch(_ r: RenderedInvocation, options o: ContainerOptions, cwd: String, scriptName: String) throws(BoutiquesError)
        -> ContainerLaunch
    {
        guard let c = descriptor.container, let image = c.image else {
            throw BoutiquesError(
                .evaluation, [BoutiquesIssue(pointer: "/container-image", rule: "container", message: "the descriptor has no container image to run")]
            )
        }
        let cwd = Renderer.realpath(cwd)
        let shell = descriptor.shell ?? "/bin/sh"
        let scriptPath = cwd + "/" + scriptName
        let script = "#!" + shell + (shell == "/bin/sh" ? " -l" : "") + "\n" + r.commandLine
        let mounts = try containerMounts(r, options: o, cwd: cwd)
        // Options: the caller's replace the descriptor's; options for another image type are dropped unless
        // the caller forced the engine and gave them.
        var opts = o.containerOpts ?? c.containerOpts ?? []
        if c.type != o.engine.family && !(o.forced && o.containerOpts != nil) { opts = [] }
        let optText = opts.map { $0 + " " }.joined()
        let env = environment(r)
        if o.engine.isDockerLike {
            var cmd = o.engine.rawValue + " run"
            if o.mapUser { cmd += " -u $(id -u):$(id -g)" }
            if o.noPull { cmd += " --pull=never" }
            cmd += " --entrypoint=" + shell + " --rm "
            cmd += env.map { " -e \($0.name)=\(Renderer.singleQuote($0.value)) " }.joined()
            cmd += mounts.map { " -v " + $0 }.joined()
            cmd += " -w " + cwd + " " + optText + image + " " + scriptPath
            var launch = ContainerLaunch(
                engine: o.engine, scriptPath: scriptPath, scriptContent: script, command: cmd, localImage: nil, pullSource: nil)
            launch.mounts = mounts
            return launch
        }
        // Singularity / Apptainer: a local image file, pulled from the index when missing.
        let (local, source) = singularityImage(image, of: c, options: o, cwd: cwd)
        var cmd = env.map { "SINGULARITYENV_\($0.name)=\(Renderer.singleQuote($0.value)) " }.joined()
        cmd += o.engine.rawValue + " exec --cleanenv"
        cmd += mounts.map { " -B " + $0 }.joined()
        cmd += " -W " + cwd + " " + optText + local + " " + scriptPath
        var launch = ContainerLaunch(
            engine: o.engine, scriptPath: scriptPath, scriptContent: script, command: cmd, localImage: local, pullSource: source)
        launch.mounts = mounts
        return launch
    }

    /// The mounts, `HOST:CONTAINER`: the user's volumes, the launch folder, then every File input not already
    /// mounted (each must exist, as bosh requires).
    func containerMounts(_ r: RenderedInvocation, options o: ContainerOptions, cwd: String) throws(BoutiquesError) -> [String] {
        var mounts: [String] = []
        var targets = Set<String>()
        for v in o.volumes {
            let parts = v.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2 else {
                throw BoutiquesError(.evaluation, [BoutiquesIssue(pointer: "", rule: "volume", message: "'\(v)' is not HOST:CONTAINER[:MODE]")])
            }
            let host = parts[0].hasPrefix("/") ? parts[0] : Renderer.realpath(cwd + "/" + parts[0])
            mounts.append(host + ":" + parts[1])
            targets.insert(parts[1])
        }
        mounts.append(cwd + ":" + cwd)
        guard !o.noAutomounts else { return mounts }
        var missing: [String] = []
        for i in descriptor.inputs where i.type == .file {
            guard let v = r.invocation[i.id] else { continue }
            for item in (v.arrayValue ?? [v]).compactMap(\.stringValue) {
                let target = PythonFormat.abspath(item, cwd: cwd)
                if targets.contains(target) { continue }
                guard FileManager.default.fileExists(atPath: target) else {
                    missing.append(target)
                    continue
                }
                mounts.append(Renderer.realpath(target) + ":" + target)
            }
        }
        if !missing.isEmpty {
            throw BoutiquesError(
                .evaluation, [BoutiquesIssue(pointer: "", rule: "mount", message: "missing local mount location: \(missing.joined(separator: ", "))")]
            )
        }
        return mounts
    }

    /// A Singularity/Apptainer image: the local file to run, and where to pull it from when it is missing.
    func singularityImage(_ image: String, of c: Descriptor.ContainerImage, options o: ContainerOptions, cwd: String) -> (
        local: String, source: String
    ) {
        var img = image
        var index = c.type == "docker" ? "docker://" + (c.index ?? "") : (c.index ?? "shub://")
        if let r = img.range(of: "://") {
            index = String(img[..<r.upperBound])
            img = String(img[r.upperBound...])
        }
        if !index.hasSuffix("/") { index += "/" }
        let local =
            o.imagePath.map { $0.hasPrefix("/") ? $0 : cwd + "/" + $0 }
            ?? cwd + "/" + img.replacingOccurrences(of: "/", with: "-").replacingOccurrences(of: ":", with: "-") + ".simg"
        return (local, index + img)
    }

    /// The descriptor's environment variables; a value that is exactly an input's value-key takes that input's
    /// value (and the variable is left out when the input has none).
    public func environment(_ r: RenderedInvocation) -> [(name: String, value: String)] {
        descriptor.environment.compactMap { e in
            if let i = descriptor.inputs.first(where: { $0.valueKey == e.value }) {
                guard let v = r.invocation[i.id], v != .null else { return nil }
                return (e.name, PythonFormat.str(v))
            }
            return (e.name, e.value)
        }
    }

    /// `'value'` with each `'` written as `'"'"'`: safe for any value, and the same as bosh's `'value'` for
    /// values without a single quote.
    static func singleQuote(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "'\"'\"'") + "'"
    }

    /// The path with symbolic links resolved (the path itself when it does not exist).
    static func realpath(_ path: String) -> String {
        guard let p = Foundation.realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }
}
