#!/usr/bin/env bash
# clowdr's version from the repository: the release tag when HEAD is one (v1.2.3 gives 1.2.3); else the base
# version with the commit, `-dirty` when tracked files were modified (0.1.0-dev+g1a2b3c4d5e6f-dirty); else the base
# version and "unknown" (no git, no repository). With --write, writes Sources/CClowdrVersion/build_version.h when
# the version changed (an unchanged file keeps the build from recompiling anything).
set -euo pipefail
cd "$(dirname "$0")/.."
base="0.1.0-dev"
if described=$(git describe --tags --always --dirty --abbrev=12 2>/dev/null); then
  if [[ $described =~ ^v?([0-9]+\.[0-9]+\.[0-9]+)(-dirty)?$ ]]; then
    version="${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
  elif [[ $described =~ ^v?([0-9]+\.[0-9]+\.[0-9]+)-([0-9]+)-g([0-9a-f]+)(-dirty)?$ ]]; then
    version="${BASH_REMATCH[1]}+${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}${BASH_REMATCH[4]}"
  else
    version="$base+g$described"
  fi
else
  version="$base+unknown"
fi
if [ "${1:-}" != "--write" ]; then
  echo "$version"
  exit 0
fi
header=Sources/CClowdrVersion/build_version.h
line="#define CLOWDR_BUILD_VERSION \"$version\""
if [ ! -f "$header" ] || [ "$(cat "$header")" != "$line" ]; then
  echo "$line" > "$header.tmp"
  mv "$header.tmp" "$header"
fi
