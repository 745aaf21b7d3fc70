# SPDX-License-Identifier: MIT
# The AWS Lambda custom runtime: lambda/ and `faultless lambda`.
#   make lambda        $(B)/lambda/function.zip for provided.al2023, x86_64
#   make test-lambda   the runtime against a local Runtime API, the zip's glibc
#                      symbol versions, and `faultless lambda` dry runs + collect
#
# The zip holds: bootstrap (the runtime; libfaultless linked in, so its own
# heap is the arena it warms during init), faultless + bench/seed (the bench
# and its worker, unchanged), libfaultless.so (faultless-preload), and lib/
# with the peer allocators from Debian whose own glibc needs stop at 2.34
# (AL2023's glibc). Everything is linked dynamically against glibc: the
# worker must be, for LD_PRELOAD to work, and the test holds every ELF in the
# zip to GLIBC_2.34 at most.
LAMBDA_DIR := $(B)/lambda
LAMBDA_ZIP := $(LAMBDA_DIR)/function.zip
LAMBDA_SRC := lambda/bootstrap.c lambda/handler.c lambda/http.c tools/json.c tools/util.c tools/peers.c
LAMBDA_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(LAMBDA_SRC))
LAMBDA_HDR := lambda/handler.h lambda/http.h tools/json.h tools/peers.h tools/size.h tools/util.h
# Peers as Debian ships them (scripts/setup installs the packages). tcmalloc
# comes as its minimal build: the full one needs libunwind and liblzma too.
LAMBDA_PEERS ?= libjemalloc.so.2 libmimalloc.so.2 libtcmalloc_minimal.so.4
LAMBDA_PEER_DIRS := /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib

TEST_STEPS += test-lambda
.PHONY: lambda test-lambda lambda-peers

$(LAMBDA_OBJ): $(LAMBDA_HDR)

$(LAMBDA_DIR)/bootstrap: $(LAMBDA_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -rdynamic -o $@ $(LAMBDA_OBJ) -Wl,--whole-archive $(LIB_A) \
	  -Wl,--no-whole-archive -ldl $(LDLIBS)

lambda: $(LAMBDA_ZIP)

# The zip never holds less than lambda/README.md says: every peer must be
# there (scripts/setup installs them), or this stops, with the zip untouched.
# Order-only, so that it runs on every `make lambda` without forcing a rebuild.
lambda-peers:
	@if [ -x scripts/setup ]; then scripts/setup || exit 1; fi
	@missing=; for p in $(LAMBDA_PEERS); do \
	  f=; for d in $(LAMBDA_PEER_DIRS); do [ -r $$d/$$p ] && { f=$$d/$$p; break; }; done; \
	  [ -n "$$f" ] || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make lambda: missing peer allocator libraries:$$missing (looked in $(LAMBDA_PEER_DIRS))." >&2; \
	  echo "make lambda: the zip must hold every peer lambda/README.md lists; run scripts/setup as" >&2; \
	  echo "make lambda: root (Debian packages libjemalloc2, libmimalloc2.0, libtcmalloc-minimal4)." >&2; \
	  exit 1; \
	fi

$(LAMBDA_ZIP): $(LAMBDA_DIR)/bootstrap $(B)/faultless $(B)/bench/seed $(LIB_SO) mk/lambda.mk | lambda-peers
	@rm -rf $(LAMBDA_DIR)/stage $@
	@mkdir -p $(LAMBDA_DIR)/stage/bench $(LAMBDA_DIR)/stage/lib
	cp $(LAMBDA_DIR)/bootstrap $(B)/faultless $(LIB_SO) $(LAMBDA_DIR)/stage/
	cp $(B)/bench/seed $(LAMBDA_DIR)/stage/bench/
	@for p in $(LAMBDA_PEERS); do \
	  f=; for d in $(LAMBDA_PEER_DIRS); do [ -r $$d/$$p ] && { f=$$d/$$p; break; }; done; \
	  [ -n "$$f" ] || { echo "make lambda: $$p vanished" >&2; exit 1; }; \
	  cp -L $$f $(LAMBDA_DIR)/stage/lib/$$p; \
	  echo "lib/$$p: $$(dpkg-query -S $$f 2>/dev/null | head -n1 | cut -d: -f1) \
	$$(dpkg-query -W -f '$${Version}' $$(dpkg-query -S $$f 2>/dev/null | head -n1 | cut -d: -f1) 2>/dev/null)" \
	    >>$(LAMBDA_DIR)/stage/PEERS.txt; \
	done
	strip --strip-debug $(LAMBDA_DIR)/stage/bootstrap $(LAMBDA_DIR)/stage/faultless \
	  $(LAMBDA_DIR)/stage/bench/seed $(LAMBDA_DIR)/stage/libfaultless.so
	cd $(LAMBDA_DIR)/stage && zip -q -X -r ../function.zip .
	@echo "lambda: $@ ($$(du -k $@ | cut -f1) KiB)"

test-lambda: $(LAMBDA_ZIP) $(B)/faultless
	@test/lambda/run.sh $(B)
