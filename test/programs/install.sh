#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-install: `make install` into a temporary prefix, then use what it put
# there the way a user would: pkg-config, a C program built against the
# installed header and library, a CMake project with find_package(faultless),
# and the installed `faultless run`, the man pages. Then a DESTDIR install
# and uninstall.
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d /tmp/faultless-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | tail -n 15 | sed 's/^/     /'; failed=$((failed + 1)); }
check() { # name, command...
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$out"; fi
}

prefix=$tmp/prefix
check "make install PREFIX=$prefix" make --no-print-directory -s install PREFIX="$prefix"
# The files of `make install`, and the one link: libfaultless.so -> the soname.
files=(lib/libfaultless.so.0 lib/libfaultless-jemalloc.so lib/libfaultless-mimalloc.so
  lib/libfaultless.a include/faultless.h lib/pkgconfig/faultless.pc
  lib/cmake/faultless/faultlessConfig.cmake lib/cmake/faultless/faultlessConfigVersion.cmake
  bin/faultless libexec/faultless/seed libexec/faultless/lambda share/man/man1/faultless.1 share/man/man3/faultless.3)
for f in "${files[@]}"; do
  [ -f "$prefix/$f" ] && [ ! -L "$prefix/$f" ] || bad "installed $f"
done
[ $failed -eq 0 ] && ok "all ${#files[@]} files installed"
[ "$(readlink "$prefix/lib/libfaultless.so")" = libfaultless.so.0 ] && ok "lib/libfaultless.so links to libfaultless.so.0" || bad "lib/libfaultless.so link" "$(ls -l "$prefix/lib/")"
soname=$(objdump -p "$prefix/lib/libfaultless.so.0" 2>&1 | awk '$1 == "SONAME" {print $2}')
[ "$soname" = libfaultless.so.0 ] && ok "soname $soname" || bad "soname" "$soname"
MANPATH=$prefix/share/man man -w faultless >/dev/null 2>&1 && MANPATH=$prefix/share/man man -w 3 faultless >/dev/null 2>&1 && ok "man finds faultless(1) and faultless(3)" || bad "man -w faultless" "$(MANPATH=$prefix/share/man man -w faultless 2>&1)"

# pkg-config
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
flags=$(pkg-config --cflags --libs faultless 2>&1 | sed "s/ *$//")
if [ "$flags" = "-I$prefix/include -L$prefix/lib -lfaultless" ]; then ok "pkg-config --cflags --libs: $flags"; else bad "pkg-config --cflags --libs" "$flags"; fi
v=$(pkg-config --modversion faultless 2>&1)
hv=$(sed -nE 's/^#define FL_VERSION_(MAJOR|MINOR|PATCH) ([0-9]+).*/\2/p' include/faultless.h | paste -sd.)
[ "$v" = "$hv" ] && ok "pkg-config --modversion $v" || bad "pkg-config --modversion" "$v vs $hv"

# A C program against the installed header and library: its plain malloc
# must be faultless's too (the library replaces malloc when linked).
cat >"$tmp/use.c" <<'C'
#include <faultless.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
  fl_stats_t before = {.size = sizeof before}, after = {.size = sizeof after};
  fl_stats_get(&before);
  char *p = malloc(1 << 20);
  char *q = fl_malloc(100);
  if (!p || !q) return 1;
  memset(p, 1, 1 << 20);
  fl_stats_get(&after);
  int ours = after.in_use >= before.in_use + (1 << 20);
  printf("faultless %d.%d.%d malloc-is-faultless=%d usable=%d\n", FL_VERSION_MAJOR,
         FL_VERSION_MINOR, FL_VERSION_PATCH, ours, fl_usable_size(q) >= 100);
  free(p);
  fl_free(q);
  return ours ? 0 : 2;
}
C
# shellcheck disable=SC2046
if out=$(cc -o "$tmp/use" "$tmp/use.c" $(pkg-config --cflags --libs faultless) -Wl,-rpath,"$prefix/lib" 2>&1); then
  ok "cc use.c \$(pkg-config --cflags --libs faultless)"
  out=$("$tmp/use" 2>&1) && [[ $out == *"malloc-is-faultless=1 usable=1"* ]] && ok "it runs: $out" || bad "it runs" "$out"
else
  bad "cc use.c with pkg-config" "$out"
fi

# CMake: find_package(faultless) and the imported target.
mkdir -p "$tmp/cm"
cp "$tmp/use.c" "$tmp/cm/use.c"
cp test/fixtures/cmake-use/CMakeLists.txt "$tmp/cm/"
if out=$(cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$prefix" 2>&1); then
  ok "cmake find_package(faultless 0.1) configures"
  if out=$(cmake --build "$tmp/cm/build" 2>&1); then
    ok "cmake --build links faultless::faultless"
    out=$("$tmp/cm/build/use" 2>&1) && [[ $out == *"malloc-is-faultless=1"* ]] && ok "cmake-built program runs: $out" || bad "cmake-built program runs" "$out"
  else
    bad "cmake --build" "$out"
  fi
else
  bad "cmake configure" "$out"
fi
mkdir -p "$tmp/cm9"
printf 'cmake_minimum_required(VERSION 3.16)\nproject(v9 NONE)\nfind_package(faultless 9 QUIET)\nif(faultless_FOUND)\n  message(FATAL_ERROR "version 9 accepted")\nendif()\n' >"$tmp/cm9/CMakeLists.txt"
check "find_package(faultless 9) is refused" cmake -S "$tmp/cm9" -B "$tmp/cm9/build" -DCMAKE_PREFIX_PATH="$prefix"

# The installed launcher finds the installed library.
lib=$(realpath "$prefix/lib/libfaultless.so")
check "installed faultless run -- true" "$prefix/bin/faultless" run -- true
out=$("$prefix/bin/faultless" run -- sh -c 'echo "$LD_PRELOAD"' 2>&1)
[ "$out" = "$lib" ] && ok "installed faultless run preloads $out" || bad "installed run's LD_PRELOAD" "$out"
out=$("$prefix/bin/faultless" run --stats -- /bin/true 2>&1)
[[ $out == *"faultless stats"*"exited with 0"* ]] && ok "installed faultless run --stats" || bad "installed run --stats" "$out"
# `faultless lambda` runs its script from libexec/faultless.
out=$("$prefix/bin/faultless" lambda deploy --function f --role r --zip /f.zip --dry-run 2>&1)
[[ $out == *"aws lambda update-function-code --function-name f --zip-file fileb:///f.zip"* ]] && ok "installed faultless lambda runs libexec/faultless/lambda" || bad "installed faultless lambda" "$out"

# DESTDIR staging, then uninstall leaves nothing behind.
stage=$tmp/stage
check "make install DESTDIR=$stage PREFIX=/opt/fl" make --no-print-directory -s install DESTDIR="$stage" PREFIX=/opt/fl
n=$(find "$stage/opt/fl" ! -type d | wc -l)
want=$((${#files[@]} + 1))
[ "$n" -eq $want ] && ok "DESTDIR install: $want files and links under \$DESTDIR/opt/fl" || bad "DESTDIR install" "$(find "$stage")"
grep -q '^prefix=/opt/fl$' "$stage/opt/fl/lib/pkgconfig/faultless.pc" && ok "faultless.pc names PREFIX, not DESTDIR" || bad "faultless.pc prefix" "$(cat "$stage/opt/fl/lib/pkgconfig/faultless.pc")"
check "make uninstall DESTDIR=$stage PREFIX=/opt/fl" make --no-print-directory -s uninstall DESTDIR="$stage" PREFIX=/opt/fl
n=$(find "$stage" ! -type d | wc -l)
[ "$n" -eq 0 ] && ok "uninstall removed every file and link" || bad "uninstall" "$(find "$stage" ! -type d)"

echo "install: $passed passed, $failed failed"
[ $failed -eq 0 ]
