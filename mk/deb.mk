# SPDX-License-Identifier: MIT
# Debian packages (debian/): libfaultless0 (the shared library and the
# adapters), libfaultless-dev (header, static library, pkg-config, CMake) and
# faultless (the command, its worker and the man pages).
#   make deb        build/deb/*.deb: dpkg-buildpackage -b -us -uc on a copy of
#                   the tree in build/deb/src, because dpkg-buildpackage writes
#                   its results into the parent of the tree it builds; so
#                   nothing lands outside the repository. The log is
#                   build/deb/build.log.
#   make test-deb   builds them (or reuses ones newer than every source file),
#                   runs lintian and uses what the packages hold (test/deb.sh)
# The copy is every file git tracks or would track (uncommitted changes
# included), or every file outside build*/ where there is no git checkout.
# The packages are built with debian/rules' flags alone: this make's options
# and variables (SAN=, CFLAGS=, -j) and the environment are not passed down,
# except PATH, HOME and DEB_BUILD_OPTIONS.
DEB_DIR := build/deb
DEB_STAMP := $(DEB_DIR)/stamp
ifneq ($(filter deb test-deb,$(MAKECMDGOALS)),)
DEB_SOURCES := $(wildcard $(shell git ls-files -co --exclude-standard 2>/dev/null || \
  find . \( -path './build*' -o -name .git \) -prune -o -type f -print | sed 's|^\./||'))
endif

.PHONY: deb test-deb
deb: $(DEB_STAMP)

$(DEB_STAMP): $(DEB_SOURCES)
	@for t in dpkg-buildpackage dh scdoc; do command -v $$t >/dev/null || \
	  { echo "make deb: $$t is missing; run scripts/setup (it installs dpkg-dev, debhelper, scdoc)" >&2; exit 1; }; done
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	@tar -cf - $^ | tar -xf - -C $(DEB_DIR)/src
	@echo "make deb: dpkg-buildpackage -b -us -uc in $(DEB_DIR)/src (log: $(DEB_DIR)/build.log)"
	@cd $(DEB_DIR)/src && env -i PATH="$$PATH" HOME="$$HOME" $${DEB_BUILD_OPTIONS:+DEB_BUILD_OPTIONS="$$DEB_BUILD_OPTIONS"} \
	  dpkg-buildpackage -b -us -uc >../build.log 2>&1 || \
	  { tail -n 30 ../build.log; echo "make deb: dpkg-buildpackage failed; see $(DEB_DIR)/build.log" >&2; exit 1; }
	@ls $(DEB_DIR)/*.deb
	@touch $@

TEST_STEPS += test-deb
test-deb: deb
	@test/deb.sh $(DEB_DIR)
