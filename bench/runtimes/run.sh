#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench-runtimes: Java (HotSpot) and Node (V8) first rounds and the JVM's
# start-up, without and with faultless, fresh processes, interleaved.
# See bench.py --help.
set -u
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
