#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The library's layers (src/README.md), checked:
#   - every file of src/ belongs to a layer;
#   - a file includes only its own layer's header and those below (the
#     adapters: only the page interface, pages.h, and their own header);
#   - only the API layer defines public fl_* functions (the adapters define
#     their own, declared in adapters/faultless-adapters.h);
#   - no internal name is declared in two headers;
#   - with OBJDIR (the objects of src/): no file uses a symbol that a file of
#     a higher layer defines (lower layers never call up).
# Then it runs itself on a copy of src/ with a violation of each kind put in,
# and must fail there. Usage: test/layers.sh [SRCDIR [OBJDIR]]
set -u
src=${1:-src}
obj=${2:-}
names=(OS config arena spans heap API adapters)

# The layer of a file or header, by its path under src/ (empty: none).
layer_of() {
  case "$1" in
    prim/prim.h | prim/glibc.h | prim/linux.c | internal.h | assert.c) echo 0 ;;
    parse.h | config.h | parse.c | options.c | stats.c | budget.c) echo 1 ;;
    arena.h | arena.c | populate.c | huge.c | warm.c | maps.c | mapknown.c) echo 2 ;;
    span.h | spanfree.h | span.c | spanrelease.c | outside.c | snapshot.c) echo 3 ;;
    heap.h | heap.c | heapcache.c) echo 4 ;;
    api.h | pages.h | alloc.c | control.c | init.c | override.c | mapcalls.c | system.c) echo 5 ;;
    adapters/*.c | adapters/*.h) echo 6 ;;
  esac
}

# check SRCDIR [OBJDIR]: print ok/FAIL lines; the number of FAILs is the status.
check() {
  local dir=$1 objdir=${2:-} fails=0 f rel layer inc il bad
  while IFS= read -r f; do
    rel=${f#"$dir"/}
    layer=$(layer_of "$rel")
    if [ -z "$layer" ]; then
      echo "FAIL $rel belongs to no layer (add it to test/layers.sh and src/README.md)"
      fails=$((fails + 1))
      continue
    fi
    bad=0
    while IFS= read -r inc; do
      [ "$inc" = faultless.h ] && continue
      if [ "$layer" = 6 ]; then
        case "$inc" in pages.h | adapters/faultless-adapters.h) continue ;; esac
        echo "FAIL $rel (adapters) includes $inc: the adapters see only pages.h"
        bad=1
        continue
      fi
      il=$(layer_of "$inc")
      if [ -z "$il" ] || [ "$il" -gt "$layer" ]; then
        echo "FAIL $rel (${names[$layer]}) includes $inc (${names[${il:-6}]}), a higher layer"
        bad=1
      fi
    done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/p' "$f")
    if [ "$layer" -lt 5 ]; then
      while IFS= read -r def; do
        echo "FAIL $rel (${names[$layer]}) defines public $def: only the API layer does"
        bad=1
      done < <(grep -E '^[A-Za-z_][^;=]*[^A-Za-z0-9_]fl_[a-z0-9_]+\(' "$f" | grep -vE ';[[:space:]]*$' |
        grep -oE '[^A-Za-z0-9_]fl_[a-z0-9_]+\(' | cut -c2- | tr -d '(')
    fi
    if [ $bad = 0 ]; then
      echo "ok   $rel (${names[$layer]}): includes and definitions keep to its layer"
    else
      fails=$((fails + 1))
    fi
  done < <(find "$dir" -name '*.[ch]' | sort)
  local dups
  dups=$(cat "$dir"/*.h "$dir"/*/*.h 2>/dev/null | grep -E '^FL_INTERNAL' |
    grep -oE '_fl_[a-z0-9_]+[[:space:]]*(\(|\[|;)' | grep -oE '_fl_[a-z0-9_]+' | sort | uniq -d)
  if [ -n "$dups" ]; then
    echo "FAIL declared in more than one place: $(echo $dups)"
    fails=$((fails + 1))
  else
    echo "ok   every internal name is declared once"
  fi
  if [ -n "$objdir" ]; then
    check_symbols "$objdir" || fails=$((fails + 1))
  fi
  return $fails
}

# No object uses a symbol defined by an object of a higher layer.
check_symbols() {
  local objdir=$1 o rel sym def up=0
  declare -A owner=()
  while read -r o; do
    rel=${o#"$objdir"/}
    rel=${rel%.o}.c
    for sym in $(nm --defined-only "$o" | awk '$2 ~ /[TDBR]/ {print $3}'); do owner[$sym]=$rel; done
  done < <(find "$objdir" -name '*.o' ! -path '*/adapters/*' | sort)
  while read -r o; do
    rel=${o#"$objdir"/}
    rel=${rel%.o}.c
    for sym in $(nm --undefined-only "$o" | awk '{print $2}'); do
      def=${owner[$sym]:-}
      [ -z "$def" ] && continue
      if [ "$(layer_of "$def")" -gt "$(layer_of "$rel")" ]; then
        echo "FAIL $rel (${names[$(layer_of "$rel")]}) uses $sym from $def (${names[$(layer_of "$def")]})"
        up=$((up + 1))
      fi
    done
  done < <(find "$objdir" -name '*.o' ! -path '*/adapters/*' | sort)
  [ $up = 0 ] && echo "ok   no object of $objdir calls up into a higher layer"
  return $((up > 0))
}

out=$(check "$src" "$obj")
fails=$?
printf '%s\n' "$out"
passed=$(printf '%s\n' "$out" | grep -c '^ok ')

# The check must be able to fail: a copy of src/ with one violation of each
# kind.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src" "$tmp/src"
printf '#include "heap.h"\n' >>"$tmp/src/warm.c"
printf 'int fl_wrong_place(void) {\n  return 0;\n}\n' >>"$tmp/src/span.c"
printf '#include "internal.h"\n' >"$tmp/src/stray.c"
printf '#include "span.h"\n' >>"$tmp/src/adapters/mimalloc.c"
printf 'FL_INTERNAL void _fl_budget_refresh(void);\n' >>"$tmp/src/heap.h"
# An arena object that calls into the heap layer.
mkdir -p "$tmp/obj"
echo 'void _fl_planted_up(void) {}' | ${CC:-cc} -x c -c - -o "$tmp/obj/heap.o"
echo 'void _fl_planted_up(void); void _fl_planted(void) { _fl_planted_up(); }' |
  ${CC:-cc} -x c -c - -o "$tmp/obj/arena.o"
out=$(check "$tmp/src" "$tmp/obj")
for want in 'warm.c (arena) includes heap.h' 'defines public fl_wrong_place' 'stray.c belongs to no layer' \
  'adapters/mimalloc.c (adapters) includes span.h' 'more than one place: _fl_budget_refresh' \
  'arena.c (arena) uses _fl_planted_up from heap.c'; do
  if printf '%s\n' "$out" | grep -F "FAIL" | grep -qF "$want"; then
    echo "ok   the check fails on a planted violation: $want"
    passed=$((passed + 1))
  else
    echo "FAIL the check missed a planted violation: $want"
    fails=$((fails + 1))
  fi
done
echo "layers: $passed passed, $fails failed"
[ $fails -eq 0 ]
