import EventLog
import JSON

/// One payload of every event type, with every optional field filled, for round-trip and schema tests.
enum ExampleEvents {
    static let controller = ControllerInfo(host: "vm", pid: 42, bootID: "b00t", startTicks: 99)

    static let bodies: [EventBody] = [
        .experimentCreated(
            ExperimentCreated(
                experiment: "2026-11-22_18-27-19-ABCDEFGH", name: "demo", descriptorSHA256: String(repeating: "a", count: 64), toolName: "bet",
                toolVersion: "1.0", invocations: ["inv/a.json"], options: ["jobs": "2"], backend: "local", user: "root", host: "vm",
                clowdrVersion: "0.1.0", os: "Linux", controller: controller)),
        .taskPlanned(
            TaskPlanned(
                invocation: ["x": 1, "y": "z;$(touch PWNED)", "l": [1.5, true, nil]], commandLine: "tool 1", labels: ["participant": "01"],
                source: "inv/a.json")),
        .taskSubmitted(TaskSubmitted(backend: "slurm", nativeID: "12_3")),
        .taskStarted(TaskStarted(host: "vm", pid: 1234, bootID: "b00t")),
        .taskStarted(
            TaskStarted(
                host: "node7", pid: 99, bootID: "b00t", clowdrVersion: "0.1.0-dev+g1a2b3c4d5e6f", cpuModel: "AMD EPYC 7B13", cpus: 64,
                memory: 270_000_000_000,
                kernel: "6.1.0-18-amd64", osRelease: "Debian GNU/Linux 12 (bookworm)")),
        .sample(Sample(cpuUser: 1, cpuSystem: 2, rss: 3, vms: 4, readBytes: 5, writeBytes: 6, processes: 7, threads: 8)),
        .taskExited(
            TaskExited(
                exitCode: 0, signal: nil, wallTime: 1.5, cpuUser: 1.25, cpuSystem: 0.25, peakRSS: 1 << 30, readBytes: 10, writeBytes: 20,
                outputs: [OutputFile(id: "out", path: "/data/o.nii.gz", size: 100, sha256: String(repeating: "b", count: 64))],
                failureReason: nil)),
        .taskExited(
            TaskExited(exitCode: nil, signal: 9, wallTime: 2, outputs: [OutputFile(id: "out", path: "o")], failureReason: "missing output out")),
        .taskLaunchFailed(TaskLaunchFailed(reason: "sh: not found", backend: "local")),
        .taskLost(TaskLost(reason: "controller died")),
        .taskCancelled(TaskCancelled(reason: "SIGINT", signal: 15)),
        .taskEnded(
            TaskEnded(
                backend: "slurm", nativeID: "12_3", state: "OUT_OF_MEMORY", failureClass: .oom,
                reason: "killed for exceeding its 50 MB memory request, peak 214 MB; rerun with mem:auto", exitCode: 0, signal: 9,
                peakRSS: 224_000_000, wallTime: 4, cpuTime: 1.5, endedAt: Timestamp(microseconds: 1_764_000_000_000_000))),
        .taskEnded(TaskEnded(backend: "slurm", nativeID: "12_4", state: "CANCELLED", failureClass: .cancelled, reason: "scancel before it started")),
        .rerunRequested(RerunRequested(mode: .failed, tasks: ["1", "7"], overrides: ["jobs": "4"], controller: controller)),
        .segmentRefused(
            SegmentRefused(
                segment: "segments/slurm-12_3.ndjson", line: 7, offset: 1822, code: "segment.after_final",
                reason: "task 3 attempt 1 has ended (its worker recorded its exit): nothing of it comes after", kept: "refused/slurm-12_3.ndjson",
                writer: "worker", nativeID: "12_3", host: "node7", type: "sample", version: 1, task: "3", attempt: 1)),
        .taskFiles(
            TaskFiles(
                traced: true, calls: 12,
                files: [
                    FileUse(
                        path: "/data/sub-01/anat/T1w.nii.gz", kind: .read, size: 1024, mtimeNs: 1_764_000_000_123_456_789,
                        sha256: String(repeating: "c", count: 64)),
                    FileUse(
                        path: "/out/tmp.nii", kind: .renamed, size: 10, mtimeNs: 1_764_000_001_000_000_000, sha256: String(repeating: "d", count: 64),
                        to: "/out/brain.nii"),
                    FileUse(path: "/out", kind: .listed),
                ],
                sets: [
                    FileSet(
                        id: String(repeating: "e", count: 64),
                        files: [FileUse(path: "/usr/bin/bet", kind: .executed, size: 5, mtimeNs: 1, sha256: String(repeating: "f", count: 64))]),
                    FileSet(id: String(repeating: "0", count: 64)),
                ], cwd: "/work", undeclared: ["/home/u/.cache/templateflow/tpl.nii.gz"])),
        .taskFiles(TaskFiles(traced: false, reason: "this kernel has no seccomp user notification")),
        .imageResolved(
            ImageResolved(
                engine: "podman", image: "docker.io/nipreps/fmriprep:24.1.1", digest: "sha256:" + String(repeating: "1", count: 64),
                id: String(repeating: "2", count: 64))),
        .imageResolved(ImageResolved(engine: "docker", image: "bet:6", reason: "Error: No such image: bet:6")),
    ]
}
