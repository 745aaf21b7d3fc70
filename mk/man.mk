# SPDX-License-Identifier: MIT
# Man pages, each written once in scdoc(5) (man/NAME.SECTION.scd) and built
# into build/man/ (one copy for every build variant).
#   make man        build/man/faultless.1 and build/man/faultless.3
#   make test-man   the pages against the program and the library: every
#                   subcommand and every --flag its --help prints in
#                   faultless(1); every option of the library's table and every
#                   fl_ function of include/faultless.h in faultless(3)
# Included by the top Makefile (B, LIB_SO); make install and the Debian
# packages ship MAN_PAGES.
MAN_SRC := $(wildcard man/*.scd)
MAN_PAGES := $(patsubst man/%.scd,build/man/%,$(MAN_SRC))

.PHONY: man test-man
man: $(MAN_PAGES)

build/man/%: man/%.scd
	@command -v scdoc >/dev/null || { echo "make man: scdoc is missing; run scripts/setup (Debian package scdoc)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	scdoc <$< >$@.tmp && mv $@.tmp $@

TEST_STEPS += test-man
test-man: man tools $(LIB_SO)
	@python3 man/test.py $(B)
