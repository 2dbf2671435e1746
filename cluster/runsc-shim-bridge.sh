#!/usr/bin/env bash
# Installed as containerd-shim-runsc-v1 in front of gVisor's shim (renamed
# containerd-shim-runsc-v1.real). gVisor's shim is built on containerd 2's shim
# library: `start` prints JSON bootstrap parameters, which containerd 1.6 (our
# runtime) does not parse; it expects the bare ttrpc address. Everything else
# passes through untouched.
set -euo pipefail
real="$(dirname "$(readlink -f "$0")")/containerd-shim-runsc-v1.real"
for arg in "$@"; do
  if [[ $arg == start ]]; then
    out=$("$real" "$@")
    if [[ $out == \{* ]]; then
      jq -e -r 'select(.protocol == "ttrpc" and .version == 2) | .address' <<<"$out" ||
        { echo "unsupported shim bootstrap parameters: $out" >&2; exit 1; }
    else
      printf '%s' "$out"
    fi
    exit 0
  fi
done
exec "$real" "$@"
