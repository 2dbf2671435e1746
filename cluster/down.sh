#!/usr/bin/env bash
# Stops everything up.sh started and removes the cluster's state: pods,
# containerd and its shims, control plane, network namespaces, the bridge,
# iptables chains and ipsets, cgroups. Build caches ($CACHE) stay. Never touches
# the Docker engine or its containerd. Safe to run when nothing is up.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) == 0 ]] || die "must run as root"
started_at=$SECONDS
PATH=$BIN:$PATH

running_tasks() { [[ -n $(ctr_k8s tasks ls 2>/dev/null | awk 'NR > 1 && $3 == "RUNNING"') ]]; }

# Let kubelet tear pods down properly (CNI DEL releases IPs and veths). The
# scheduler and controllers are stopped first, so nothing new gets placed.
delete_pods() {
  [[ -f $KUBECONFIG_ADMIN ]] && pid_alive kube-apiserver && pid_alive kubelet || return 0
  log "deleting all pods"
  # Not --force: kubelet kills them (1 s grace) and only then are they gone from the API.
  kubectl_admin delete pods --all --all-namespaces --grace-period=1 --wait=false >/dev/null 2>&1 || true
  local start=$SECONDS
  while running_tasks && ((SECONDS - start < 60)); do sleep 1; done
  # Sandboxes are removed shortly after their containers stop.
  while [[ -n $(ctr_k8s containers ls -q 2>/dev/null) ]] && ((SECONDS - start < 60)); do sleep 1; done
}

# Whatever kubelet did not remove: kill tasks and delete containers directly.
force_remove_containers() {
  [[ -S $CONTAINERD_SOCK ]] && pid_alive containerd || return 0
  local id
  for id in $(ctr_k8s containers ls -q 2>/dev/null); do
    ctr_k8s tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
  done
  sleep 1
  for id in $(ctr_k8s containers ls -q 2>/dev/null); do
    ctr_k8s tasks delete -f "$id" >/dev/null 2>&1 || true
    ctr_k8s containers delete "$id" >/dev/null 2>&1 && log "container $id: force-removed"
  done
}

# Shims outlive containerd by design; ours are the ones serving our socket. gVisor
# sandboxes left behind are the ones whose runsc state is under our run dir.
kill_our_shims() {
  local p cmd id root addr sockets=()
  # Shim sockets live in a fixed directory (/run/containerd/s) whatever the state
  # dir; ours are named in the task bundles under our state dir.
  for addr in "$RUN_DIR"/containerd/state/io.containerd.runtime.v2.task/*/*/address; do
    [[ -f $addr ]] && sockets+=("$(sed 's|^unix://||' "$addr")")
  done
  # The shim keeps runsc state per containerd namespace: $RUN_DIR/runsc/<namespace>.
  for root in "$RUN_DIR"/runsc/*/; do
    [[ -x $BIN/runsc && -d $root ]] || continue
    for id in $("$BIN/runsc" --root "$root" list -quiet 2>/dev/null); do
      "$BIN/runsc" --root "$root" delete -force "$id" >/dev/null 2>&1 && log "gVisor sandbox $id: force-deleted"
    done
  done
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    if [[ ($cmd == *containerd-shim* && $cmd == *"-address $CONTAINERD_SOCK "*) || $cmd == *"--root=$RUN_DIR/runsc/"* ]]; then
      log "process ${p#/proc/} (${cmd%% *}): killing"
      kill -KILL "${p#/proc/}" 2>/dev/null || true
    fi
  done
  local sock
  for sock in "${sockets[@]}"; do
    [[ -S $sock ]] && rm -f "$sock" && log "stale shim socket $sock: removed"
  done
  return 0
}

unmount_under() {
  local dir=$1 target
  [[ -d $dir ]] || return 0
  # Deepest first.
  findmnt -rn -o TARGET | { grep -E "^$dir(/|$)" || true; } | sort -r | while read -r target; do
    umount -l "$target" 2>/dev/null || true
  done
}

# delete_chains IPTABLES TABLE REGEX: drop every rule jumping to, then every chain
# named like, REGEX.
delete_chains() {
  local ipt=$1 table=$2 regex=$3 rule chain
  "$ipt" -t "$table" -S >/dev/null 2>&1 || return 0
  "$ipt" -t "$table" -S | { grep -E -- "^-A .* -j ($regex)" || true; } | while read -r rule; do
    eval "$ipt -t $table -D ${rule#-A }" 2>/dev/null || true
  done
  for chain in $("$ipt" -t "$table" -S | awk -v re="^($regex)" '$1 == "-N" && $2 ~ re { print $2 }'); do
    "$ipt" -t "$table" -F "$chain" 2>/dev/null || true
  done
  for chain in $("$ipt" -t "$table" -S | awk -v re="^($regex)" '$1 == "-N" && $2 ~ re { print $2 }'); do
    "$ipt" -t "$table" -X "$chain" 2>/dev/null || true
  done
}

cleanup_network() {
  # kube-proxy removes its own rules; the rest are Kubernetes' (KUBE-*: kubelet,
  # kube-proxy, kube-router) and ours. Docker's chains are named DOCKER*.
  if [[ -x $BIN/kube-proxy ]]; then "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  local ipt table
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for table in filter nat mangle raw; do
      delete_chains "$ipt" "$table" "KUBE-|$FORWARD_CHAIN"
    done
  done
  local set
  for set in $(ipset list -n 2>/dev/null | grep -E '^(inet6:)?(KUBE-|kube-router)' || true); do
    ipset destroy "$set" 2>/dev/null || true
  done
  if ip link del "$BRIDGE" 2>/dev/null; then log "bridge $BRIDGE: deleted"; fi
}

# Pod cgroups (cgroupfs driver, cgroup v1): remove the kubepods trees, leaves first.
cleanup_cgroups() {
  local root dir
  for root in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice; do
    [[ -d $root ]] || continue
    find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    [[ -d $root ]] && log "WARNING: $root could not be removed (processes still in it?)"
  done
  return 0
}

for c in kube-scheduler kube-controller-manager; do stop_proc "$c"; done
delete_pods
for c in kube-router kube-proxy kubelet; do stop_proc "$c"; done
force_remove_containers
for c in kube-apiserver etcd containerd; do stop_proc "$c"; done
kill_our_shims
unmount_under "$STATE"
unmount_under "$RUN_DIR"
cleanup_network
cleanup_cgroups
rm -rf "$STATE" "$RUN_DIR"
# Host paths kubelet uses whatever its root dir: pod log links, the device-plugin
# socket, the volume-plugin and CNI-result directories. Removed when ours and empty.
find /var/log/containers -maxdepth 1 -type l -lname "$STATE/*" -delete 2>/dev/null || true
[[ -S /var/lib/kubelet/device-plugins/kubelet.sock ]] && rm -f /var/lib/kubelet/device-plugins/kubelet.sock
for d in /var/log/containers /var/lib/kubelet/device-plugins /var/lib/kubelet \
  /usr/libexec/kubernetes/kubelet-plugins/volume/exec /usr/libexec/kubernetes/kubelet-plugins/volume \
  /usr/libexec/kubernetes/kubelet-plugins /usr/libexec/kubernetes /var/lib/cni/results /var/lib/cni \
  /run/containerd/s /run/containerd; do
  rmdir "$d" 2>/dev/null || true
done
log "cluster down in $((SECONDS - started_at))s (build cache kept in $CACHE)"
