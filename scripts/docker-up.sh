#!/usr/bin/env bash
# Bring up a local Docker engine with the gVisor (runsc) runtime configured.
# Idempotent: installs what is missing, sets runtimes.runsc in daemon.json (merged:
# other settings kept) and reloads dockerd with SIGHUP only when that changed it,
# starts dockerd if it is not running, and
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
mkdir -p /etc/docker

# Merge, never overwrite: other settings in daemon.json (someone else's) are kept;
# only runtimes.runsc is set. Prints "changed" when the file had to be rewritten.
config_changed=0
# shellcheck disable=SC2016 # the single-quoted text is JavaScript, read from the env by node
merge_result="$(RUNSC_PATH="$RUNSC_PATH" DAEMON_JSON="$DAEMON_JSON" node --input-type=module -e '
import { existsSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
const path = process.env.DAEMON_JSON;
const before = existsSync(path) ? readFileSync(path, "utf8") : "";
const config = before.trim() === "" ? {} : JSON.parse(before);
const want = { path: process.env.RUNSC_PATH, runtimeArgs: ["--network=none", "--host-uds=open"] };
if (JSON.stringify(config.runtimes?.runsc) === JSON.stringify(want)) { console.log("same"); process.exit(0); }
config.runtimes = { ...(config.runtimes ?? {}), runsc: want };
if (before !== "") copyFileSync(path, `${path}.bak.${Date.now()}`);
writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
console.log("changed");
')"
if [ "$merge_result" = "changed" ]; then
  config_changed=1
  log "set runtimes.runsc in $DAEMON_JSON"
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
