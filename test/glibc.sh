#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The libraries load on glibc 2.17 and later (Amazon Linux 2 has 2.26): on
# each architecture, libfaultless.so and the jemalloc/mimalloc adapters need
# no symbol version newer than GLIBC_2.17 (objdump -T), and name
# libpthread.so.0 and libdl.so.2, where glibc before 2.34 keeps the pthread
# and dl functions they bind to (src/prim/glibc.h).
# Usage: test/glibc.sh X86_64_BUILD ARM64_BUILD (from the repository root)
set -u
. "$(dirname "$0")/checks.sh"
# The newest GLIBC_x.y an ELF file needs, and the symbols that need it.
newest() { # OBJDUMP FILE
  "$1" -T "$2" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sort -u -V | tail -n 1
}
check() { # ARCH OBJDUMP BUILD
  local arch=$1 od=$2 b=$3 f v needed
  if ! command -v "$od" >/dev/null; then
    fail "$arch: no $od (scripts/setup installs binutils and gcc-aarch64-linux-gnu)"
    return
  fi
  for name in libfaultless.so libfaultless-jemalloc.so libfaultless-mimalloc.so; do
    f=$b/$name
    if [ ! -f "$f" ]; then
      fail "$arch $name: not built ($f)"
      continue
    fi
    v=$(newest "$od" "$f")
    if [ -n "$v" ] && printf '%s\n%s\n' "$v" GLIBC_2.17 | sort -V -C; then
      ok "$arch $name: newest symbol version $v"
    else
      fail "$arch $name: needs ${v:-no glibc at all?}; above GLIBC_2.17:"
      "$od" -T "$f" | grep -E 'GLIBC_2\.(1[89]|[2-9][0-9])' | head -n 8
    fi
    needed=$("$od" -p "$f" | awk '$1 == "NEEDED" {print $2}' | tr '\n' ' ')
    if [[ " $needed" == *" libpthread.so.0 "* && " $needed" == *" libdl.so.2 "* ]]; then
      ok "$arch $name: needs $needed"
    else
      fail "$arch $name: libpthread.so.0 and libdl.so.2 not both needed: $needed"
    fi
  done
}
check x86_64 objdump "$1"
check arm64 aarch64-linux-gnu-objdump "$2"
# Only the shared libraries bind old versions: the static archive still
# links into a fully static program (libc.a has no versioned symbols).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' '#include "faultless.h"' '#include <string.h>' \
  'int main(void) { char *p = fl_malloc(1 << 20); memset(p, 1, 1 << 20); fl_free(p); return !p; }' \
  >"$tmp/s.c"
if ${CC:-cc} -static -Iinclude "$tmp/s.c" "$1/libfaultless-core.a" -pthread -ldl -o "$tmp/s" \
  2>"$tmp/err" && "$tmp/s"; then
  ok "x86_64 libfaultless-core.a links with -static and runs"
else
  fail "x86_64 libfaultless-core.a with -static: $(grep -m 3 -E 'undefined|rror' "$tmp/err")"
fi
report glibc
