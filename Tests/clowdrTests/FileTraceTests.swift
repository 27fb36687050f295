import Foundation
import TestSupport
import Testing

/// What `strace -f` saw a command do to files, as the comparison counts it: one (kind, path) per successful call.
///
/// The rule: the calls clowdr traces, successful only (a failed open read nothing); paths under /proc, /sys and
/// /dev left out, as are directories (listing is compared apart) and O_PATH opens; an open with O_WRONLY, O_RDWR,
/// O_CREAT or O_TRUNC is a write; both sides' paths resolved (symbolic links, `..`) before they are compared.
struct StraceUses {
    static let calls = "open,openat,openat2,creat,execve,execveat,rename,renameat,renameat2,unlink,unlinkat,truncate,link,linkat"

    var uses: Set<String> = []

    /// Parses `strace -f -y -qq -o FILE` output; `cwd` resolves relative paths of AT_FDCWD calls.
    init(log: String, cwd: String) {
        var unfinished: [String: String] = [:]
        for raw in log.split(separator: "\n").map(String.init) {
            let pidEnd = raw.firstIndex(of: " ") ?? raw.startIndex
            let pid = String(raw[..<pidEnd])
            var line = String(raw[pidEnd...]).trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("<unfinished ...>") {
                unfinished[pid] = String(line.dropLast("<unfinished ...>".count))
                continue
            }
            if line.hasPrefix("<... "), let close = line.range(of: "resumed>") {
                line = (unfinished.removeValue(forKey: pid) ?? "") + line[close.upperBound...]
            }
            // NAME(ARGS) = RESULT, with any spaces before the `=` (a resumed call pads them).
            guard let open = line.firstIndex(of: "("), let eq = line.range(of: " = ", options: .backwards),
                let close = line[..<eq.lowerBound].lastIndex(of: ")"), close > open
            else { continue }
            let name = String(line[..<open])
            let result = line[eq.upperBound...]
            guard !result.hasPrefix("-1") else { continue }
            let args = Self.arguments(String(line[line.index(after: open)..<close]))
            func path(_ dirIndex: Int?, _ pathIndex: Int) -> String? {
                guard pathIndex < args.count, let p = Self.string(args[pathIndex]) else { return nil }
                if p.hasPrefix("/") { return p }
                var base = cwd
                if let dirIndex, dirIndex < args.count, let lt = args[dirIndex].firstIndex(of: "<"), args[dirIndex].hasSuffix(">") {
                    base = String(args[dirIndex][args[dirIndex].index(after: lt)...].dropLast())
                }
                return p.isEmpty ? base : base + "/" + p
            }
            switch name {
            case "open": add(kind: Self.openKind(args.count > 1 ? args[1] : ""), path(nil, 0))
            case "creat": add(kind: "write", path(nil, 0))
            case "openat", "openat2": add(kind: Self.openKind(args.count > 2 ? args[2] : ""), path(0, 1))
            case "execve": add(kind: "exec", path(nil, 0))
            case "execveat": add(kind: "exec", path(0, 1))
            case "rename": add(kind: "rename", path(nil, 0))
            case "renameat", "renameat2": add(kind: "rename", path(0, 1))
            case "unlink": add(kind: "delete", path(nil, 0))
            case "unlinkat": if !(args.count > 2 && args[2].contains("AT_REMOVEDIR")) { add(kind: "delete", path(0, 1)) }
            case "truncate": add(kind: "write", path(nil, 0))
            case "link": add(kind: "write", path(nil, 1))
            case "linkat": add(kind: "write", path(2, 3))
            default: break
            }
        }
    }

    static func openKind(_ flags: String) -> String? {
        if flags.contains("O_PATH") || flags.contains("O_DIRECTORY") { return nil }
        return ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"].contains { flags.contains($0) } ? "write" : "read"
    }

    mutating func add(kind: String?, _ path: String?) {
        guard let kind, let path, let key = Self.key(kind, path) else { return }
        uses.insert(key)
    }

    /// `kind path` with the path resolved; nil for what the rule leaves out.
    static func key(_ kind: String, _ path: String) -> String? {
        let resolved = resolve(path)
        if ["/proc/", "/sys/", "/dev/"].contains(where: { resolved.hasPrefix($0) }) || resolved == "/dev/null" { return nil }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), isDirectory.boolValue { return nil }
        return kind + " " + resolved
    }

    /// The path with its symbolic links and `..` resolved (its folder's, when it is gone).
    static func resolve(_ path: String) -> String {
        if let real = realpath(path, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        let folder = (path as NSString).deletingLastPathComponent
        guard let real = realpath(folder, nil) else { return path }
        defer { free(real) }
        return String(cString: real) + "/" + (path as NSString).lastPathComponent
    }

    /// A call's arguments, split at top-level commas (strings, brackets and braces kept whole).
    static func arguments(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        var depth = 0
        var quoted = false
        var escaped = false
        for c in text {
            if quoted {
                current.append(c)
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { quoted = false }
                continue
            }
            switch c {
            case "\"": quoted = true
            case "[", "{", "(": depth += 1
            case "]", "}", ")": depth -= 1
            case "," where depth == 0:
                out.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                continue
            default: break
            }
            current.append(c)
        }
        if !current.isEmpty { out.append(current.trimmingCharacters(in: .whitespaces)) }
        return out
    }

    /// A quoted C string argument's text (strace escapes with backslashes); nil when not a string.
    static func string(_ arg: String) -> String? {
        guard arg.hasPrefix("\""), let end = arg.lastIndex(of: "\""), end > arg.startIndex else { return nil }
        let inner = arg[arg.index(after: arg.startIndex)..<end]
        return inner.replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
    }
}

/// clowdr's file records of one attempt against `strace -f` on the same command (the ground truth), on real tools.
@Suite(
    "Observed files match strace -f",
    .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), "strace is not installed (apt install strace)"))
struct FileTraceTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    /// The uses clowdr recorded for task 0 of a one-task run of `command` in `dir`, as `kind path` (the rule's kinds).
    func clowdrUses(_ command: String, in dir: String) throws -> (uses: Set<String>, listed: Set<String>) {
        let descriptor: [String: Any] = [
            "name": "t", "description": "d", "tool-version": "1", "schema-version": "0.5", "command-line": command + " #[X]",
            "inputs": [["id": "x", "name": "x", "type": "String", "value-key": "[X]", "optional": true]],
        ]
        try JSONSerialization.data(withJSONObject: descriptor).write(to: URL(fileURLWithPath: dir + "/d.json"))
        try "{}".write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let run = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "-w", dir, "-q"])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        let experiment = try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!
        let table = try TestSupport.run(clowdr, ["query", dir + "/prov/" + experiment, "--files", "0", "--format", "tsv", "--raw"])
        #expect(table.status == 0, "\(table.stderr)")
        var uses: Set<String> = []
        var listed: Set<String> = []
        for row in table.stdout.split(separator: "\n").dropFirst() {
            let f = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            let kind: String? =
                switch f[2] {
                case "read": "read"
                case "written", "created": "write"
                case "executed": "exec"
                case "renamed": "rename"
                case "deleted": "delete"
                default: nil
                }
            if f[2] == "listed" { listed.insert(f[3]) }
            if let kind, let key = StraceUses.key(kind, f[3]) { uses.insert(key) }
        }
        try? FileManager.default.removeItem(atPath: dir + "/prov")
        return (uses, listed)
    }

    /// The uses strace saw of `command` run by /bin/sh -c in `dir`.
    func straceUses(_ command: String, in dir: String) throws -> Set<String> {
        let log = dir + "/strace.log"
        let run = try TestSupport.run(
            "/bin/sh", ["-c", "cd '\(dir)' && exec strace -f -y -qq -s 4096 -e trace=\(StraceUses.calls) -o '\(log)' /bin/sh -c '\(command)'"])
        #expect(run.status == 0, "\(run.stderr)")
        defer { try? FileManager.default.removeItem(atPath: log) }
        return StraceUses(log: try String(contentsOfFile: log, encoding: .utf8), cwd: dir).uses.filter { !$0.hasSuffix("/strace.log") }
    }

    /// Runs `command` once to warm caches (compiled Python modules), then under strace and under clowdr (`reset`
    /// between, putting the files back as they were); checks recall and that clowdr records nothing strace did not
    /// see. Returns both sets.
    @discardableResult
    func compare(_ command: String, in dir: String, reset: String = "true") throws -> (clowdr: Set<String>, strace: Set<String>) {
        _ = try TestSupport.run("/bin/sh", ["-c", "cd '\(dir)' && (\(command)) >/dev/null 2>&1; \(reset)"])
        let truth = try straceUses(command, in: dir)
        _ = try TestSupport.run("/bin/sh", ["-c", "cd '\(dir)' && \(reset)"])
        let observed = try clowdrUses(command, in: dir).uses
        let found = truth.intersection(observed)
        let recall = Double(found.count) / Double(max(truth.count, 1))
        print(
            "file tracing against strace -f: \(found.count) of \(truth.count) uses recorded, \(observed.subtracting(truth).count) not seen by strace: \(command.prefix(60))"
        )
        #expect(recall >= 0.99, "recall \(found.count)/\(truth.count); missing: \(truth.subtracting(observed).sorted().prefix(20))")
        #expect(observed.subtracting(truth).isEmpty, "recorded but not seen by strace: \(observed.subtracting(truth).sorted().prefix(20))")
        #expect(truth.count > 0)
        return (observed, truth)
    }

    func folder(_ name: String) throws -> String {
        let dir = try TestSupport.temporaryDirectory(name)
        return (dir as NSString).resolvingSymlinksInPath
    }

    @Test("clowdr run inside a traced attempt: its attempts run untraced (a process has one listener), it says why once, and each record says why")
    func nested() throws {
        let dir = try folder("trace-nested")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inner: [String: Any] = [
            "name": "inner", "description": "d", "tool-version": "1", "schema-version": "0.5", "command-line": "echo [K] > out-[K].txt",
            "inputs": [["id": "k", "name": "k", "type": "Number", "integer": true, "value-key": "[K]"]],
        ]
        try JSONSerialization.data(withJSONObject: inner).write(to: URL(fileURLWithPath: dir + "/inner.json"))
        try #"{"k": [1, 2]}"#.write(toFile: dir + "/ks.json", atomically: true, encoding: .utf8)
        let command = "\(clowdr) run \(dir)/inner.json \(dir)/ks.json --sweep k --provdir \(dir)/inner-prov -w \(dir) -q 2> \(dir)/inner.err"
        let outer = try clowdrUses(command, in: dir)
        #expect(
            outer.uses.contains("write \(dir)/out-1.txt"),
            "the outer attempt saw what its inner clowdr's attempts wrote: \(outer.uses.sorted().prefix(10))")
        let experiment = try FileManager.default.contentsOfDirectory(atPath: dir + "/inner-prov").sorted().last!
        let records = try TestSupport.run(
            clowdr,
            [
                "query", dir + "/inner-prov/" + experiment, "--format", "tsv", "--sql",
                "SELECT json_extract(payload, '$.traced'), json_extract(payload, '$.reason') FROM events WHERE type = 'task_files'",
            ])
        let rows = records.stdout.split(separator: "\n").dropFirst()
        #expect(
            rows.count == 2 && rows.allSatisfy { $0.hasPrefix("0\t") && $0.contains("traced this way already") },
            "\(records.stdout) \(records.stderr)")
        let err = try String(contentsOfFile: dir + "/inner.err", encoding: .utf8)
        #expect(err.components(separatedBy: "are not observed here").count == 2, "said once: \(err)")
    }

    @Test("a Python tool importing many modules")
    func python() throws {
        let dir = try folder("trace-python")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (observed, truth) = try compare(
            "python3 -c \"import json, email.mime.text, http.client, xml.dom.minidom, unittest, asyncio, decimal, argparse, logging\"",
            in: dir)
        #expect(truth.filter { $0.hasSuffix(".pyc") }.count >= 100, "\(truth.count) uses")
        #expect(observed.contains { $0.hasSuffix("/json/__init__.py") || $0.contains("/json/__pycache__/__init__") })
    }

    @Test("a shell pipeline that reads, writes and appends")
    func pipeline() throws {
        let dir = try folder("trace-pipeline")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "b\na\nb\n".write(toFile: dir + "/in.txt", atomically: true, encoding: .utf8)
        let (observed, _) = try compare("cat in.txt | sort | uniq -c > out.txt && wc -l < /etc/services >> out.txt", in: dir, reset: "rm -f out.txt")
        #expect(observed.contains("read \(dir)/in.txt") && observed.contains("write \(dir)/out.txt"), "\(observed.sorted())")
    }

    @Test("a temporary file renamed into the output, and a file deleted")
    func renameIntoPlace() throws {
        let dir = try folder("trace-rename")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (observed, _) = try compare(
            "echo x > part.tmp && mv part.tmp final.out && touch gone.txt && rm gone.txt", in: dir, reset: "rm -f final.out part.tmp gone.txt")
        #expect(observed.contains("rename \(dir)/part.tmp") && observed.contains("delete \(dir)/gone.txt"), "\(observed.sorted())")
    }

    /// A C program: reads a file through a directory descriptor (openat), writes one, and with `threads` opens files
    /// from four threads and forks a child that execs /bin/true.
    static let program = """
        #include <fcntl.h>
        #include <pthread.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <sys/wait.h>
        #include <unistd.h>
        static void *worker(void *arg) {
            char name[64];
            snprintf(name, sizeof name, "data/t%ld.txt", (long)arg);
            FILE *f = fopen(name, "r");
            if (f) fclose(f);
            return NULL;
        }
        int main(void) {
            int dir = open("data", O_RDONLY | O_DIRECTORY);
            int fd = openat(dir, "in.txt", O_RDONLY);
            char buf[64];
            if (fd < 0 || read(fd, buf, sizeof buf) < 0) return 1;
            close(fd);
            FILE *out = fopen("result.txt", "w");
            fputs("done\\n", out);
            fclose(out);
            pthread_t t[4];
            for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)i);
            for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
            pid_t child = fork();
            if (child == 0) {
                execl("/bin/true", "true", (char *)NULL);
                _exit(127);
            }
            waitpid(child, NULL, 0);
            return 0;
        }
        """

    func compile(in dir: String, static isStatic: Bool) throws -> String {
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        for name in ["in.txt", "t0.txt", "t1.txt", "t2.txt", "t3.txt"] {
            try "x".write(toFile: dir + "/data/" + name, atomically: true, encoding: .utf8)
        }
        try Self.program.write(toFile: dir + "/tool.c", atomically: true, encoding: .utf8)
        let binary = dir + "/tool"
        let cc = try TestSupport.run("/usr/bin/cc", ["-O1", "-pthread", "-o", binary, dir + "/tool.c"] + (isStatic ? ["-static"] : []))
        #expect(cc.status == 0, "\(cc.stderr)")
        return binary
    }

    @Test(
        "a C program with threads, a fork and an exec, an openat through a directory descriptor",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/cc"), "no C compiler (apt install gcc)"))
    func cProgram() throws {
        let dir = try folder("trace-c")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tool = try compile(in: dir, static: false)
        let (observed, _) = try compare(tool, in: dir, reset: "rm -f result.txt")
        for k in 0..<4 { #expect(observed.contains("read \(dir)/data/t\(k).txt"), "\(observed.sorted())") }
        #expect(observed.contains("read \(dir)/data/in.txt") && observed.contains("exec /usr/bin/true"), "\(observed.sorted())")
    }

    @Test(
        "the same program linked statically (no libc to interpose on)",
        .enabled(if: FileManager.default.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/libc.a"), "no static libc (apt install libc6-dev)"))
    func staticProgram() throws {
        let dir = try folder("trace-static")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tool = try compile(in: dir, static: true)
        let (observed, _) = try compare(tool, in: dir, reset: "rm -f result.txt")
        #expect(observed.contains("write \(dir)/result.txt") && observed.contains("exec \(dir)/tool"), "\(observed.sorted())")
    }
}
