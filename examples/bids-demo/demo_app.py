#!/usr/bin/env python3
"""A small BIDS app for clowdr's demo: for each participant and session, read the reaction-time recording,
bootstrap the mean response time (real work: CPU time and some memory), write a BIDS derivative (a TSV and its
JSON sidecar)."""
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
        # A BIDS derivative: sub-<label>/[ses-<label>/]beh/<source entities>_desc-bootstrap_beh.tsv and its sidecar.
        out = os.path.join(a.output_dir, f"sub-{sub}", *([f"ses-{ses}"] if ses else []), "beh")
        os.makedirs(out, exist_ok=True)
        stem = os.path.join(out, f"{name}_task-reaction_desc-bootstrap_beh")
        with open(stem + ".tsv", "w") as f:
            f.write("n_trials\tmean_rt\tci95_low\tci95_high\n")
            f.write(f"{len(rts)}\t{statistics.fmean(rts):.6f}\t{means[int(0.025 * len(means))]:.6f}\t{means[int(0.975 * len(means))]:.6f}\n")
        with open(stem + ".json", "w") as f:
            json.dump({"Description": f"Mean response time with a bootstrap 95% interval ({a.resamples} resamples).",
                       "n_trials": {"Description": "Trials in the recording"},
                       "mean_rt": {"Description": "Mean response time", "Units": "s"},
                       "ci95_low": {"Description": "Bootstrap 95% interval, lower bound", "Units": "s"},
                       "ci95_high": {"Description": "Bootstrap 95% interval, upper bound", "Units": "s"}}, f, indent=2)
        print(f"{name}: mean response time {statistics.fmean(rts):.3f} s over {len(rts)} trials")
        time.sleep(0.2)
