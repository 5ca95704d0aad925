#!/usr/bin/env bash
# Build the local Node base image that the example workload and the tests use.
# No registry is reachable here, so the image is a `docker import` of this machine's
# own Node runtime plus the shared libraries it links (ldd), a shell-free root fs.
# Idempotent: does nothing when the image already exists for this Node version.
set -euo pipefail

NODE_BIN="$(readlink -f "$(command -v node)")"
NODE_VERSION="$("$NODE_BIN" --version)"
IMAGE="${SHADOWGATE_BASE_IMAGE:-shadowgate/node-base:local}"

say() { echo "build-base-image: $*" >&2; }

existing="$(docker image inspect --format '{{ index .Config.Labels "shadowgate.node-version" }}' "$IMAGE" 2>/dev/null || true)"
if [ "$existing" = "$NODE_VERSION" ]; then
  say "$IMAGE already built for node $NODE_VERSION"
  exit 0
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/tmp" "$root/app" "$root/etc"
chmod 1777 "$root/tmp"
cp "$NODE_BIN" "$root/usr/bin/node"
# The dynamic loader and every library node links, at the same paths.
for lib in $(ldd "$NODE_BIN" | grep -oE '/[^ ]+'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# Name resolution for localhost, a user database, and the CA bundle for TLS clients.
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnode:x:1000:1000:node:/app:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$root/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
fi

say "importing $IMAGE (node $NODE_VERSION)"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/bin:/bin' \
  --change 'WORKDIR /app' \
  --change 'CMD ["node"]' \
  --change "LABEL shadowgate.node-version=$NODE_VERSION" \
  - "$IMAGE" >/dev/null
say "built $IMAGE ($(docker image inspect --format '{{.Size}}' "$IMAGE") bytes)"
