#!/usr/bin/env python3
"""A small BIDS app for clowdr's demo: for each participant and session, read the reaction-time recording,
bootstrap the mean response time (real work: CPU time and some memory), write a derivative JSON."""
import argparse, json, os, random, statistics, sys, time

p = argparse.ArgumentParser()
p.add_argument("bids_dir")
p.add_argument("output_dir")
p.add_argument("analysis_level", choices=["participant"])
p.add_argument("--participant_label", nargs="+", required=True)
p.add_argument("--session_label", nargs="+", default=[])
p.add_argument("--resamples", type=int, default=20000)
a = p.parse_args()

for sub in a.participant_label:
    for ses in a.session_label or [None]:
        name = f"sub-{sub}" + (f"_ses-{ses}" if ses else "")
        folder = os.path.join(a.bids_dir, f"sub-{sub}", *( [f"ses-{ses}"] if ses else [] ), "beh")
        events = os.path.join(folder, f"{name}_task-reaction_events.tsv")
        if not os.path.exists(events):
            print(f"error: {events} is missing", file=sys.stderr)
            sys.exit(2)
        rts = [float(line.split("\t")[2]) for line in open(events).read().splitlines()[1:]]
        rng = random.Random(hash(name) & 0xFFFF)
        # Keep every bootstrap sample: the memory a real pipeline would hold.
        samples = [[rng.choice(rts) for _ in rts] for _ in range(a.resamples // 20)]
        means = sorted(statistics.fmean(s) for s in samples for _ in range(20))
        out = os.path.join(a.output_dir, f"sub-{sub}")
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, f"{name}_desc-bootstrap_stats.json"), "w") as f:
            json.dump({"participant": sub, "session": ses, "n_trials": len(rts), "mean_rt": statistics.fmean(rts),
                       "ci95": [means[int(0.025 * len(means))], means[int(0.975 * len(means))]]}, f, indent=2)
        print(f"{name}: mean response time {statistics.fmean(rts):.3f} s over {len(rts)} trials")
        time.sleep(0.2)
