#!/usr/bin/env bash
# Builds the cluster's binaries and images into $CACHE (default
# /var/cache/cordon/k8s), once: a stamp per component records what it was built
# from, and a rerun with unchanged inputs does nothing. Go's module and build
# caches live there too, so a clean clone rebuilds from cache in seconds.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLUSTER_DIR/oci-image.sh"

export GOMODCACHE=$CACHE/gomod GOCACHE=$CACHE/gocache
export GOFLAGS="-trimpath -buildvcs=false" CGO_ENABLED=0
mkdir -p "$BIN" "$IMAGES" "$CACHE/logs" "$GOMODCACHE" "$GOCACHE"

command -v go >/dev/null || die "go is not on PATH (Go >= 1.24 is needed to build Kubernetes $K8S_VERSION; older ones fetch a newer toolchain from the Go proxy)"
for c in jq gcc strip apt-get dpkg-deb; do
  command -v "$c" >/dev/null || die "'$c' is missing (Debian: apt-get install -y jq gcc libc6-dev binutils)"
done

# build_module NAME MODULE_DIR LDFLAGS BINARY=PACKAGE...
build_module() {
  local name=$1 dir=$CLUSTER_DIR/build/$2 ldflags=$3
  shift 3
  local stamp_file=$BIN/.$name.stamp stamp binaries=() packages=() pair
  for pair in "$@"; do
    binaries+=("${pair%%=*}")
    packages+=("${pair#*=}")
  done
  # GO_MODFILE: an alternate go.mod (go build -modfile), e.g. with a patched replace.
  local modfile_flag=()
  if [[ -n ${GO_MODFILE:-} ]]; then modfile_flag=(-modfile "$GO_MODFILE"); fi
  stamp=$(cat "$dir/go.mod" "$dir/go.sum" <(go version) <(echo "$ldflags $*") ${GO_MODFILE:+"$GO_MODFILE"} | sha256sum | cut -d' ' -f1)
  local missing=0 b
  for b in "${binaries[@]}"; do [[ -x $BIN/$b ]] || missing=1; done
  if ((missing == 0)) && [[ -f $stamp_file && $(<"$stamp_file") == "$stamp" ]]; then
    log "$name: up to date (${binaries[*]})"
    return
  fi
  log "$name: building ${binaries[*]} (log: $CACHE/logs/build-$name.log; the first build takes long)"
  local start=$SECONDS out
  out=$(mktemp -d "$BIN/.build-$name.XXXXXX")
  # nice: other work shares these cores.
  if ! (cd "$dir" && nice -n 10 go build "${modfile_flag[@]}" -ldflags "$ldflags" -o "$out/" "${packages[@]}") >"$CACHE/logs/build-$name.log" 2>&1; then
    tail -30 "$CACHE/logs/build-$name.log" >&2
    rm -rf "$out"
    die "$name: go build failed (full log: $CACHE/logs/build-$name.log)"
  fi
  local i
  for i in "${!binaries[@]}"; do
    # go build names a binary after its package's last path element. An identical
    # binary is left in place, so running components are not restarted for nothing.
    if cmp -s "$out/${packages[i]##*/}" "$BIN/${binaries[i]}"; then continue; fi
    mv -f "$out/${packages[i]##*/}" "$BIN/${binaries[i]}"
  done
  rm -rf "$out"
  echo "$stamp" >"$stamp_file"
  log "$name: built in $((SECONDS - start))s"
}

build_module kubernetes kubernetes \
  "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/component-base/version.gitTreeState=clean" \
  kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
  kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
  kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler \
  kubelet=k8s.io/kubernetes/cmd/kubelet \
  kube-proxy=k8s.io/kubernetes/cmd/kube-proxy \
  kubectl=k8s.io/kubernetes/cmd/kubectl

build_module etcd etcd "-s -w" etcd=cordon.local/cluster/etcd

build_module kube-router kube-router \
  "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" \
  kube-router=github.com/cloudnativelabs/kube-router/v2/cmd/kube-router

# gVisor for the runsc RuntimeClass: Debian's runsc has no containerd shim, and a
# shim and runsc from the same source are known to agree on flags.
# One upstream line is changed at build time, in a copy of the module under
# $CACHE/src (nothing vendored into the repo): the shim sets its own
# oom_score_adj to -999, which needs CAP_SYS_RESOURCE; where that capability is
# missing (these VMs) it now keeps its score instead of failing every sandbox,
# as containerd's own shims do. Prints the alternate go.mod to build with.
gvisor_patched_modfile() {
  local wrapper=$CLUSTER_DIR/build/gvisor version upstream src
  version=$(cd "$wrapper" && go list -m -f '{{.Version}}' gvisor.dev/gvisor)
  upstream=$(cd "$wrapper" && go mod download -json "gvisor.dev/gvisor@$version" | jq -r .Dir)
  src=$CACHE/src/gvisor@$version-cordon
  if [[ ! -f $src/.patched ]]; then
    rm -rf "$src"
    mkdir -p "$CACHE/src"
    cp -r "$upstream" "$src"
    chmod -R u+w "$src"
    sed -i 's/if err := sys.SetOOMScore(cmd.Process.Pid, oomScoreMax); err != nil {/if err := sys.SetOOMScore(cmd.Process.Pid, oomScoreMax); err != nil \&\& !os.IsPermission(err) {/' \
      "$src/pkg/shim/v1/manager.go"
    grep -q '!os.IsPermission(err)' "$src/pkg/shim/v1/manager.go" || die "gVisor shim patch no longer applies to $upstream"
    touch "$src/.patched"
  fi
  { cat "$wrapper/go.mod"; echo "replace gvisor.dev/gvisor => $src"; } >"$CACHE/src/gvisor.mod"
  cp "$wrapper/go.sum" "$CACHE/src/gvisor.sum"
  echo "$CACHE/src/gvisor.mod"
}
if [[ ${CORDON_K8S_GVISOR:-1} != 0 ]]; then
  GO_MODFILE=$(gvisor_patched_modfile) build_module gvisor gvisor "-s -w" \
    runsc=gvisor.dev/gvisor/runsc \
    containerd-shim-runsc-v1.real=gvisor.dev/gvisor/shim
  install -m 0755 "$CLUSTER_DIR/runsc-shim-bridge.sh" "$BIN/containerd-shim-runsc-v1"
fi

# The sandbox ("pause") image, from the pause.c shipped in the Kubernetes module.
build_pause_image() {
  local out=$IMAGES/pause-$PAUSE_VERSION.oci.tar
  [[ -s $out ]] && { log "pause image: up to date"; return; }
  local k8s_dir rootfs
  k8s_dir=$(cd "$CLUSTER_DIR/build/kubernetes" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .Dir)
  rootfs=$(mktemp -d)
  gcc -Os -static -Wall -Werror -DVERSION="v$PAUSE_VERSION-cordon" -o "$rootfs/pause" "$k8s_dir/build/pause/linux/pause.c"
  strip "$rootfs/pause"
  make_oci_archive "$rootfs" "$SANDBOX_IMAGE" '["/pause"]' "$out"
  rm -rf "$rootfs"
  log "pause image: built $out"
}

# A tiny canary/probe image: Debian's static busybox (nc, sh) and nothing else.
build_canary_image() {
  local out=$IMAGES/canary-busybox.oci.tar
  [[ -s $out ]] && { log "canary image: up to date"; return; }
  local debs=$CACHE/debs rootfs extract applet
  mkdir -p "$debs"
  if ! compgen -G "$debs/busybox-static_*.deb" >/dev/null; then
    (cd "$debs" && apt-get download busybox-static) || die "could not download Debian's busybox-static"
  fi
  extract=$(mktemp -d)
  dpkg-deb -x "$(compgen -G "$debs/busybox-static_*.deb" | head -1)" "$extract"
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/bin" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  cp "$extract/bin/busybox" "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [[ $applet == busybox ]] || ln -s busybox "$rootfs/bin/$applet"
  done
  make_oci_archive "$rootfs" "$CANARY_IMAGE" '["/bin/sh"]' "$out"
  rm -rf "$rootfs" "$extract"
  log "canary image: built $out"
}

build_pause_image
build_canary_image
