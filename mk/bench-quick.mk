# SPDX-License-Identifier: MIT
# make bench BENCH_QUICK=1: every step of `make bench` (the start-up table,
# the cold-process run, the adapters, the real programs, the runtimes), each with the fewest
# rounds and smaller programs, so that CI proves the README's command works
# (about two minutes on 2 vCPUs). Its figures are too few to be read as
# results. A knob given on the command line still wins.
ifeq ($(BENCH_QUICK),1)
BENCH_REPEAT = 2
BENCH_COLD_REPEAT = 1
BENCH_COLD_GAP_MS = 500
ADAPTERS_BENCH_REPEAT = 1
PROGRAMS_BENCH_REPEAT = 1
PROGRAMS_BENCH_ARGS = --numpy-columns 8 --numpy-rows 250000 --numpy-prefault 64M \
  --arrow-rows 500000 --arrow-prefault 64M --setup-ms 100
endif
