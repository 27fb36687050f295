import Boutiques
import EventLog
import Foundation
import JSON
import Query

/// The `@graph` of an experiment's crate, read from its log: what each entity is and how they link (the Provenance
/// Run Crate profile 0.5, https://w3id.org/ro/wfrun/provenance/0.5).
///
/// - The main workflow is the experiment's plan: the Boutiques descriptor (`descriptor.json`, a
///   ComputationalWorkflow and HowTo in Boutiques) applied to every task's invocation. Its one step runs the tool
///   (a SoftwareApplication with its version); its inputs and outputs are the descriptor's, as FormalParameters.
/// - The experiment is a CreateAction of that workflow (object: the invocations; result: the outputs of each
///   task's latest attempt); clowdr's run of it an OrganizeAction whose objects are one ControlAction per attempt.
/// - Each attempt is a CreateAction of the tool: its invocation's values (PropertyValues) and input files, declared
///   and observed, as `object`; its outputs, declared and observed, with SHA-256, as `result`; start, end,
///   `actionStatus` and `error`; the user as `agent`; the host and what it ran with as `environment`; the container
///   image with its digest; `resourceUsage` with units. A rerun's attempt `wasInformedBy` the attempt it replaces.
struct ExperimentCrate {
    /// What the crate holds besides the log: the descriptor, the parts written beside the metadata, the options.
    struct Parts {
        var descriptor: Descriptor
        /// The tasks' invocations, one JSON object by task, in the crate; and how many tasks.
        var invocations: String
        var tasks: Int
        /// Files of the crate other than the descriptor and the invocations: (path in the crate, name, description).
        var files: [(path: String, name: String, description: String)]
        /// Outputs copied into the crate (`--with-data`): path in the crate, by the output's own path.
        var copies: [String: String]
        /// The attempts' stdout and stderr in the crate's `tasks/`: `<task>.<attempt>.stdout` and `.stderr`.
        var logs: Set<String>
        var license: String?
        var publisher: String?
        var publisherURL: String?
    }

    let records: ExperimentRecords
    let parts: Parts
    let graph: CrateGraphWriter

    /// The ids every attempt refers to.
    private struct Common {
        var workflow = "descriptor.json"
        var step = "descriptor.json#step"
        var tool: String
        var user: String
        var inputs: [String: String]  // descriptor input id -> FormalParameter id
        var outputs: [String: String]  // descriptor output id -> FormalParameter id
    }

    /// What the walk over the attempts gathers for the entities written last (spooled: 100,000 attempts' ids).
    private struct Gathered {
        var actions: IDList
        var controls: IDList
        /// The results of each task's latest attempt.
        var results: IDList
        var firstStart: Timestamp?
        var lastEnd: Timestamp?

        init() throws {
            actions = try IDList()
            controls = try IDList()
            results = try IDList()
        }
    }

    func write() throws {
        let created = try records.experiment()
        let payload = try created.map { try JSONParser.parse($0.payload) }
        let common = try writePlan(payload)
        var gathered = try Gathered()
        try writeAttempts(common, into: &gathered)
        try writeRun(payload, common, gathered)
        try writeRoot(payload, created: created, common, gathered)
        graph.finish()
    }

    // MARK: the plan

    /// The people, the profiles, the workflow (descriptor), its step, the tool and their parameters.
    private func writePlan(_ payload: JSONValue?) throws -> Common {
        let d = parts.descriptor
        let user = payload?["user"]?.stringValue ?? "unknown"
        var common = Common(tool: toolID(d), user: "#user-" + PROVExport.local(user), inputs: [:], outputs: [:])
        graph.add(CrateGraphWriter.entity(common.user, ["Person"], [("name", .string(user)), ("affiliation", CrateVocabulary.ref("#publisher"))]))
        for p in CrateVocabulary.profiles {
            graph.add(CrateGraphWriter.entity(p.id, ["CreativeWork"], [("name", .string(p.name)), ("version", .string(p.version))]))
        }
        let (usedInputs, usedOutputs) = try parametersUsed()
        for i in d.inputs where usedInputs.contains(i.id) {
            let id = "descriptor.json#input/" + PROVExport.local(i.id)
            common.inputs[i.id] = id
            graph.add(
                CrateGraphWriter.entity(
                    id, ["FormalParameter"],
                    [
                        ("name", .string(i.id)), ("description", .string(i.name)),
                        ("additionalType", .string(CrateVocabulary.additionalType(boutiques: i.type.rawValue, integer: i.integer))),
                        ("valueRequired", .bool(!i.optional)),
                    ]))
        }
        for o in d.outputs where usedOutputs.contains(o.id) {
            let id = "descriptor.json#output/" + PROVExport.local(o.id)
            common.outputs[o.id] = id
            graph.add(
                CrateGraphWriter.entity(
                    id, ["FormalParameter"], [("name", .string(o.id)), ("description", .string(o.name)), ("additionalType", .string("File"))]))
        }
        let inputs = d.inputs.compactMap { common.inputs[$0.id] }
        let outputs = d.outputs.compactMap { common.outputs[$0.id] }
        graph.add(
            CrateGraphWriter.entity(
                common.tool, ["SoftwareApplication"],
                [
                    ("name", .string(d.name)), ("version", .string(d.toolVersion)), ("description", .string(d.description)),
                    ("url", .string(toolURL(d) ?? common.tool)), ("input", CrateVocabulary.refs(inputs)), ("output", CrateVocabulary.refs(outputs)),
                ]))
        graph.add(
            CrateGraphWriter.entity(
                CrateVocabulary.boutiques, ["ComputerLanguage"],
                [("name", .string("Boutiques")), ("url", CrateVocabulary.ref(CrateVocabulary.boutiques))]))
        graph.add(
            CrateGraphWriter.entity(
                common.step, ["HowToStep"],
                [("name", .string("run \(d.name) on one invocation")), ("position", .string("0")), ("workExample", CrateVocabulary.ref(common.tool))])
        )
        graph.add(
            CrateGraphWriter.entity(
                common.workflow, ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"],
                [
                    ("name", .string("\(d.name) over the experiment's invocations")),
                    ("description", .string("The Boutiques descriptor of \(d.name) \(d.toolVersion), applied by clowdr to each task's invocation.")),
                    ("version", .string(d.toolVersion)), ("url", .string(toolURL(d) ?? common.tool)),
                    ("encodingFormat", .string("application/json")),
                    ("conformsTo", CrateVocabulary.ref(CrateVocabulary.computationalWorkflowProfile)),
                    ("programmingLanguage", CrateVocabulary.ref(CrateVocabulary.boutiques)),
                    ("sha256", payload?["descriptor_sha256"]), ("input", CrateVocabulary.refs(inputs)), ("output", CrateVocabulary.refs(outputs)),
                    ("hasPart", CrateVocabulary.ref(common.tool)), ("step", CrateVocabulary.ref(common.step)),
                ]))
        graph.add(
            CrateGraphWriter.entity(
                CrateVocabulary.computationalWorkflowProfile, ["CreativeWork"],
                [("name", .string("Bioschemas ComputationalWorkflow profile")), ("version", .string("1.0-RELEASE"))]))
        return common
    }

    /// The descriptor's inputs some task was given and the outputs some attempt produced: the parameters the crate
    /// describes (each has an example in it).
    private func parametersUsed() throws -> (inputs: Set<String>, outputs: Set<String>) {
        var inputs = Set<String>()
        try records.forEachPlan { p in
            guard let text = p.invocation, case .object(let o) = try JSONParser.parse(text) else { return }
            inputs.formUnion(o.keys)
        }
        var outputs = Set<String>()
        try records.forEachExit { x in
            for o in try x.outputs.map({ try JSONParser.parse($0).arrayValue ?? [] }) ?? [] where o["size"]?.isNull == false {
                if let id = o["id"]?.stringValue { outputs.insert(id) }
            }
        }
        return (inputs, outputs)
    }

    /// The tool's id: its DOI's URL when the descriptor has one, else an id in clowdr's namespace from its name and
    /// version (the profile asks for an absolute http(s) URI).
    private func toolID(_ d: Descriptor) -> String {
        if let url = toolURL(d) { return url }
        return CrateVocabulary.namespace + "tool/" + CrateVocabulary.relativeURI(d.name) + "/" + CrateVocabulary.relativeURI(d.toolVersion)
    }

    /// The tool's web address from its descriptor: `tool-doi` or `doi` (as https://doi.org/...), else `url`.
    private func toolURL(_ d: Descriptor) -> String? {
        for key in ["tool-doi", "doi"] {
            if let doi = d.json[key]?.stringValue, !doi.isEmpty { return doi.hasPrefix("http") ? doi : "https://doi.org/" + doi }
        }
        if let url = d.json["url"]?.stringValue, url.hasPrefix("http") { return url }
        return nil
    }

    // MARK: the attempts

    private func writeAttempts(_ common: Common, into gathered: inout Gathered) throws {
        let outputs = try PROVExport.outputsByAttempt(records)
        let labels = try PROVExport.labelsByTask(records)
        let starts = try records.payloadsByAttempt(.taskStarted) { if case .taskStarted(let p) = $0 { p } else { nil } }
        let images = try records.payloadsByAttempt(.imageResolved) { if case .imageResolved(let p) = $0 { p } else { nil } }
        let fileInputs = Set(parts.descriptor.inputs.filter { $0.type == .file }.map(\.id))
        var sets: [String: [FileUse]] = [:]
        var current: (task: String, values: [String])?
        var previous: String?
        var latest: [String] = []  // the results of the current task's latest attempt so far
        try records.forEachAttempt(.task) { task, a in
            let record = try records.taskFiles(task: task, attempt: a.attempt)
            let uses = try record.map { $0.traced ? try records.uses(of: $0, sets: &sets) : [] } ?? []
            if current?.task != task {
                // Relative paths in the invocation are the attempt's working directory's (known when it was traced);
                // an input file it was seen to read has the SHA-256 it had then.
                let base = record?.cwd ?? FileManager.default.currentDirectoryPath
                let hashes = Dictionary(
                    uses.filter { $0.kind.consumes }.compactMap { u in u.sha256.map { (u.path, $0) } }, uniquingKeysWith: { a, _ in a })
                current = (task, try writeValues(of: task, common, fileInputs: fileInputs, base: base, hashes: hashes))
                previous = nil
                for r in latest { gathered.results.append(r) }
            }
            let key = "\(task)/\(a.attempt)"
            let id = "#attempt/" + PROVExport.local(task) + "/\(a.attempt)"
            var object = current!.values
            var result = writeOutputs(outputs[key] ?? [], common) + writeStreams(task, a.attempt)
            if !uses.isEmpty {
                let observed = writeObserved(uses)
                object = distinct(object + observed.read)
                result = distinct(result + observed.made)
            }
            let environment = writeEnvironment(starts[key], image: images[key])
            var action: [(String, JSONValue?)] = [
                ("name", .string("task \(task) attempt \(a.attempt)" + (labels[task].map { " (\($0))" } ?? ""))),
                ("description", .string(description(a))),
                ("instrument", CrateVocabulary.ref(common.tool)), ("agent", CrateVocabulary.ref(common.user)),
                ("object", CrateVocabulary.refs(object)), ("result", CrateVocabulary.refs(result)),
                ("startTime", a.startedAt.map(CrateVocabulary.time)), ("endTime", a.endedAt.map(CrateVocabulary.time)),
            ]
            action += status(a)
            action.append(("resourceUsage", CrateVocabulary.refs(writeUsage(a, id))))
            action.append(("environment", CrateVocabulary.refs(environment.values)))
            action.append(("containerImage", environment.image.map(CrateVocabulary.ref)))
            action.append(("wasInformedBy", previous.map(CrateVocabulary.ref)))
            graph.add(CrateGraphWriter.entity(id, ["CreateAction"], action), unique: true)
            let control = "#control/" + PROVExport.local(task) + "/\(a.attempt)"
            graph.add(
                CrateGraphWriter.entity(
                    control, ["ControlAction"],
                    [
                        ("name", .string("orchestrate task \(task) attempt \(a.attempt)")), ("instrument", CrateVocabulary.ref(common.step)),
                        ("object", CrateVocabulary.ref(id)),
                    ] + status(a)), unique: true)
            gathered.actions.append(id)
            gathered.controls.append(control)
            latest = result
            if let t = a.startedAt, gathered.firstStart.map({ t < $0 }) ?? true { gathered.firstStart = t }
            if let t = a.endedAt, gathered.lastEnd.map({ t > $0 }) ?? true { gathered.lastEnd = t }
            previous = id
        }
        for r in latest { gathered.results.append(r) }
    }

    /// The task's invocation as values: a PropertyValue for each non-file input, a File for each input file; their ids.
    private func writeValues(of task: String, _ common: Common, fileInputs: Set<String>, base: String, hashes: [String: String]) throws -> [String] {
        guard let text = try records.plan(of: task)?.invocation, case .object(let invocation) = try JSONParser.parse(text) else { return [] }
        var ids: [String] = []
        for (input, value) in invocation {
            let parameter = common.inputs[input].map(CrateVocabulary.ref)
            if fileInputs.contains(input) {
                for item in value.arrayValue ?? [value] {
                    guard let path = item.stringValue else { continue }
                    let absolute = RecordedPath.absolute(path, base: base)
                    ids.append(writeFile(absolute, sha256: hashes[absolute], size: nil, example: parameter))
                }
                continue
            }
            let id = "#value/" + PROVExport.local(task) + "/" + PROVExport.local(input)
            let text = value.stringValue ?? JSONWriter().string(value)
            graph.add(
                CrateGraphWriter.entity(id, ["PropertyValue"], [("name", .string(input)), ("value", .string(text)), ("exampleOfWork", parameter)]),
                unique: true)
            ids.append(id)
        }
        return ids
    }

    /// The attempt's declared outputs that exist, as Files with their SHA-256; their ids.
    private func writeOutputs(_ outputs: [PROVExport.Output], _ common: Common) -> [String] {
        outputs.map { o in writeFile(o.path, sha256: o.sha, size: nil, example: common.outputs[o.id].map(CrateVocabulary.ref)) }
    }

    /// The attempt's stdout and stderr, files of the crate; their ids.
    private func writeStreams(_ task: String, _ attempt: Int) -> [String] {
        ["stdout", "stderr"].compactMap { stream in
            let name = ExperimentLayout.streamName(task, attempt, stream)
            guard parts.logs.contains(name) else { return nil }
            let id = ExperimentLayout.tasksFolder + "/" + CrateVocabulary.relativeURI(name)
            graph.add(
                CrateGraphWriter.entity(
                    id, ["File"],
                    [
                        ("name", .string(name)), ("description", .string("the \(stream) of task \(task) attempt \(attempt)")),
                        ("encodingFormat", .string("text/plain")),
                    ]), unique: true)
            return id
        }
    }

    /// What the attempt was observed to read (programs and libraries of the system left out, as in the PROV export)
    /// and to make (written, created, renamed into place; temporary files gone by the end left out).
    private func writeObserved(_ uses: [FileUse]) -> (read: [String], made: [String]) {
        let read = uses.filter { $0.kind.consumes && FileGroup.of($0) != .system }.map { u in
            writeFile(u.path, sha256: u.sha256, size: u.size, example: nil)
        }
        let made = uses.filter { ($0.kind.produces || $0.kind == .renamed) && $0.sha256 != nil }.map { u in
            writeFile(u.kind == .renamed ? (u.to ?? u.path) : u.path, sha256: u.sha256, size: nil, example: nil)
        }
        return (read, made)
    }

    /// `ids` without repeats, in order (a file read and executed is one input).
    private func distinct(_ ids: [String]) -> [String] {
        var seen = Set<String>()
        return ids.filter { seen.insert($0).inserted }
    }

    /// A file outside the crate (or its copy inside, with `--with-data`): one entity per path, with what it was when
    /// first seen (a rerun that rewrote an output: its new SHA-256 is in the log and the JSON and PROV exports; a
    /// crate's entity is a path, which readers look up where it is now).
    private func writeFile(_ path: String, sha256: String?, size: Int64?, example: JSONValue?) -> String {
        let absolute = RecordedPath.absolute(path)
        let id = parts.copies[absolute] ?? CrateVocabulary.fileURI(absolute)
        guard !graph.has(id) else { return id }
        graph.add(
            CrateGraphWriter.entity(
                id, ["File"],
                [
                    ("name", .string((absolute as NSString).lastPathComponent)), ("description", .string(absolute)),
                    ("encodingFormat", .string(CrateVocabulary.encodingFormat(absolute))), ("sha256", sha256.map(JSONValue.string)),
                    ("contentSize", size.map { .string(String($0)) }), ("exampleOfWork", example),
                ]))
        return id
    }

    /// The attempt's status: CompletedActionStatus, or FailedActionStatus with why as `error`; nothing while it runs.
    private func status(_ a: AttemptRecord) -> [(String, JSONValue?)] {
        switch a.state {
        case .succeeded: return [("actionStatus", .string("http://schema.org/CompletedActionStatus"))]
        case .failed, .lost, .cancelled:
            let why = a.failureReason ?? a.exitCode.map { "exit code \($0)" } ?? a.state.rawValue
            return [("actionStatus", .string("http://schema.org/FailedActionStatus")), ("error", .string(why))]
        case .submitted, .running: return []
        }
    }

    private func description(_ a: AttemptRecord) -> String {
        var s = a.state.rawValue
        if let c = a.exitCode { s += ", exit code \(c)" }
        if let g = a.signal { s += ", signal \(g)" }
        if let h = a.host { s += ", on \(h)" }
        if let b = a.backend { s += " (\(b))" }
        return s
    }

    /// The attempt's resource usage, each a PropertyValue with its propertyID and unit; their ids.
    private func writeUsage(_ a: AttemptRecord, _ action: String) -> [String] {
        var values: [(CrateVocabulary.Usage, JSONValue)] = []
        if let v = a.peakRSS { values.append((.peakMemory, .number(JSONNumber(v)))) }
        if let u = a.cpuUser { values.append((.cpuTime, .number(JSONNumber(u + (a.cpuSystem ?? 0))))) }
        if let w = a.wallTime { values.append((.wallTime, .number(JSONNumber(w)))) }
        if let v = a.readBytes { values.append((.bytesRead, .number(JSONNumber(v)))) }
        if let v = a.writeBytes { values.append((.bytesWritten, .number(JSONNumber(v)))) }
        return values.map { usage, value in
            let id = action + "/" + usage.rawValue
            graph.add(
                CrateGraphWriter.entity(
                    id, ["PropertyValue"],
                    [
                        ("name", .string(usage.name)), ("propertyID", .string(usage.propertyID)), ("unitCode", .string(usage.unitCode)),
                        ("value", value),
                    ]),
                unique: true)
            return id
        }
    }

    /// What the attempt ran with: the host and its facts, the clowdr that started it (PropertyValues shared by
    /// every attempt with the same value), and its container image as the engine resolved it.
    private func writeEnvironment(_ start: TaskStarted?, image: ImageResolved?) -> (values: [String], image: String?) {
        var facts: [(String, JSONValue)] = []
        if let s = start {
            facts.append(("host", .string(s.host)))
            for (k, v) in s.hostFacts { facts.append((k, v)) }
        }
        let values = facts.map { name, value in
            let text = value.stringValue ?? JSONWriter().string(value)
            let id = "#environment/" + PROVExport.local(name) + "/" + PROVExport.local(text)
            graph.add(CrateGraphWriter.entity(id, ["PropertyValue"], [("name", .string(name)), ("value", value)]))
            return id
        }
        guard let image else { return (values, nil) }
        return (values, writeImage(image))
    }

    /// The container image: a ContainerImage with its registry, name, tag and digest (a file's SHA-256 for
    /// Singularity and Apptainer images).
    private func writeImage(_ i: ImageResolved) -> String {
        let reference = ImageReference(i.image)
        let sif = i.engine == "singularity" || i.engine == "apptainer"
        let digest = i.digest ?? i.id  // `sha256:...`, as `image_resolved` holds it
        let id = "#image/" + PROVExport.local(i.image) + (digest.map { "/" + PROVExport.local($0) } ?? "")
        graph.add(
            CrateGraphWriter.entity(
                id, ["ContainerImage"],
                [
                    ("additionalType", CrateVocabulary.ref(CrateVocabulary.workflowRun + (sif ? "SIFImage" : "DockerImage"))),
                    ("name", .string(reference.repository)), ("tag", reference.tag.map(JSONValue.string)), ("registry", .string(reference.registry)),
                    ("sha256", digest.map { .string($0.replacingOccurrences(of: "sha256:", with: "")) }),
                    ("identifier", i.id.map(JSONValue.string)),
                ]))
        return id
    }

    // MARK: the run and the root

    /// The experiment as a run of the workflow, and clowdr's organisation of it.
    private func writeRun(_ payload: JSONValue?, _ common: Common, _ gathered: Gathered) throws {
        var states: [TaskState: Int] = [:]
        var total = 0
        try records.forEachTask { t in
            states[t.state, default: 0] += 1
            total += 1
        }
        let failed = (states[.failed] ?? 0) + (states[.lost] ?? 0) + (states[.cancelled] ?? 0)
        let done = (states[.succeeded] ?? 0) + failed == total
        var status: [(String, JSONValue?)] = []
        if done && failed == 0 { status = [("actionStatus", .string("http://schema.org/CompletedActionStatus"))] }
        if done && failed > 0 {
            status = [("actionStatus", .string("http://schema.org/FailedActionStatus")), ("error", .string("\(failed) of \(total) tasks failed"))]
        }
        graph.add(
            CrateGraphWriter.entity(
                parts.invocations, ["File"],
                [
                    ("name", .string("the tasks' invocations")), ("description", .string("Each task's invocation (Boutiques), by task.")),
                    ("encodingFormat", .string("application/json")),
                ]))
        let times: [(String, JSONValue?)] = [
            ("startTime", gathered.firstStart.map(CrateVocabulary.time)), ("endTime", done ? gathered.lastEnd.map(CrateVocabulary.time) : nil),
        ]
        let experiment = payload?["experiment"]?.stringValue ?? "experiment"
        try graph.add(
            CrateGraphWriter.entity(
                "#run", ["CreateAction"],
                [
                    ("name", .string("clowdr experiment \(experiment)")),
                    (
                        "description",
                        .string(
                            "\(total) tasks of \(parts.descriptor.name), one invocation each; \(states[.succeeded] ?? 0) succeeded, \(failed) failed")
                    ),
                    ("instrument", CrateVocabulary.ref(common.workflow)), ("agent", CrateVocabulary.ref(common.user)),
                    ("object", CrateVocabulary.ref(parts.invocations)),
                ] + times + status),
            lists: [("result", gathered.results)])
        let version = payload?["clowdr_version"]?.stringValue ?? "unknown"
        let clowdr = CrateVocabulary.namespace + "clowdr/" + CrateVocabulary.relativeURI(version)
        graph.add(
            CrateGraphWriter.entity(
                clowdr, ["SoftwareApplication"],
                [("name", .string("clowdr")), ("version", .string(version)), ("url", .string(CrateVocabulary.namespace + "clowdr"))]))
        try graph.add(
            CrateGraphWriter.entity(
                "#organize", ["OrganizeAction"],
                [
                    ("name", .string("clowdr \(version) running experiment \(experiment)")), ("instrument", CrateVocabulary.ref(clowdr)),
                    ("agent", CrateVocabulary.ref(common.user)), ("result", CrateVocabulary.ref("#run")),
                ] + times + status),
            lists: [("object", gathered.controls)])
    }

    /// The metadata descriptor, the license, the publisher, the crate's own files, and the root.
    private func writeRoot(_ payload: JSONValue?, created: ExperimentRow?, _ common: Common, _ gathered: Gathered) throws {
        graph.add(
            CrateGraphWriter.entity(
                "ro-crate-metadata.json", ["CreativeWork"],
                [
                    ("about", CrateVocabulary.ref("./")),
                    ("conformsTo", CrateVocabulary.refs(["https://w3id.org/ro/crate/1.1", "https://w3id.org/workflowhub/workflow-ro-crate/1.0"])),
                ]))
        for f in parts.files {
            graph.add(
                CrateGraphWriter.entity(
                    f.path, ["File"],
                    [
                        ("name", .string(f.name)), ("description", .string(f.description)),
                        ("encodingFormat", .string(CrateVocabulary.encodingFormat(f.path))),
                    ]
                        + (f.path == "README.md" ? [("about", CrateVocabulary.ref("./"))] : [])))
        }
        let license = licenseEntity()
        graph.add(license)
        let publisher = "#publisher"
        graph.add(
            CrateGraphWriter.entity(
                publisher, ["Organization"],
                [
                    ("name", .string(parts.publisher ?? "not stated")), ("url", parts.publisherURL.map(JSONValue.string)),
                    (
                        "description",
                        parts.publisher == nil ? .string("No publisher was named: clowdr export rocrate --publisher NAME names one.") : nil
                    ),
                ]))
        let experiment = payload?["experiment"]?.stringValue ?? "experiment"
        let name = payload?["name"]?.stringValue.map { "\($0) (clowdr experiment \(experiment))" } ?? "clowdr experiment \(experiment)"
        let (_, last) = try records.lastEvent()
        gathered.actions.append("#run")
        try graph.add(
            CrateGraphWriter.entity(
                "./", ["Dataset"],
                [
                    ("name", .string(name)),
                    (
                        "description",
                        .string(
                            "The record of \(parts.descriptor.name) \(parts.descriptor.toolVersion) run by clowdr over \(parts.tasks) invocations: every attempt, what it read and wrote, what it used."
                        )
                    ),
                    ("datePublished", .string((last ?? created?.time)?.iso8601 ?? Timestamp(seconds: 0).iso8601)),
                    ("license", license["@id"].map { .object(["@id": $0]) }), ("author", CrateVocabulary.ref(common.user)),
                    ("publisher", CrateVocabulary.ref(publisher)),
                    ("conformsTo", CrateVocabulary.refs(CrateVocabulary.profiles.map(\.id))),
                    ("mainEntity", CrateVocabulary.ref(common.workflow)),
                ]),
            lists: [("hasPart", graph.files), ("mentions", gathered.actions)])
    }

    /// The license: an SPDX identifier (as its spdx.org URL) or a URL, given with `--license`; else an entity
    /// that says none was stated.
    private func licenseEntity() -> JSONObject {
        guard let l = parts.license else {
            return CrateGraphWriter.entity(
                "#license", ["CreativeWork"],
                [
                    ("name", .string("not stated")),
                    ("description", .string("No license was stated: clowdr export rocrate --license SPDX-ID|URL states one.")),
                ])
        }
        let url = l.hasPrefix("http") ? l : "https://spdx.org/licenses/" + l
        return CrateGraphWriter.entity(url, ["CreativeWork"], [("name", .string(l)), ("url", .string(url))])
    }
}
