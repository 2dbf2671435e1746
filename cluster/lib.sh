# shellcheck shell=bash disable=SC2034
# Shared settings for cluster/{build,up,down}.sh. Sourced, not executed.
# Everything the cluster creates lives under $STATE and $RUN_DIR, so `down` can
# remove it; binaries and Go caches live under $CACHE, outside the clone, so a
# clean clone (CI) reuses them.

set -euo pipefail

CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

K8S_VERSION=v1.34.4
K8S_STAGING_VERSION=v0.34.4
ETCD_VERSION=v3.5.35
KUBE_ROUTER_VERSION=v2.1.0
PAUSE_VERSION=3.10.1

CACHE=${CORDON_K8S_CACHE:-/var/cache/cordon/k8s}
STATE=${CORDON_K8S_STATE:-/var/lib/cordon-k8s}
RUN_DIR=${CORDON_K8S_RUN:-/run/cordon-k8s}
BIN=$CACHE/bin
IMAGES=$CACHE/images

NODE_NAME=cordon-k8s-node
# Label put on every API object the cluster tooling creates (see session.ts LABELS).
MANAGED_LABEL=cordon.dev/managed-by=cordon-k8s-cluster

# Address ranges chosen away from Docker's 172.17.0.0/16 and the host network.
POD_CIDR=10.244.0.0/16
NODE_POD_CIDR=10.244.0.0/24
POD_GATEWAY=10.244.0.1
SERVICE_CIDR=10.96.0.0/12
KUBERNETES_SERVICE_IP=10.96.0.1
BRIDGE=cordon0

ETCD_CLIENT_PORT=32379
ETCD_PEER_PORT=32380
APISERVER_PORT=6443
KUBELET_PORT=10250
KUBELET_HEALTHZ_PORT=10248
KUBE_ROUTER_HEALTH_PORT=20244

CONTAINERD_SOCK=$RUN_DIR/containerd/containerd.sock
SANDBOX_IMAGE=registry.k8s.io/pause:$PAUSE_VERSION
CANARY_IMAGE=cordon.local/k8s-canary:busybox

# Our own iptables chain (pod-to-pod forwarding past Docker's FORWARD DROP).
FORWARD_CHAIN=CORDON-K8S-FORWARD

KUBECONFIG_ADMIN=$STATE/kubeconfig/admin.kubeconfig

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The node's primary IPv4 address (source address of the default route).
node_ip() {
  ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") { print $(i + 1); exit }}'
}

ctr_k8s() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }
kubectl_admin() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# pid_alive NAME: true if the process recorded for NAME runs and is our binary.
pid_alive() {
  local pidfile=$STATE/pids/$1.pid pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  proc_running "$pid" || return 1
  # Guard against PID reuse: the recorded command must still be the one we started.
  [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == *"$(<"$STATE/pids/$1.cmd")"* ]]
}

# proc_running PID: the process exists and is not a zombie.
proc_running() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# stop_proc NAME: SIGTERM, then SIGKILL after a grace period.
stop_proc() {
  local name=$1 pid i
  pid_alive "$name" || { rm -f "$STATE/pids/$name.pid"; return 0; }
  pid=$(<"$STATE/pids/$name.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    proc_running "$pid" || break
    sleep 0.2
  done
  if proc_running "$pid"; then
    log "$name: did not stop on SIGTERM, killing"
    kill -KILL "$pid" 2>/dev/null || true
    while proc_running "$pid"; do sleep 0.1; done
  fi
  rm -f "$STATE/pids/$name.pid"
  log "$name: stopped"
}
