#!/usr/bin/env bash
# The libraries' documentation with DocC (the toolchain's own `docc`), one archive per library product:
#   scripts/docs.sh SYMBOLGRAPH-DIR OUT
# SYMBOLGRAPH-DIR holds what `swift package dump-symbol-graph` wrote; OUT/MODULE.doccarchive is each archive and
# OUT/clowdr.doccarchive all of them merged, a static site (serve the folder, open /documentation/). A broken symbol
# link is an error.
set -euo pipefail
graphs=$1
out=$2
modules=(Backends Runner EventLog Query Export)
docc=$(command -v docc || true)
[ -n "$docc" ] || docc="$(dirname "$(readlink -f "$(command -v swift)")")/docc"
[ -x "$docc" ] || { echo "docs: docc not found beside swift ($docc): install a Swift toolchain that has it (6.0 or newer)" >&2; exit 3; }
work=$(mktemp -d "${TMPDIR:-/tmp}/clowdr-docs.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out"
for m in "${modules[@]}"; do
  [ -f "$graphs/$m.symbols.json" ] || { echo "docs: no symbol graph for $m in $graphs" >&2; exit 3; }
  # A module's own graph and its extensions of other modules' types (MODULE@OTHER.symbols.json), nothing else.
  mkdir -p "$work/$m"
  cp "$graphs/$m.symbols.json" "$work/$m/"
  cp "$graphs/$m"@*.symbols.json "$work/$m/" 2>/dev/null || true
  "$docc" convert "Sources/$m/$m.docc" --additional-symbol-graph-dir "$work/$m" --output-path "$out/$m.doccarchive" \
    --fallback-display-name "$m" --fallback-bundle-identifier "org.clowdr.$m" --warnings-as-errors >"$work/$m.log" 2>&1 \
    || { cat "$work/$m.log" >&2; echo "docs: DocC failed on $m (above)" >&2; exit 3; }
  echo "docs: $m: $(find "$out/$m.doccarchive/data/documentation" -name '*.json' | wc -l) pages"
done
archives=()
for m in "${modules[@]}"; do archives+=("$out/$m.doccarchive"); done
"$docc" merge "${archives[@]}" --output-path "$out/clowdr.doccarchive" --synthesized-landing-page-name clowdr >"$work/merge.log" 2>&1 \
  || { cat "$work/merge.log" >&2; echo "docs: docc merge failed (above)" >&2; exit 3; }
# docc merge keeps every module's data but not every module's page folders: each archive brings its own.
for m in "${modules[@]}"; do
  lower=$(echo "$m" | tr '[:upper:]' '[:lower:]')
  [ -d "$out/clowdr.doccarchive/documentation/$lower" ] || cp -r "$out/$m.doccarchive/documentation/$lower" "$out/clowdr.doccarchive/documentation/"
done
echo "docs: $out/MODULE.doccarchive, and all of them in $out/clowdr.doccarchive:"
echo "      python3 -m http.server -d $out/clowdr.doccarchive 8000, then http://127.0.0.1:8000/documentation/backends"
