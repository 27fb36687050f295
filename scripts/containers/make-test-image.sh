#!/usr/bin/env bash
# Installs podman (with runc) when missing and builds localhost/clowdr-busybox:test, a 2 MB image made from
# Debian's busybox-static, with no registry. Prints nothing on success but the image name.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CONTAINERS_CONF="$here/containers.conf"
need=""
for p in podman runc busybox-static; do dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"; done
if [ -n "$need" ]; then
  echo "installing$need (podman and a busybox image: the container tests run a real containerised task)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
image=localhost/clowdr-busybox:test
if ! podman image exists "$image" 2>/dev/null; then
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev"
  cp /bin/busybox "$root/bin/busybox"
  for c in sh true false echo cat ls env id sleep head tail dd wc mkdir rm cp mv sha256sum; do ln -sf busybox "$root/bin/$c"; done
  tar -C "$root" -cf - . | podman import - "$image" >/dev/null 2>&1
  rm -rf "$root"
fi
podman run --rm "$image" true
echo "$image"
