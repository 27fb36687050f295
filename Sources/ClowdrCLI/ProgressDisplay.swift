import Backends
import EventLog
import Foundation
import Query

/// The live progress line: on a terminal only, rewritten in place on stderr.
final class Display: @unchecked Sendable {
    private let enabled: Bool
    private var timer: (any DispatchSourceTimer)?
    private let lock = NSLock()

    private var announced = false
    /// Standard output is the JSON summary's alone (`--json`): the id, the log and attempts' lines stay off it.
    private let json: Bool

    init(quiet: Bool, json: Bool = false) {
        enabled = !quiet && isatty(2) != 0
        self.json = json
    }

    /// Prints the experiment's id and log, once: as soon as it exists, so it can be queried or shared while it runs.
    func announce(_ layout: ExperimentLayout) {
        let first = lock.withLock {
            defer { announced = true }
            return !announced
        }
        guard first, !json else { return }
        FileHandle.standardOutput.write(Data("experiment \(layout.id)\nlog \(layout.log)\n".utf8))
    }

    /// A run on any backend: the id at once, then the progress line (on a terminal), with -V a line for each
    /// attempt as its end is learnt, and the scheduler's warnings.
    func started(_ layout: ExperimentLayout, _ controller: Controller?, verbose: Bool) {
        announce(layout)
        guard let controller else { return }
        controller.onWarning = { [self] message in
            lock.withLock {
                if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                FileHandle.standardError.write(Data("clowdr: warning: \(message)\n".utf8))
            }
        }
        if verbose && !json {
            // Each task's labels, read once from the log's projection.
            let labels = ((try? EventLog(path: layout.log, mode: .readOnly).projectedTasks()) ?? [:]).mapValues(\.labels)
            controller.onAttemptEnd = { [self] task, attempt in
                let name = TaskLabels.taskName(task, labels: labels[task] ?? nil)
                let how = LogTail.failureText(attempt, task: task, in: layout).map { ": \($0)" } ?? ""
                lock.withLock {
                    if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                    FileHandle.standardOutput.write(Data("\(name) attempt \(attempt.attempt): \(attempt.state.rawValue)\(how)\n".utf8))
                }
            }
        }
        guard enabled else { return }
        let t = DispatchSource.makeTimerSource(queue: .global())
        t.schedule(deadline: .now(), repeating: 0.25)
        t.setEventHandler { [weak self] in self?.draw(controller.snapshot.line) }
        t.resume()
        lock.withLock { timer = t }
    }

    private func draw(_ line: String) {
        lock.withLock { FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8)) }
    }

    func stop() {
        lock.withLock {
            timer?.cancel()
            timer = nil
        }
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

/// A line of progress for a long command or step (the ingest of many segments, an export's steps): on a terminal
/// only, rewritten in place on stderr (counts at most 4 times a second, once the step has lasted half a second; a
/// step's start at once), and cleared when it ends.
final class ProgressLine {
    private let enabled = isatty(2) != 0
    private let started = Date()
    private var lastDrawn: Date?

    /// Shows `text` if it is time to (`now`: a step that starts, a few per command, shown at once).
    func show(_ text: @autoclosure () -> String, now immediate: Bool = false) {
        guard enabled else { return }
        let now = Date()
        if !immediate {
            guard now.timeIntervalSince(started) >= 0.5, lastDrawn.map({ now.timeIntervalSince($0) >= 0.25 }) ?? true else { return }
        }
        lastDrawn = now
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text())".utf8))
    }

    /// Clears the line, if one was shown.
    func end() {
        if lastDrawn != nil { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
