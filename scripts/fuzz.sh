#!/usr/bin/env bash
# Builds the libFuzzer target for the Boutiques parsers (swiftc -sanitize=fuzzer,address) and runs it.
#   scripts/fuzz.sh [SECONDS]   (default 600)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
out=.build-fuzz
mkdir -p "$out/corpus"
flags=(-sanitize=fuzzer,address -parse-as-library -O -g
       -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility
       -enable-upcoming-feature InternalImportsByDefault -swift-version 6)
swiftc "${flags[@]}" -emit-library -static -emit-module -module-name JSON -emit-module-path "$out/JSON.swiftmodule" \
  Sources/JSON/*.swift -o "$out/libJSON.a"
swiftc "${flags[@]}" -emit-library -static -emit-module -module-name Boutiques -emit-module-path "$out/Boutiques.swiftmodule" \
  -I "$out" Sources/Boutiques/*.swift -o "$out/libBoutiques.a"
swiftc "${flags[@]}" -I "$out" Benchmarks/fuzz/FuzzBoutiques.swift "$out/libBoutiques.a" "$out/libJSON.a" -o "$out/fuzz-boutiques"
# Seeds: the project's own example descriptors and invocations, and the shared fixtures when present.
for f in examples/*/*.json ../shared/fixtures/boutiques/examples/*/*.json ../shared/fixtures/boutiques/tests/*/*.json; do
  [ -f "$f" ] && cp "$f" "$out/corpus/$(echo "$f" | tr '/' '_')" || true
done
# Swift's regex parser leaks a few boxes once per compiled pattern (the descriptor schema's patterns, compiled once
# at start): a standard-library leak, not ours, so it is suppressed; any other leak still fails the run.
printf 'leak:_RegexParser\nleak:_StringProcessing\n' > "$out/lsan.supp"
LSAN_OPTIONS="suppressions=$out/lsan.supp:print_suppressions=0" \
  "$out/fuzz-boutiques" "$out/corpus" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$out/"
