# SPDX-License-Identifier: MIT
# The Lambda layer: faultless under any function, through
# AWS_LAMBDA_EXEC_WRAPPER=/opt/faultless-wrapper (lambda/layer/, lambda/README.md).
#   make layer        build/layer/faultless-layer-x86_64.zip and -arm64.zip
#   make test-layer   the x86_64 layer the way Lambda runs a managed runtime
#                     (Node's aws-lambda-ric, a Python runtime loop) against the
#                     local Runtime API; the arm64 layer under qemu-user
#                     (test/layer/run.sh)
#
# Each zip unpacks under /opt: faultless-wrapper, README.md, bin/faultless,
# include/faultless.h, lib/libfaultless.so (and its soname, libfaultless.so.0, as
# a link to it), lib/libfaultless-jemalloc.so,
# lib/libfaultless-mimalloc.so and python/ (every file under lambda/python/,
# on Lambda's Python path).
# The libraries come from release builds of their own: build/ (x86_64) and
# build-arm64/ (cross-built with Debian's gcc-aarch64-linux-gnu), whatever
# variant (SAN, SECURE, ...) this make was asked for.
LAYER_OUT := build/layer
LAYER_ARCHES := x86_64 arm64
LAYER_ARM64_CC ?= aarch64-linux-gnu-gcc
LAYER_B_x86_64 := build
LAYER_B_arm64 := build-arm64
LAYER_MAKE_x86_64 := B=build
LAYER_MAKE_arm64 := ARCH=arm64 CC=$(LAYER_ARM64_CC) B=build-arm64
LAYER_NEEDS_arm64 := $(LAYER_ARM64_CC)
LAYER_STRIP_x86_64 := strip
LAYER_STRIP_arm64 := aarch64-linux-gnu-strip
LAYER_FILES := lib/libfaultless.so lib/libfaultless-jemalloc.so lib/libfaultless-mimalloc.so \
               bin/faultless
LAYER_PY := $(shell find lambda/python -type f ! -path '*/__pycache__/*' ! -name '*.pyc' 2>/dev/null)
LAYER_SRC := lambda/layer/faultless-wrapper lambda/layer/README.md include/faultless.h $(LAYER_PY) mk/layer.mk

TEST_STEPS += test-layer
.PHONY: layer test-layer $(patsubst %,layer-build-%,$(LAYER_ARCHES))

layer: $(patsubst %,$(LAYER_OUT)/faultless-layer-%.zip,$(LAYER_ARCHES))

# One release build per architecture, in its own folder; the variables of
# this make's variant are reset so that the layer never ships a sanitizer build.
define LAYER_ARCH_RULES
layer-build-$(1):
	@$$(if $$(LAYER_NEEDS_$(1)),command -v $$(LAYER_NEEDS_$(1)) >/dev/null || { echo \
	  "layer: $$(LAYER_NEEDS_$(1)) not found (scripts/setup installs gcc-aarch64-linux-gnu)" >&2; exit 1; })
	@$$(MAKE) -s --no-print-directory $$(LAYER_MAKE_$(1)) SAN= SECURE=0 DEBUG=0 CHECKS= VALGRIND= \
	  lib adapters tools

$$(LAYER_OUT)/faultless-layer-$(1).zip: layer-build-$(1) $$(LAYER_SRC)
	@rm -rf $$(LAYER_OUT)/$(1) $$@
	@mkdir -p $$(LAYER_OUT)/$(1)/lib $$(LAYER_OUT)/$(1)/bin $$(LAYER_OUT)/$(1)/include
	@for f in libfaultless.so libfaultless-jemalloc.so libfaultless-mimalloc.so faultless; do \
	  test -f $$(LAYER_B_$(1))/$$$$f || { echo "layer: $$(LAYER_B_$(1))/$$$$f is missing" >&2; exit 1; }; \
	done
	@command -v $$(LAYER_STRIP_$(1)) >/dev/null || \
	  { echo "layer: $$(LAYER_STRIP_$(1)) not found (scripts/setup installs it)" >&2; exit 1; }
	@command -v zip >/dev/null || { echo "layer: zip not found (scripts/setup installs it)" >&2; exit 1; }
	cp $$(LAYER_B_$(1))/libfaultless.so $$(LAYER_B_$(1))/libfaultless-jemalloc.so \
	  $$(LAYER_B_$(1))/libfaultless-mimalloc.so $$(LAYER_OUT)/$(1)/lib/
	cp $$(LAYER_B_$(1))/faultless $$(LAYER_OUT)/$(1)/bin/
	ln -s libfaultless.so $$(LAYER_OUT)/$(1)/lib/libfaultless.so.0
	cp include/faultless.h $$(LAYER_OUT)/$(1)/include/
	cp lambda/layer/faultless-wrapper lambda/layer/README.md $$(LAYER_OUT)/$(1)/
	@if [ -d lambda/python ]; then mkdir -p $$(LAYER_OUT)/$(1)/python && cp -R lambda/python/. $$(LAYER_OUT)/$(1)/python/; \
	  find $$(LAYER_OUT)/$(1)/python \( -name __pycache__ -o -name '*.pyc' \) -prune -exec rm -rf {} +; fi
	chmod 755 $$(LAYER_OUT)/$(1)/faultless-wrapper $$(LAYER_OUT)/$(1)/bin/faultless
	$$(LAYER_STRIP_$(1)) --strip-debug $$(addprefix $$(LAYER_OUT)/$(1)/,$$(LAYER_FILES))
	cd $$(LAYER_OUT)/$(1) && zip -q -X -y -r ../faultless-layer-$(1).zip .
	@echo "layer: $$@ ($$$$(du -k $$@ | cut -f1) KiB)"
endef
$(foreach a,$(LAYER_ARCHES),$(eval $(call LAYER_ARCH_RULES,$(a))))

# A tiny library the test function preloads itself, to check that its own
# LD_PRELOAD entry is kept; and a program linked with -lfaultless against the
# unzipped layer (the custom-runtime recipe) is built by the test itself.
$(B)/test/layer/liblayer_marker.so: test/layer/marker.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared $< -o $@

test-layer: layer $(B)/test/layer/liblayer_marker.so
	@test/layer/run.sh $(B)

# The figures of lambda/README.md (not part of `make bench`: ~2 minutes).
LAYER_BENCH_REPEAT ?= 5
LAYER_BENCH_MEMORY ?= 2048
.PHONY: bench-layer
bench-layer: layer tools
	bench/layer/bench.py --layer $(LAYER_OUT)/x86_64 --seed $(B)/bench/seed \
	  --repeat $(LAYER_BENCH_REPEAT) --memory $(LAYER_BENCH_MEMORY)
