import AWS
import EventLog
import Foundation
import JSON
import Runner
import TestSupport
import Testing

@testable import Backends

/// AWS Batch's answers read without AWS: the failure class comes from Batch's reasons, never from the exit code
/// alone (shapes as DescribeJobs and ListJobs return them).
@Suite("AWS Batch accounting")
struct BatchAccountingTests {
    func job(_ text: String) throws -> BatchJob { BatchJob(try JSONParser.parse(text)) }

    @Test("a container killed for memory is oom whatever its exit code (137, 0 or 2), with the memory it was given")
    func oom() throws {
        for code in [137, 0, 2] {
            let j = try job(
                #"{"jobId":"a:1","status":"FAILED","statusReason":"Essential container in task exited","startedAt":1000,"stoppedAt":61000,"container":{"exitCode":\#(code),"reason":"OutOfMemoryError: Container killed due to memory usage","resourceRequirements":[{"type":"MEMORY","value":"512"}]}}"#
            )
            let f = BatchAccounting.final(j)
            #expect(f.failureClass == .oom && f.requestedMemory == 512 << 20 && f.wallTime == 60 && f.exitCode == Int32(code))
            #expect(f.state.contains("OutOfMemoryError: Container killed due to memory usage"))
            #expect(f.reason(task: "3", labels: "", scheduler: "AWS Batch").contains("memory request"))
        }
    }

    @Test("a spot reclaim is preempted; an image that cannot be pulled says so; a timeout; a cancel by clowdr; an app error keeps its exit")
    func classes() throws {
        let cases: [(String, FailureClass)] = [
            (#""statusReason":"Host EC2 (instance i-0abc) terminated.""#, .preempted),
            (#""container":{"reason":"CannotPullContainerError: pull image manifest has been retried 5 time(s): not found"}"#, .unschedulable),
            (#""statusReason":"Job attempt duration exceeded timeout""#, .timeout),
            (#""statusReason":"clowdr: cancelled""#, .cancelled),
            (#""statusReason":"Essential container in task exited","container":{"exitCode":3}"#, .appError),
        ]
        for (body, expected) in cases {
            let f = BatchAccounting.final(try job(#"{"jobId":"j","status":"FAILED",\#(body)}"#))
            #expect(f.failureClass == expected, "\(body)")
        }
        #expect(BatchAccounting.final(try job(#"{"jobId":"j","status":"FAILED","statusReason":"x","container":{"exitCode":3}}"#)).exitCode == 3)
        // Neither a reason nor an exit code: unknown, said as such (was "ended FAILED (FAILED)", an app error).
        let silent = BatchAccounting.final(try job(#"{"jobId":"j","status":"FAILED"}"#))
        #expect(silent.failureClass == .unknown && silent.exitCode == nil)
        #expect(
            silent.reason(task: "3", labels: "", scheduler: "AWS Batch")
                == "task 3: AWS Batch says FAILED, with no reason or exit code; its worker recorded no exit, so it is not taken for success")
    }

    @Test("a success without its worker's exit is not taken for success; SUCCEEDED counts as completed for the segment grace")
    func succeeded() throws {
        let f = BatchAccounting.final(try job(#"{"jobId":"j","status":"SUCCEEDED","container":{"exitCode":0}}"#))
        #expect(f.completed && f.failureClass == .unknown && f.state == "SUCCEEDED")
    }

    @Test("a RUNNABLE child with MISCONFIGURATION or ACTION_REQUIRED can never start: unschedulable, with AWS's words")
    func stuck() throws {
        let stuck = try job(
            #"{"jobId":"p:4","status":"RUNNABLE","statusReason":"MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher than that can be met by the CE(s) attached to the job queue."}"#
        )
        #expect(AWSBatchBackend.queueState(stuck) == .unschedulable(reason: stuck.statusReason))
        #expect(
            AWSBatchBackend.queueState(try job(#"{"jobId":"p:5","status":"RUNNABLE","statusReason":"ACTION_REQUIRED - CE has no instances"}"#))
                != .running)
        #expect(AWSBatchBackend.queueState(try job(#"{"jobId":"p:6","status":"RUNNABLE"}"#)) == .pending(reason: "RUNNABLE"))
        #expect(AWSBatchBackend.queueState(try job(#"{"jobId":"p:7","status":"RUNNING"}"#)) == .running)
        #expect(AWSBatchBackend.parent("p:7") == "p" && AWSBatchBackend.parent("solo") == "solo")
    }

    @Test("resources: cpus and mem from --clusterargs (MiB, M, G), with clear errors")
    func requirements() throws {
        #expect(try JobDefinitions.requirements([:]) == (1, 2048))
        #expect(try JobDefinitions.requirements(["cpus": "4", "mem": "3G"]) == (4, 3072))
        #expect(try JobDefinitions.requirements(["vcpus": "2", "mem": "700M"]) == (2, 700))
        #expect(throws: BackendError.self) { try JobDefinitions.requirements(["mem": "lots"]) }
    }

    @Test("the element a child runs: AWS_BATCH_JOB_ARRAY_INDEX, else the id's suffix (moto), else 0")
    func element() {
        #expect(AWSBatchWorker.element(["AWS_BATCH_JOB_ARRAY_INDEX": "7", "AWS_BATCH_JOB_ID": "p:7"]) == (7, "batch-p_7"))
        #expect(AWSBatchWorker.element(["AWS_BATCH_JOB_ID": "p:12"]).index == 12)
        #expect(AWSBatchWorker.element(["AWS_BATCH_JOB_ID": "solo"]) == (0, "batch-solo"))
    }
}

@Suite("AWS Batch array maps")
struct BatchArrayMapTests {
    @Test("a map names the invocations' object and each item's bytes in it; a worker reads back Worker's map and the ranges")
    func roundTrip() throws {
        let bundle = S3Location(bucket: "b", key: "p/exp/invocations/abc")
        let template = TaskFile(experiment: "s3://b/p/exp", task: "", attempt: 1, backend: "awsbatch")
        let text = BatchArrayMap.text(
            template: template, invocations: (bundle, ["0": 0...9, "1": 10...24, "2": 25...30]), elements: [[("0", 1), ("1", 1)], [("2", 3)]])
        #expect(text.split(separator: "\n")[1] == "0:1@0-9 1:1@10-24")
        let parsed = try BatchArrayMap.parse(text, source: "m")
        #expect(parsed.bundle == bundle && parsed.ranges == ["0": 0...9, "1": 10...24, "2": 25...30])
        let dir = try TestSupport.temporaryDirectory("map")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try parsed.map.write(toFile: dir + "/m", atomically: true, encoding: .utf8)
        let element = try Worker.arrayElement(map: dir + "/m", index: 1)
        #expect(element.map(\.task) == ["2"] && element.map(\.attempt) == [3] && element[0].experiment == "s3://b/p/exp")
        #expect(throws: BackendError.self) { try BatchArrayMap.parse("not json\n0:1", source: "m") }
    }
}
