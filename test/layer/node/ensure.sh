#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Make test/layer/node/node_modules current (npm ci from the lock file) for
# make test-layer: AWS's aws-lambda-ric 4.x (its native part builds against
# Debian's node headers: npm_config_nodedir=/usr, or node-gyp would download
# them) and apache-arrow. About 50 s the first time, nothing after. Exit 0
# when both are there; otherwise print why on stdout and exit 1.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node or npm not installed"
  exit 1
fi
ready() {
  [ -f "$dir/node_modules/aws-lambda-ric/index.mjs" ] &&
    [ -f "$dir/node_modules/aws-lambda-ric/rapid-client.node" ] &&
    [ -d "$dir/node_modules/apache-arrow" ]
}
if ! ready || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  nodedir=/usr
  [ -f "$nodedir/include/node/node.h" ] || nodedir=$(dirname "$(dirname "$(command -v node)")")
  log=$( (cd "$dir" && npm_config_nodedir=$nodedir npm ci --no-audit --no-fund --silent) 2>&1)
  if ! ready; then
    echo "npm ci failed (offline?): $(printf '%s\n' "$log" | grep -v '^npm warn' | tail -n 1)"
    exit 1
  fi
fi
exit 0
