#!/usr/bin/env bash
# Builds cordon-runtime:test-no-supervisor: the runtime image without its supervisor,
# so a pod starts and its stream ends with no result. The k8s tests use it to prove a
# failed execution leaves no pod behind. Built from the local runtime image, offline;
# cluster/up.sh imports it with every other cordon-runtime:* image.
#
# Usage: images/runtime/test/build-no-supervisor.sh [BASE_IMAGE]   (default: the runtime image of versions.env)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../versions.env
source "$here/versions.env"
base="${1:-cordon-runtime:$CORDON_RUNTIME_VERSION}"
target=cordon-runtime:test-no-supervisor
docker image inspect "$base" >/dev/null 2>&1 || {
  echo "build-no-supervisor: $base is missing (build it: npx cordon image build)" >&2
  exit 1
}
# The image runs as its non-root user; the removal needs root, the result keeps the user.
dockerfile=$(printf 'FROM %s\nUSER root\nRUN rm /opt/cordon/runner/supervisor.cjs\nUSER 10001\n' "$base")
if ! output=$(DOCKER_BUILDKIT=0 docker build --quiet --force-rm -t "$target" - <<<"$dockerfile" 2>&1); then
  echo "$output" >&2
  exit 1
fi
echo "$target"
