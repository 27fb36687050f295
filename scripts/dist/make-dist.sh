#!/usr/bin/env bash
# Writes a tarball of clowdr that runs on any x86-64 Linux, whatever its C library (glibc of any version, musl, or
# none, as in a busybox image): the binary travels with the dynamic loader and every shared library it was linked
# with (the C library included), and bin/clowdr starts it through that loader. clowdr-shim is static already.
# clowdr-share (the server `clowdr share` starts) goes the same way, with bin/clowdr-share, when it was built.
#
#   scripts/dist/make-dist.sh BUILD_DIR OUT_DIR     e.g. .build/release out/dist
#
# Prints the tarball's path. The tree beside it (OUT_DIR/clowdr-VERSION-linux-x86_64/) is what the tarball holds.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$1"
out="$2"
for f in clowdr clowdr-shim; do
  [ -x "$build/$f" ] || { echo "make-dist: $build/$f is missing: build it first (make dist)" >&2; exit 2; }
done
version=$("$build/clowdr" --version)
name="clowdr-$version-linux-$(uname -m)"
mkdir -p "$out"
stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/bin" "$root/lib/clowdr"
cp "$build/clowdr" "$build/clowdr-shim" "$root/lib/clowdr/"
binaries="$build/clowdr"
if [ -x "$build/clowdr-share" ]; then cp "$build/clowdr-share" "$root/lib/clowdr/"; binaries="$binaries $build/clowdr-share"; fi
# Every library the binary loads, found as this machine's loader finds them; the loader itself under its own name.
# libcurl and libcrypto too, with their own libraries: clowdr loads them on first use (the AWS client's requests,
# SHA-256), they are not linked.
lazy=""
for want in libcurl.so.4 libcrypto.so.3; do
  # awk reads to the end: leaving early could kill ldconfig with SIGPIPE, which pipefail makes this script's exit.
  found=$(ldconfig -p | awk -v want="$want" '$1 == want && /x86-64/ && found == "" { found = $NF } END { print found }')
  [ -n "$found" ] || { echo "make-dist: no $want on this machine (apt install libcurl4-openssl-dev libssl-dev)" >&2; exit 1; }
  lazy="$lazy $want=$found"
done
loader=""
while read -r lib path _; do
  case "$lib" in
    linux-vdso.so.*) ;;
    /*) loader="$lib"; cp -L "$lib" "$root/lib/clowdr/$(basename "$lib")" ;;
    *) [ -n "$path" ] && cp -L "$path" "$root/lib/clowdr/$lib" ;;
  esac
done < <({ for b in $binaries; do ldd "$b"; done; for l in $lazy; do echo "${l%%=*} => ${l#*=}"; ldd "${l#*=}"; done; } | sed -e 's/ => / /' -e 's/ (0x[0-9a-f]*)//' -e 's/^\t//')
[ -n "$loader" ] || { echo "make-dist: ldd named no dynamic loader for $build/clowdr" >&2; exit 1; }
for b in $binaries; do
  b=$(basename "$b")
  sed -e "s|@LOADER@|$(basename "$loader")|" -e "s|@BINARY@|$b|" "$here/clowdr.sh.in" > "$root/bin/$b"
  chmod 755 "$root/bin/$b"
done
# Shell completions, as argument-parser writes them from clowdr's own commands (share/ as the shells look for it).
mkdir -p "$root/share/bash-completion/completions" "$root/share/zsh/site-functions" "$root/share/fish/vendor_completions.d"
"$build/clowdr" --generate-completion-script bash > "$root/share/bash-completion/completions/clowdr"
"$build/clowdr" --generate-completion-script zsh > "$root/share/zsh/site-functions/_clowdr"
"$build/clowdr" --generate-completion-script fish > "$root/share/fish/vendor_completions.d/clowdr.fish"
# The manual page, when `make dist` made it (argument-parser's generate-manual plugin: scripts/dist/manual.sh).
if [ -n "${CLOWDR_MANUAL:-}" ] && [ -f "$CLOWDR_MANUAL" ]; then
  mkdir -p "$root/share/man/man1"
  cp "$CLOWDR_MANUAL" "$root/share/man/man1/clowdr.1"
fi
cp "$here/INSTALL.txt" "$root/INSTALL.txt"
tarball="$out/$name.tar.gz"
tar -C "$stage" -czf "$tarball.tmp" "$name"
rm -rf "${out:?}/$name"
mv "$root" "$out/$name"
mv "$tarball.tmp" "$tarball"
echo "$tarball"
