#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Make test/programs/node/node_modules current (npm ci from the lock file) for
# the tests that run apache-arrow: test-programs and test-adapters. Exit 0 when
# apache-arrow is there; otherwise print why on stdout and exit 1.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node or npm not installed"
  exit 1
fi
if ! [ -d "$dir/node_modules/apache-arrow" ] ||
  [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  log=$( (cd "$dir" && npm ci --no-audit --no-fund --silent) 2>&1)
  if ! [ -d "$dir/node_modules/apache-arrow" ]; then
    echo "npm ci failed (offline?): $(printf '%s\n' "$log" | tail -n 1)"
    exit 1
  fi
fi
exit 0
