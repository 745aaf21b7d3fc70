#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench-programs: numpy and Node+Arrow under glibc, jemalloc, mimalloc,
# tcmalloc and faultless, fresh processes, interleaved. See bench.py --help.
set -u
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
