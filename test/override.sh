#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The malloc override in its three forms, plus real programs under LD_PRELOAD.
set -u
B=${1:-build}
lib=$(cd "$B" && pwd)/libfaultless.so
export TEST_LOG_DIR=${TEST_LOG_DIR:-}
preload_cxx() { LD_PRELOAD="$lib" "$B/test/override-cxx"; }
preload_c() { LD_PRELOAD="$lib" "$B/test/override-preload"; }
run_static() { "$B/test/override-static"; }
export -f preload_cxx preload_c run_static 2>/dev/null
export lib B
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#!/usr/bin/env bash\nLD_PRELOAD=%q exec %q\n' "$lib" "$B/test/override-preload" >"$tmp/preload-c"
printf '#!/usr/bin/env bash\nLD_PRELOAD=%q exec %q\n' "$lib" "$B/test/override-cxx" >"$tmp/preload-cxx"
chmod +x "$tmp/preload-c" "$tmp/preload-cxx"
test/run.sh override "$tmp/preload-c" "$B/test/override-static" "$tmp/preload-cxx"
