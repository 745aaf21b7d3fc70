# SPDX-License-Identifier: MIT
# arm64 (aarch64): the cross build, its tests under qemu-user, and the glibc
# symbol versions of both architectures' libraries.
#   make ARCH=arm64 lib adapters tools   into build-arm64/, with Debian's
#                      gcc-aarch64-linux-gnu (CC and B follow ARCH)
#   make test-arm64    the arm64 unit suites, the override, and the seed's
#                      experiment under qemu-aarch64 (test/arm64.sh)
#   make test-glibc    libfaultless.so and the adapters, x86_64 and arm64:
#                      nothing newer than GLIBC_2.17 (test/glibc.sh)
ARM64_B := build-arm64
# The shipped builds: no sanitizer, hardening or test hooks.
SHIPPED := SAN= SECURE=0 DEBUG=0 CHECKS= TEST_HOOKS=0

TEST_STEPS += test-arm64 test-glibc
.PHONY: test-arm64 test-glibc

test-arm64:
	@$(MAKE) --no-print-directory $(SHIPPED) ARCH=arm64 B=$(ARM64_B) lib adapters tools \
	  $(TEST_NAMES:%=$(ARM64_B)/test/%) $(ARM64_B)/test/override-preload \
	  $(ARM64_B)/test/override-static >/dev/null
	@test/arm64.sh $(ARM64_B)

test-glibc:
	@$(MAKE) --no-print-directory $(SHIPPED) ARCH= B=build lib adapters >/dev/null
	@$(MAKE) --no-print-directory $(SHIPPED) ARCH=arm64 B=$(ARM64_B) lib adapters >/dev/null
	@test/glibc.sh build $(ARM64_B)
