#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-deb: the Debian packages that `make deb` built (DIR, default build/deb).
# lintian must report no error. Then the packages are extracted (dpkg-deb -x,
# nothing is installed on this machine) into one temporary root, and used
# from there the way a user of the installed packages would: each file in the
# package it belongs to, pkg-config and CMake against the tree, a program
# built and run, `faultless run` and `faultless bench` from usr/bin, and man
# finding both pages.
set -u
cd "$(dirname "$0")/.."
dir=${1:-build/deb}
tmp=$(mktemp -d /tmp/faultless-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | tail -n 15 | sed 's/^/     /'; failed=$((failed + 1)); }
finish() { echo "deb: $passed passed, $failed failed"; [ $failed -eq 0 ]; exit; }

ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
version=$(sed -nE 's/^#define FL_VERSION_(MAJOR|MINOR|PATCH) ([0-9]+).*/\2/p' include/faultless.h | paste -sd.)
declare -A deb
for p in libfaultless0 libfaultless-dev faultless; do
  f=$(ls "$dir/${p}_"*.deb 2>/dev/null | head -n 1)
  if [ -n "$f" ]; then deb[$p]=$f; else bad "package $p in $dir (make deb)"; fi
done
[ $failed -eq 0 ] || finish
ok "3 packages: $(cd "$dir" && ls libfaultless0_*.deb libfaultless-dev_*.deb faultless_*.deb | paste -sd' ')"

# Version: the header's, in every package (debian/changelog follows it).
for p in "${!deb[@]}"; do
  v=$(dpkg-deb -f "${deb[$p]}" Version)
  [ "$v" = "$version" ] || bad "$p has version $v, include/faultless.h says $version (update debian/changelog)"
done
[ $failed -eq 0 ] && ok "every package has version $version, as include/faultless.h"

# lintian: no errors (warnings are printed, and do not fail).
changes=$(ls "$dir"/*.changes 2>/dev/null | head -n 1)
if ! command -v lintian >/dev/null; then
  bad "lintian is missing (scripts/setup installs it)"
else
  out=$(lintian --fail-on error "${changes:-${deb[@]}}" 2>&1)
  rc=$?
  nw=$(printf '%s\n' "$out" | grep -c '^W:')
  if [ $rc -eq 0 ]; then
    ok "lintian: no errors, $nw warnings"
    printf '%s\n' "$out" | grep '^W:' | sed 's/^/     /'
  else
    bad "lintian reports errors (exit $rc)" "$(printf '%s\n' "$out" | grep -vE '^(I|N):|root privileges')"
  fi
fi

# Contents: what each package must hold.
contents() { dpkg-deb -c "$1" | awk '{print $6}' | sed 's|^\./|/|'; }
expect() { # package, path...
  local p=$1 list
  shift
  list=$(contents "${deb[$p]}")
  local miss=()
  for f in "$@"; do grep -qxF "$f" <<<"$list" || miss+=("$f"); done
  if [ ${#miss[@]} -eq 0 ]; then ok "$p holds $*"; else bad "$p lacks ${miss[*]}" "$list"; fi
}
L=/usr/lib/$ma
expect libfaultless0 "$L/libfaultless.so.0" "$L/libfaultless-jemalloc.so" "$L/libfaultless-mimalloc.so"
expect libfaultless-dev /usr/include/faultless.h "$L/libfaultless.so" "$L/libfaultless.a" \
  "$L/pkgconfig/faultless.pc" "$L/cmake/faultless/faultlessConfig.cmake" \
  "$L/cmake/faultless/faultlessConfigVersion.cmake"
expect faultless /usr/bin/faultless /usr/libexec/faultless/seed /usr/libexec/faultless/lambda \
  /usr/share/man/man1/faultless.1.gz /usr/share/man/man3/faultless.3.gz
# No file in two packages (they could not be installed together).
dups=$(for p in "${!deb[@]}"; do contents "${deb[$p]}" | grep -v '/$'; done | sort | uniq -d)
[ -z "$dups" ] && ok "no file is in two packages" || bad "files in two packages" "$dups"
# The runtime package is named after the soname it holds.
root=$tmp/root
for p in libfaultless0 libfaultless-dev faultless; do dpkg-deb -x "${deb[$p]}" "$root"; done
soname=$(objdump -p "$root$L/libfaultless.so.0" 2>&1 | awk '$1 == "SONAME" {print $2}')
[ "$soname" = libfaultless.so.0 ] && ok "libfaultless0 holds soname $soname" || bad "soname of libfaultless.so.0" "$soname"
link=$(readlink "$root$L/libfaultless.so")
[ "$link" = libfaultless.so.0 ] && ok "libfaultless-dev: libfaultless.so -> $link" || bad "libfaultless.so link" "$link"
dep=$(dpkg-deb -f "${deb[faultless]}" Depends)
[[ $dep == *"libfaultless0 (= $version)"* ]] && ok "faultless depends on libfaultless0 (= $version)" || bad "faultless's Depends" "$dep"

# A program built with pkg-config against the extracted tree: the header and
# library it finds are the package's, and its malloc is faultless's.
cat >"$tmp/use.c" <<'C'
#include <faultless.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
  fl_stats_t before = {.size = sizeof before}, after = {.size = sizeof after};
  fl_stats_get(&before);
  char *p = malloc(1 << 20);
  if (!p) return 1;
  memset(p, 1, 1 << 20);
  fl_stats_get(&after);
  int ours = after.in_use >= before.in_use + (1 << 20);
  char line[512], lib[512] = "";
  FILE *maps = fopen("/proc/self/maps", "r");
  while (maps && fgets(line, sizeof line, maps))
    if (strstr(line, "libfaultless")) sscanf(line, "%*s %*s %*s %*s %*s %511s", lib);
  if (maps) fclose(maps);
  printf("faultless %d.%d.%d malloc-is-faultless=%d lib=%s\n", FL_VERSION_MAJOR, FL_VERSION_MINOR,
         FL_VERSION_PATCH, ours, lib);
  free(p);
  return ours ? 0 : 2;
}
C
export PKG_CONFIG_PATH=$root$L/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root$L/pkgconfig
flags=$(pkg-config --cflags --libs faultless 2>&1 | sed 's/ *$//')
want="-I$root/usr/include -L$root$L -lfaultless"
[ "$flags" = "$want" ] && ok "pkg-config --cflags --libs faultless: $flags" || bad "pkg-config --cflags --libs faultless" "got:  $flags
want: $want"
v=$(pkg-config --modversion faultless 2>&1)
[ "$v" = "$version" ] && ok "pkg-config --modversion: $v" || bad "pkg-config --modversion" "$v"
# shellcheck disable=SC2046
if out=$(cc -o "$tmp/use" "$tmp/use.c" $(pkg-config --cflags --libs faultless) 2>&1); then
  ok "cc use.c \$(pkg-config --cflags --libs faultless)"
  needed=$(objdump -p "$tmp/use" | awk '$1 == "NEEDED" && $2 ~ /faultless/ {print $2}')
  [ "$needed" = libfaultless.so.0 ] && ok "the program needs $needed" || bad "the program's NEEDED" "$needed"
  out=$(LD_LIBRARY_PATH=$root$L "$tmp/use" 2>&1)
  [[ $out == *"malloc-is-faultless=1 lib=$root$L/libfaultless.so.0"* ]] && ok "it runs on the package's library: $out" || bad "it runs (LD_LIBRARY_PATH=$root$L)" "$out"
else
  bad "cc use.c with pkg-config" "$out"
fi
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR

# CMake finds the package in the multiarch directory, with the right include dir.
if command -v cmake >/dev/null; then
  mkdir -p "$tmp/cm"
  cp "$tmp/use.c" "$tmp/cm/use.c"
  cp test/fixtures/cmake-use/CMakeLists.txt "$tmp/cm/"
  if out=$(cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$root/usr" 2>&1) &&
    [[ $out == *"include=$root/usr/include library=$root$L/libfaultless.so"* ]]; then
    ok "cmake find_package(faultless) finds $root$L/cmake/faultless"
    if out=$(cmake --build "$tmp/cm/build" 2>&1) && out=$(LD_LIBRARY_PATH=$root$L "$tmp/cm/build/use" 2>&1); then
      [[ $out == *"malloc-is-faultless=1"* ]] && ok "cmake-built program runs" || bad "cmake-built program" "$out"
    else
      bad "cmake --build and run" "$out"
    fi
  else
    bad "cmake find_package(faultless) in the extracted tree" "$out"
  fi
else
  bad "cmake is missing (scripts/setup installs it)"
fi

# faultless run from usr/bin finds the library in usr/lib/<multiarch>/ and
# preloads it: Python's own /proc/self/maps shows it.
fl=$root/usr/bin/faultless
if command -v python3 >/dev/null; then
  out=$("$fl" run -- python3 -c 'import sys; m = [l.split()[-1] for l in open("/proc/self/maps") if "libfaultless" in l]; print(m[0] if m else "none")' 2>&1)
  [ "$out" = "$root$L/libfaultless.so.0" ] && ok "faultless run -- python3: preloads $out" || bad "faultless run -- python3 maps the package's library" "$out"
  out=$("$fl" run --stats -- python3 -c 'print(sum(range(10**5)))' 2>&1)
  [[ $out == *"faultless stats"*"exited with 0"* ]] && ok "faultless run --stats -- python3 prints faultless's statistics" || bad "faultless run --stats -- python3" "$out"
else
  bad "python3 is missing (scripts/setup installs it)"
fi
for a in jemalloc mimalloc; do
  out=$("$fl" run --with $a -- sh -c 'echo "$LD_PRELOAD"' 2>&1)
  [[ $out == *"$root$L/libfaultless-$a.so"* ]] && ok "faultless run --with $a preloads $root$L/libfaultless-$a.so" || bad "faultless run --with $a" "$out"
done
# faultless bench from usr/bin runs its worker from usr/libexec/faultless and
# preloads the library (and an adapter beside it) from usr/lib/<multiarch>.
out=$("$fl" bench --allocators faultless,faultless-preload,mimalloc+faultless --repeat 1 --warmup 0 \
  --chunks 4 --size 64K --format csv 2>&1)
rc=$?
if [ $rc -eq 0 ] && [[ $out != *skipped* ]] && [[ $out == *faultless-preload*mimalloc+faultless* ]]; then
  ok "faultless bench runs usr/libexec/faultless/seed with faultless, faultless-preload, mimalloc+faultless"
else
  bad "faultless bench from the extracted tree (exit $rc)" "$out"
fi
# faultless lambda from usr/bin runs its script from usr/libexec/faultless.
out=$("$fl" lambda deploy --function f --role r --zip /f.zip --dry-run 2>&1)
[[ $out == *"aws lambda get-function --function-name f"* ]] && ok "faultless lambda runs usr/libexec/faultless/lambda" || bad "faultless lambda from the extracted tree" "$out"

# man finds both pages in the tree, and renders them.
if command -v man >/dev/null; then
  export MANPATH=$root/usr/share/man
  p1=$(man -w faultless 2>&1)
  p3=$(man -w 3 faultless 2>&1)
  [ "$p1" = "$root/usr/share/man/man1/faultless.1.gz" ] && ok "man -w faultless: $p1" || bad "man -w faultless" "$p1"
  [ "$p3" = "$root/usr/share/man/man3/faultless.3.gz" ] && ok "man -w 3 faultless: $p3" || bad "man -w 3 faultless" "$p3"
  out=$(MANWIDTH=80 man faultless 2>&1 | head -n 5)
  [[ $out == *"faultless - "* ]] && ok "man faultless renders" || bad "man faultless" "$out"
  out=$(MANWIDTH=80 man 3 faultless 2>&1 | grep -c FAULTLESS_PREFAULT)
  [ "$out" -gt 0 ] && ok "man 3 faultless renders (FAULTLESS_PREFAULT)" || bad "man 3 faultless" "$out"
  unset MANPATH
else
  bad "man is missing (scripts/setup installs man-db)"
fi
finish
