import EventLog
import Testing

@Suite("Requested resources: Slurm's notation read from task_submitted")
struct RequestedResourcesTests {
    @Test("memory: a plain number is MB; K, M, G, T in either case; nonsense is absent")
    func memory() {
        #expect(RequestedResources(["mem": "2048"]).memory == 2048 << 20)
        #expect(RequestedResources(["mem": "500M"]).memory == 500 << 20)
        #expect(RequestedResources(["memory": "2g"]).memory == 2 << 30)
        #expect(RequestedResources(["mem": "1T"]).memory == 1 << 40)
        #expect(RequestedResources(["mem": "lots"]).memory == nil)
        #expect(RequestedResources(nil) == RequestedResources())
    }

    @Test("time: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S; cpus from any of its keys")
    func timeAndCPUs() {
        #expect(RequestedResources(["time": "5"]).timeLimit == 300)
        #expect(RequestedResources(["time": "4:30"]).timeLimit == 270)
        #expect(RequestedResources(["t": "2:00:00"]).timeLimit == 7200)
        #expect(RequestedResources(["time": "1-2"]).timeLimit == 93_600)
        #expect(RequestedResources(["time": "1-2:30"]).timeLimit == 95_400)
        #expect(RequestedResources(["time": "1-0:0:10"]).timeLimit == 86410)
        #expect(RequestedResources(["time": "1:2:3:4"]).timeLimit == nil)
        #expect(RequestedResources(["cpus-per-task": "4"]).cpus == 4 && RequestedResources(["c": "2"]).cpus == 2)
    }
}
