#!/usr/bin/env bash
# Bring up a local Docker engine with the gVisor (runsc) runtime configured.
# Idempotent: installs what is missing, rewrites daemon.json only when it
# differs (then restarts dockerd), starts dockerd if it is not running, and
# waits until `docker info` answers. Needs root.
# runsc flag --network=none: no netstack at all for network-none sandboxes (what was
# seen to work with Docker here). Not --oci-seccomp: with Docker 20.10's default
# profile inside Debian's 2022 runsc, node cannot create threads (uv_thread_create
# fails); the Sentry itself still runs under gVisor's own host seccomp filter.
set -euo pipefail

log() { printf 'docker-up: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root"; exit 1
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v runsc >/dev/null 2>&1 || missing+=(runsc)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

RUNSC_PATH="$(command -v runsc)"
DAEMON_JSON=/etc/docker/daemon.json
want="$(cat <<JSON
{
  "runtimes": {
    "runsc": {
      "path": "${RUNSC_PATH}",
      "runtimeArgs": ["--network=none"]
    }
  }
}
JSON
)"

mkdir -p /etc/docker
config_changed=0
if [ ! -f "$DAEMON_JSON" ] || [ "$(cat "$DAEMON_JSON")" != "$want" ]; then
  if [ -f "$DAEMON_JSON" ]; then
    cp "$DAEMON_JSON" "$DAEMON_JSON.bak.$(date +%s)"
  fi
  printf '%s\n' "$want" > "$DAEMON_JSON"
  config_changed=1
  log "wrote $DAEMON_JSON"
fi

dockerd_pid() { pgrep -x dockerd | head -n1 || true; }

pid="$(dockerd_pid)"
if [ -n "$pid" ] && [ "$config_changed" -eq 1 ]; then
  # SIGHUP reloads the runtimes section without stopping running containers.
  log "reloading dockerd ($pid) for the new runtimes"
  kill -HUP "$pid"
  sleep 1
fi

if [ -z "$pid" ]; then
  log "starting dockerd (log: /var/log/cordon-dockerd.log)"
  nohup dockerd >/var/log/cordon-dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; then
      log "dockerd is up (runtimes: $(docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}'))"
      exit 0
    fi
  fi
  sleep 1
done

log "dockerd did not become ready with the runsc runtime in 60 s; see /var/log/cordon-dockerd.log"
exit 1
