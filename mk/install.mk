# SPDX-License-Identifier: MIT
# make install / uninstall, and the test step that checks an installed tree.
# Included by the top Makefile (B, LIB_SO, LIB_A, PREFIX).
#
#   make install   [PREFIX=/usr/local] [DESTDIR=]   libraries (libfaultless.so.0 and
#                  its .so link, the jemalloc and mimalloc adapters), header,
#                  pkg-config, CMake package config, bin/faultless,
#                  libexec/faultless/seed and lambda (the script behind
#                  `faultless lambda`), man pages faultless(1) and faultless(3)
#   make uninstall [PREFIX] [DESTDIR]               removes exactly those files
#   make test-install   installs into a temporary prefix and uses it
#                       (test/programs/install.sh)
#
# The .pc file holds the absolute PREFIX (not DESTDIR); the CMake config finds
# the prefix from its own place, so a moved tree still works with CMake.
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR ?= $(PREFIX)/share/man
INSTALL ?= install

FL_VERSION := $(shell sed -nE 's/^\#define FL_VERSION_(MAJOR|MINOR|PATCH) ([0-9]+).*/\2/p' include/faultless.h | paste -sd.)
FL_VERSION_MAJOR := $(word 1,$(subst ., ,$(FL_VERSION)))
FL_VERSION_MINOR := $(word 2,$(subst ., ,$(FL_VERSION)))

$(B)/packaging/faultless.pc: packaging/faultless.pc.in include/faultless.h
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(FL_VERSION)|g' $< >$@
$(B)/packaging/faultlessConfigVersion.cmake: packaging/faultlessConfigVersion.cmake.in include/faultless.h
	@mkdir -p $(dir $@)
	sed -e 's|@VERSION@|$(FL_VERSION)|g' -e 's|@VERSION_MAJOR@|$(FL_VERSION_MAJOR)|g' \
	    -e 's|@VERSION_MINOR@|$(FL_VERSION_MINOR)|g' $< >$@

# The prefix goes into the .pc file, so regenerate it on every install.
.PHONY: install uninstall test-install FORCE
$(B)/packaging/faultless.pc: FORCE

# The man pages come from mk/man.mk (MAN_PAGES; `man` builds them).
install: lib tools adapters man $(B)/packaging/faultless.pc $(B)/packaging/faultlessConfigVersion.cmake
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
	  $(DESTDIR)$(LIBDIR)/cmake/faultless $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBEXECDIR)/faultless \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	$(INSTALL) -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libfaultless.so.$(FL_SOVERSION)
	ln -sf libfaultless.so.$(FL_SOVERSION) $(DESTDIR)$(LIBDIR)/libfaultless.so
	$(INSTALL) -m 755 $(ADAPTER_LIBS) $(DESTDIR)$(LIBDIR)/
	$(INSTALL) -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libfaultless.a
	$(INSTALL) -m 644 include/faultless.h $(DESTDIR)$(INCLUDEDIR)/faultless.h
	$(INSTALL) -m 644 $(B)/packaging/faultless.pc $(DESTDIR)$(LIBDIR)/pkgconfig/faultless.pc
	$(INSTALL) -m 644 packaging/faultlessConfig.cmake $(B)/packaging/faultlessConfigVersion.cmake \
	  $(DESTDIR)$(LIBDIR)/cmake/faultless/
	$(INSTALL) -m 755 $(B)/faultless $(DESTDIR)$(BINDIR)/faultless
	$(INSTALL) -m 755 $(B)/bench/seed $(DESTDIR)$(LIBEXECDIR)/faultless/seed
	$(INSTALL) -m 755 cli/faultless-lambda $(DESTDIR)$(LIBEXECDIR)/faultless/lambda
	$(INSTALL) -m 644 $(filter %.1,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 644 $(filter %.3,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man3/

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libfaultless.so $(DESTDIR)$(LIBDIR)/libfaultless.so.$(FL_SOVERSION) \
	  $(addprefix $(DESTDIR)$(LIBDIR)/,$(notdir $(ADAPTER_LIBS))) \
	  $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(filter %.1,$(MAN_PAGES)))) \
	  $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(filter %.3,$(MAN_PAGES)))) \
	  $(DESTDIR)$(LIBDIR)/libfaultless.a \
	  $(DESTDIR)$(INCLUDEDIR)/faultless.h $(DESTDIR)$(LIBDIR)/pkgconfig/faultless.pc \
	  $(DESTDIR)$(LIBDIR)/cmake/faultless/faultlessConfig.cmake \
	  $(DESTDIR)$(LIBDIR)/cmake/faultless/faultlessConfigVersion.cmake \
	  $(DESTDIR)$(BINDIR)/faultless $(DESTDIR)$(LIBEXECDIR)/faultless/seed \
	  $(DESTDIR)$(LIBEXECDIR)/faultless/lambda
	rmdir $(DESTDIR)$(LIBDIR)/cmake/faultless $(DESTDIR)$(LIBEXECDIR)/faultless 2>/dev/null || true

TEST_STEPS += test-install
test-install: lib tools adapters man
	@test/programs/install.sh
