#!/usr/bin/env bash
# The demo: a BIDS-app-like tool over a small synthetic BIDS dataset (8 participants x 2 sessions), one session
# missing its recording (sub-05/ses-2 has only its scans.tsv, which lists it). Run with --bids, look at the status, add the missing file, rerun what failed.
set -uo pipefail
clowdr=${1:-.build/debug/clowdr}
out=${2:-out/demo}
rm -rf "$out" && mkdir -p "$out"
cp -r examples/bids-demo/dataset "$out/dataset"
echo "== clowdr run (16 tasks: participants x sessions found in the dataset)"
"$clowdr" run examples/bids-demo/descriptor.json examples/bids-demo/invocation.json --bids --provdir "$out/provdir" --name demo
echo "(exit code $?: 1 means some task failed)"
echo
echo "== clowdr status"
"$clowdr" status "$out/provdir"
echo
echo "== the missing recording arrives: sub-05 session 2"
mkdir -p "$out/dataset/sub-05/ses-2/beh"
cp "$out/dataset/sub-05/ses-1/beh/sub-05_ses-1_task-reaction_events.tsv" "$out/dataset/sub-05/ses-2/beh/sub-05_ses-2_task-reaction_events.tsv" || exit 1
echo "== clowdr rerun failed"
"$clowdr" rerun failed "$out/provdir" || exit 1
echo
"$clowdr" status "$out/provdir"
exp=$(ls -d "$out"/provdir/*/ | tail -1)
"$clowdr" fsck "$exp" | tail -1
echo
echo "== clowdr query --top ram -n 3"
"$clowdr" query --top ram -n 3 --format table "$exp"
echo "== clowdr export json / prov, clowdr archive"
"$clowdr" export json "$exp" -o "$out/record.json" >/dev/null
"$clowdr" export prov "$exp" -o "$out/record.prov.json" >/dev/null
echo "== clowdr export html (the report: one self-contained file)"
report=$("$clowdr" export html "$exp" -o "$out/report.html") || exit 1
archive=$("$clowdr" archive "$exp" --into "$out")
"$clowdr" archive --verify "$archive"
echo
echo "Experiment:   $exp"
echo "Event log:    ${exp}clowdr.db   (sqlite3 ${exp}clowdr.db 'SELECT task, attempt, state, peak_rss, wall_time FROM attempts')"
echo "Task outputs: ${exp}tasks/<task>.<attempt>.stdout and .stderr; invocations: ${exp}tasks/<task>.json"
echo "Derivatives:  $out/derivatives"
echo "Exports:      $out/record.json (schema/experiment.schema.json), $out/record.prov.json (W3C PROV)"
echo "Archive:      $archive"
echo "Live report:  $clowdr share $out/provdir   (then open the address it prints)"
echo
echo "Report:       $report   (open it in any browser, offline)"
