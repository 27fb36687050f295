// clowdr-bench: the benchmarks of `make bench`, one file each. Each prints its figures beside a peer's or the
// raw limit's, measured in the same run. (The helper processes the tests drive are `clowdr-testkit`'s.)
//
//   clowdr-bench eventlog [--events N] [--batch B] [--rounds R] [--dir DIR] [--only PHASES]
//       Appends N sample events in batches, replays them, and measures a bare prepared-statement insert of the
//       same rows into a plain table in the same run (the SQLite limit on this machine). Prints rates and ratios.
//       --only "append" (or "bare", "bare UNIQUE", comma-separated) runs some phases, to profile one of them.
//   clowdr-bench boutiques [--invocations N] [--bosh PATH]      Boutiques beside bosh (BoutiquesBenchmark.swift).
//   clowdr-bench run [--sizes 500,2000] [--slots 2,8] [--rounds 5] | query | report | share
//                                                               Local runs, queries, the HTML report, clowdr share.
//   clowdr-bench rocrate [--tasks N]                           clowdr export rocrate at 100,000 tasks (ROCrateBenchmark.swift).
//   clowdr-bench worker                                         clowdr task's start and per-task cost (WorkerBenchmark.swift).
//   clowdr-bench trace [--reprozip PATH] [--rounds R] [--attempts N]
//       File tracing's overhead on three tools beside strace -f and reprozip, and the record's size (TraceBenchmark.swift).
//   clowdr-bench ingest [--segments N] [--events-per-segment E]
//       Ingests N worker segments beside EventLog.append of the same events, then times `clowdr status` (IngestBenchmark.swift).
//   clowdr-bench slurm [--tasks N] [--follow SECONDS] [--rounds R]
//       Submission, following and files on disk on the Slurm of scripts/slurm/setup.sh (SlurmBenchmark.swift).
//   clowdr-bench aws                                            S3 and Batch against moto (AWSBenchmark.swift).
import Foundation

switch CommandLine.arguments.dropFirst().first {
case "eventlog": try eventlogBenchmark()
case "boutiques": try boutiquesBenchmark()
case "run": try runBenchmark()
case "worker": try workerBenchmark()
case "trace": try traceBenchmark()
case "query": try queryBenchmark()
case "report": try reportBenchmark()
case "rocrate": try rocrateBenchmark()
case "share": try shareBenchmark()
case "ingest": try ingestBenchmark()
case "slurm": try slurmBenchmark()
case "aws": try awsBenchmark()
default:
    print(
        "usage: clowdr-bench eventlog [--events N] [--batch B] [--rounds R] [--only PHASES] | boutiques [--invocations N] [--bosh PATH] | run | worker | query | report | rocrate | share | ingest | slurm | aws"
    )
    exit(2)
}
