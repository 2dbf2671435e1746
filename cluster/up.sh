#!/usr/bin/env bash
# Starts the single-node test cluster (building it first if needed). Idempotent:
# components already running as configured are left alone; changed ones restart. Progress goes to stderr; the last
# line on stdout is the admin kubeconfig path.
#
# Environment:
#   CORDON_K8S_IMAGES  space-separated Docker image refs to import into the
#                      cluster's containerd (default: every cordon-runtime:* image
#                      the local Docker engine has, if it has any)
#   CORDON_K8S_CACHE / CORDON_K8S_STATE / CORDON_K8S_RUN  override the directories
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLUSTER_DIR/pki.sh"

started_at=$SECONDS

preflight() {
  [[ $(id -u) == 0 ]] || die "must run as root (it starts kubelet and containerd and edits iptables)"
  local c
  for c in containerd ctr runc iptables ipset conntrack openssl jq curl ip setsid; do
    command -v "$c" >/dev/null || die "'$c' is missing (Debian: apt-get install -y containerd runc iptables ipset conntrack openssl jq curl iproute2)"
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
    die "CNI plugins missing in /usr/lib/cni (apt-get install -y containernetworking-plugins)"
  [[ -d /sys/fs/cgroup/pids ]] || die "cgroup v1 pids controller not found; this recipe targets cgroup v1 with cgroupDriver cgroupfs"
  # A Kubernetes control plane run by something else would fight over ports and iptables.
  if [[ -n $(ss -ltnH "sport = :$APISERVER_PORT") ]] && ! pid_alive kube-apiserver; then
    die "port $APISERVER_PORT is taken by a process this tool did not start"
  fi
}

# start_proc NAME BINARY ARGS...: run BINARY detached, logging to $STATE/logs/NAME.log.
# A running instance started with the same command line is kept; one started
# with a different one (flags changed since), or whose binary was rebuilt, is restarted.
start_proc() {
  local name=$1 binary=$2
  shift 2
  if pid_alive "$name"; then
    local pid
    pid=$(<"$STATE/pids/$name.pid")
    if [[ $(readlink "/proc/$pid/exe") == *" (deleted)" ]]; then
      log "$name: binary was rebuilt, restarting"
    elif cmp -s "/proc/$pid/cmdline" <(printf '%s\0' "$binary" "$@"); then
      log "$name: already running (pid $pid)"
      return
    else
      log "$name: command line changed, restarting"
    fi
    stop_proc "$name"
  fi
  log "$name: starting"
  echo "$binary" >"$STATE/pids/$name.cmd"
  # setsid: the component must outlive this script and the shell that ran it.
  setsid "$binary" "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null &
  local pid=$! tries
  echo "$pid" >"$STATE/pids/$name.pid"
  # Until the forked shell has exec'd the binary, its command line is this script's,
  # and pid_alive would call a starting component dead (seen on a loaded machine).
  for ((tries = 0; tries < 100; tries++)); do
    [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == *"$binary"* ]] && break
    proc_running "$pid" || break
    sleep 0.05
  done
}

# expect_running NAME: fail with the component's log tail if it died at start.
expect_running() {
  pid_alive "$1" && return
  tail -20 "$STATE/logs/$1.log" >&2 || true
  die "$1 exited; see $STATE/logs/$1.log"
}

# wait_ready NAME TIMEOUT_SECONDS COMMAND...: poll COMMAND until it succeeds;
# fail at once, with the log's tail, if the component NAME exits meanwhile.
wait_ready() {
  local name=$1 timeout=$2 start=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    expect_running "$name"
    ((SECONDS - start < timeout)) || die "$name not ready after ${timeout}s; see $STATE/logs/$name.log"
    sleep 1
  done
  log "$name ready after $((SECONDS - start))s"
}

# write_file PATH < CONTENT: replaces PATH only if CONTENT differs; a rerun must
# not touch configs running components watch (kube-proxy exits when its changes).
write_file() {
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}

write_containerd_config() {
  local runsc_runtime="" restrict_oom=false
  # Bit 24 of the effective capability set is CAP_SYS_RESOURCE.
  (( (0x$(awk '/^CapEff/ { print $2 }' /proc/self/status) >> 24) & 1 )) || restrict_oom=true
  if command -v containerd-shim-runsc-v1 >/dev/null && command -v runsc >/dev/null; then
    runsc_runtime="
[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runsc]
  runtime_type = \"io.containerd.runsc.v1\"

[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runsc.options]
  TypeUrl = \"io.containerd.runsc.v1.options\"
  ConfigPath = \"$STATE/containerd/runsc.toml\""
    # runsc's state under our run dir, so down.sh can find every sandbox it left.
    write_file "$STATE/containerd/runsc.toml" <<EOF
binary_name = "$(command -v runsc)"
root = "$RUN_DIR/runsc"
EOF
  fi
  write_file "$STATE/containerd/config.toml" <<EOF
# Our own containerd: own root, state and socket, so the Docker engine's
# containerd is never touched.
version = 2
root = "$STATE/containerd/root"
state = "$RUN_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$CONTAINERD_SOCK"

[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$SANDBOX_IMAGE"
  stream_server_address = "127.0.0.1"
  netns_mounts_under_state_dir = true
  # Lacking CAP_SYS_RESOURCE (as in this VM), runc cannot lower oom_score_adj
  # below containerd's own (kubelet asks -998 for sandboxes): clamp instead of failing.
  restrict_oom_score_adj = $restrict_oom

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "$STATE/cni/net.d"
  max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "$RUN_DIR/runc"
$runsc_runtime
EOF
}

write_cni_config() {
  write_file "$STATE/cni/net.d/10-cordon-k8s.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "cordon-k8s",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{ "subnet": "$NODE_POD_CIDR", "gateway": "$POD_GATEWAY" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    }
  ]
}
EOF
}

# Docker's FORWARD policy is DROP: let pod-to-pod (and service-to-pod) traffic
# on our bridge through. Appended, so kube-router's policy chains, which it puts
# first, still decide. Nothing else is forwarded: pods cannot reach beyond the node.
setup_forwarding() {
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.bridge.bridge-nf-call-iptables=1
  iptables -N "$FORWARD_CHAIN" 2>/dev/null || true
  iptables -F "$FORWARD_CHAIN"
  iptables -A "$FORWARD_CHAIN" -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT -m comment --comment "cordon-k8s pod network"
  iptables -C FORWARD -j "$FORWARD_CHAIN" 2>/dev/null || iptables -A FORWARD -j "$FORWARD_CHAIN"
}

write_kubelet_config() {
  write_file "$STATE/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
failSwapOn: false
podPidsLimit: 1024
maxPods: 110
# containerd 1.6 does not pin the sandbox image: never garbage-collect images.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: "$STATE/pki/ca.crt" }
authorization:
  mode: Webhook
tlsCertFile: "$STATE/pki/kubelet.crt"
tlsPrivateKeyFile: "$STATE/pki/kubelet.key"
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
hairpinMode: hairpin-veth
resolvConf: /etc/resolv.conf
podLogsDir: "$STATE/pod-logs"
volumePluginDir: "$STATE/kubelet/volume-plugins"
rotateCertificates: false
serverTLSBootstrap: false
shutdownGracePeriod: 0s
EOF
}

write_kube_proxy_config() {
  write_file "$STATE/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
clientConnection:
  kubeconfig: "$STATE/kubeconfig/kube-proxy.kubeconfig"
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
nodePortAddresses: ["primary"]
iptables:
  # Leaves net.ipv4.conf.all.route_localnet alone.
  localhostNodePorts: false
# Zeroes leave the host's conntrack sysctls alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

# has_image NAME: containerd's k8s.io namespace has the image. (No `grep -q` on a
# pipe: with pipefail, its early exit fails the producer with SIGPIPE.)
has_image() { ctr_k8s images ls -q | grep -Fx -- "$1" >/dev/null; }

import_oci_image() {
  local name=$1 archive=$2
  if has_image "$name"; then
    log "image $name: present"
    return
  fi
  ctr_k8s images import --all-platforms "$archive" >/dev/null
  has_image "$name" || die "importing $archive did not produce image $name"
  log "image $name: imported"
}

# docker_name REF: the name `docker save` gives REF in an archive (Docker's normalization).
docker_name() {
  local n=$1
  [[ $n == */* ]] || n=library/$n
  [[ ${n%%/*} == *.* || ${n%%/*} == localhost* ]] || n=docker.io/$n
  echo "$n"
}

# Images from the local Docker engine (the cordon runtime and test images), when present.
# The last archive taken from Docker is kept in the cache, so a cluster:up while
# Docker is down (or restarting) still gets the images it had.
import_docker_images() {
  local refs=${CORDON_K8S_IMAGES-} saved=$IMAGES/docker-last.tar ref
  if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
    if [[ -s $saved && -s $saved.refs ]]; then
      local missing=0
      for ref in $(<"$saved.refs"); do has_image "$(docker_name "$ref")" || missing=1; done
      if ((missing)); then
        log "docker not reachable: importing the images last saved from it ($(tr '\n' ' ' <"$saved.refs"), saved $(date -r "$saved" '+%F %T'))"
        ctr_k8s images import "$saved" >/dev/null
      else
        log "docker not reachable; images last saved from it are present: $(tr '\n' ' ' <"$saved.refs")"
      fi
    else
      log "docker not reachable and no saved images: no cordon-runtime image imported (set CORDON_K8S_IMAGES to name images)"
    fi
    return 0
  fi
  if [[ -z ${CORDON_K8S_IMAGES+set} ]]; then
    # The runtime images, and the test images that are not cordon's (images/test/build-foreign.sh).
    refs=$(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^(cordon-runtime|cordon-test/[^:]+):' | grep -v '<none>' || true)
    [[ -n $refs ]] || { log "no cordon-runtime:* or cordon-test/* image in Docker yet (images/runtime/build-offline.sh builds it); skipping"; return; }
  fi
  # Import only when something changed since the last import.
  local id stamp all=() changed=0
  for ref in $refs; do
    all+=("$ref")
    stamp=$STATE/images/$(echo "$ref" | tr '/:' '__').id
    id=$(docker image inspect --format '{{.Id}}' "$ref") || die "Docker has no image $ref"
    if [[ -f $stamp && $(<"$stamp") == "$id" ]] && has_image "$(docker_name "$ref")"; then
      log "image $ref: present"
    else
      changed=1
    fi
  done
  ((changed)) || return 0
  log "importing from Docker: ${all[*]}"
  # One `docker save` shares the layers; the archive is kept (see above).
  docker save -o "$saved.tmp" "${all[@]}"
  mv -f "$saved.tmp" "$saved"
  printf '%s\n' "${all[@]}" >"$saved.refs"
  ctr_k8s images import "$saved" >/dev/null
  for ref in "${all[@]}"; do
    has_image "$(docker_name "$ref")" || die "importing $ref from Docker did not produce image $(docker_name "$ref")"
    docker image inspect --format '{{.Id}}' "$ref" >"$STATE/images/$(echo "$ref" | tr '/:' '__').id"
    log "image $ref: imported as $(docker_name "$ref")"
  done
}

apiserver_ready() {
  curl -fsS --max-time 3 --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" --key "$STATE/pki/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" | grep -x ok >/dev/null
}

node_ready() {
  [[ $(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

default_service_account() { kubectl_admin get serviceaccount default -n default; }

apply_runtime_class() {
  if grep -q 'runtimes.runsc' "$STATE/containerd/config.toml"; then
    kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: runsc
  labels: { ${MANAGED_LABEL%%=*}: ${MANAGED_LABEL#*=} }
handler: runsc
EOF
    log "RuntimeClass runsc: applied"
  else
    log "RuntimeClass runsc: skipped (containerd-shim-runsc-v1 not found on PATH)"
  fi
}

main() {
  preflight
  "$CLUSTER_DIR/build.sh"
  PATH=$BIN:$PATH

  local ip
  ip=$(node_ip)
  [[ -n $ip ]] || die "could not determine the node's IPv4 address"
  log "node $NODE_NAME at $ip; pods $POD_CIDR, services $SERVICE_CIDR"

  mkdir -p "$STATE"/{pids,logs,containerd,cni/net.d,cni/ipam,etcd,kubelet,pod-logs,images} "$RUN_DIR"
  chmod 700 "$STATE/etcd"
  make_pki "$ip"

  write_cni_config
  local containerd_config_before
  containerd_config_before=$(cat "$STATE/containerd/config.toml" 2>/dev/null || true)
  write_containerd_config
  if pid_alive containerd && [[ $(<"$STATE/containerd/config.toml") != "$containerd_config_before" ]]; then
    # Containers keep running across a containerd restart (their shims stay).
    log "containerd: config changed, restarting"
    stop_proc containerd
  fi
  setup_forwarding

  start_proc containerd /usr/bin/containerd --config "$STATE/containerd/config.toml"
  wait_ready containerd 60 ctr --address "$CONTAINERD_SOCK" version
  import_oci_image "$SANDBOX_IMAGE" "$IMAGES/pause-$PAUSE_VERSION.oci.tar"
  import_oci_image "$CANARY_IMAGE" "$IMAGES/canary-busybox.oci.tar"
  import_docker_images

  start_proc etcd "$BIN/etcd" --name cordon-k8s --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "cordon-k8s=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" \
    --unsafe-no-fsync --log-level warn
  wait_ready etcd 60 curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

  local pki=$STATE/pki
  start_proc kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --secure-port "$APISERVER_PORT" --advertise-address "$ip" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/service-account.pub" --service-account-signing-key-file "$pki/service-account.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --authorization-mode Node,RBAC --allow-privileged=true --profiling=false \
    --enable-admission-plugins NodeRestriction
  wait_ready kube-apiserver 120 apiserver_ready

  start_proc kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$STATE/kubeconfig/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/kubeconfig/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/kubeconfig/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file "$pki/service-account.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --allocate-node-cidrs=true --cluster-cidr "$POD_CIDR" --node-cidr-mask-size 24 \
    --service-cluster-ip-range "$SERVICE_CIDR" --profiling=false \
    --flex-volume-plugin-dir "$STATE/controller-manager/volume-plugins"
  start_proc kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$STATE/kubeconfig/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/kubeconfig/scheduler.kubeconfig" \
    --authorization-kubeconfig "$STATE/kubeconfig/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false

  write_kubelet_config
  start_proc kubelet "$BIN/kubelet" --config "$STATE/kubelet-config.yaml" \
    --kubeconfig "$STATE/kubeconfig/kubelet.kubeconfig" \
    --hostname-override "$NODE_NAME" --node-ip "$ip" --root-dir "$STATE/kubelet"

  write_kube_proxy_config
  start_proc kube-proxy "$BIN/kube-proxy" --config "$STATE/kube-proxy-config.yaml"
  wait_ready kubelet 180 node_ready
  # kube-router identifies its node at start, so it starts once the node is registered.
  start_proc kube-router "$BIN/kube-router" --kubeconfig "$STATE/kubeconfig/kube-router.kubeconfig" \
    --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
    --enable-cni=false --enable-ipv4=true --enable-ipv6=false \
    --hostname-override "$NODE_NAME" --service-cluster-ip-range "$SERVICE_CIDR" \
    --health-port "$KUBE_ROUTER_HEALTH_PORT" --metrics-port 0

  wait_ready kube-controller-manager 120 default_service_account
  wait_ready kube-router 120 curl -fsS --max-time 2 "http://127.0.0.1:$KUBE_ROUTER_HEALTH_PORT/healthz"
  local c
  for c in kube-controller-manager kube-scheduler kube-proxy; do expect_running "$c"; done
  apply_runtime_class

  log "cluster up in $((SECONDS - started_at))s; logs in $STATE/logs"
  echo "$KUBECONFIG_ADMIN"
}

main "$@"
