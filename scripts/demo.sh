#!/usr/bin/env bash
# The demo: a BIDS-app-like tool over a small synthetic BIDS dataset (8 participants x 2 sessions), one session
# missing its recording (sub-05/ses-2 has only its scans.tsv, which lists it). Run with --bids, look at the status, add the missing file, rerun what failed.
set -uo pipefail
clowdr=${1:-.build/debug/clowdr}
out=${2:-out/demo}
rm -rf "$out" && mkdir -p "$out"
cp -r examples/bids-demo/dataset "$out/dataset"
# The example's invocation names out/demo/...: the demo's own copy names the folder it was given.
sed "s#out/demo/#$out/#g" examples/bids-demo/invocation.json > "$out/invocation.json"
echo "== clowdr run (16 tasks: participants x sessions found in the dataset)"
"$clowdr" run examples/bids-demo/descriptor.json "$out/invocation.json" --bids --provdir "$out/provdir" --name demo
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
archive=$("$clowdr" archive "$exp" --into "$out/derivatives")  # a BIDS dataset: into its code/clowdr/
"$clowdr" archive --verify "$archive"
echo
echo "== clowdr export rocrate (a Workflow Run RO-Crate), checked by roc-validator, runcrate and ro-crate-py"
crate=$("$clowdr" export rocrate "$exp" -o "$out/crate" --license CC0-1.0 --publisher "clowdr demo" --publisher-url https://clowdr.example) || exit 1
tools=${ROCRATE_VENV:-.build-rocrate}
if [ -x "$tools/bin/python" ] && [ -f scripts/rocrate_check.py ]; then
  # The checkers exit non-zero on any issue; what they said is judged below.
  "$tools/bin/python" scripts/rocrate_check.py "$crate" 2>/dev/null > "$out/crate-check.json"
  "$tools/bin/python" - "$out/crate-check.json" <<'EOF_CHECK' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
issues = r["validator"]["issues"]
conflict = [i for i in issues if i["check"] == "process-run-crate-0.5_5.1"]
print("roc-validator (provenance-run-crate-0.5, RECOMMENDED): %d REQUIRED issues, %d RECOMMENDED (%d of them the profiles' own conflict on the main workflow's id, docs/provenance.md)"
      % (sum(i["severity"] == "REQUIRED" for i in issues), sum(i["severity"] == "RECOMMENDED" for i in issues), len(conflict)))
print("runcrate report: %s; ro-crate-py: %s" % ("read it" if r["runcrate"]["exit"] == 0 else "failed", "loaded %d entities" % r["rocrate"]["entities"] if r["rocrate"]["loaded"] else "failed"))
sys.exit(0 if len(issues) == len(conflict) and r["runcrate"]["exit"] == 0 and r["rocrate"]["loaded"] else 1)
EOF_CHECK
  echo "== the derivatives, checked by the BIDS validator (bids-validator-deno)"
  "$tools/bin/bids-validator-deno" "$out/derivatives" --format json 2>/dev/null > "$out/derivatives-check.json"
  "$tools/bin/python" - "$out/derivatives-check.json" <<'EOF_CHECK' || exit 1
import json, sys
issues = json.load(open(sys.argv[1]))["issues"]["issues"]
errors = [i for i in issues if i["severity"] == "error"]
print("bids-validator: %d errors, %d warnings" % (len(errors), len(issues) - len(errors)))
for e in errors[:5]: print("  ", e["code"], e.get("location", ""))
sys.exit(1 if errors else 0)
EOF_CHECK
else
  echo "(the checkers are not installed: make demo installs them into $tools)"
fi
echo
echo "Experiment:   $exp"
echo "Event log:    ${exp}clowdr.db   (sqlite3 ${exp}clowdr.db 'SELECT task, attempt, state, peak_rss, wall_time FROM attempts')"
echo "Task outputs: ${exp}tasks/<task>.<attempt>.stdout and .stderr; invocations: ${exp}tasks/<task>.json"
echo "Derivatives:  $out/derivatives   (its dataset_description.json says what generated it)"
echo "RO-Crate:     $crate   (Workflow Run RO-Crate, Provenance Run Crate 0.5)"
echo "Exports:      $out/record.json (schema/experiment.schema.json), $out/record.prov.json (W3C PROV)"
echo "Archive:      $archive"
echo "Live report:  $clowdr share $out/provdir   (then open the address it prints)"
echo
echo "Report:       $report   (open it in any browser, offline)"
