// SPDX-License-Identifier: MIT
// C++ operator new/delete reach faultless through libstdc++'s calls to malloc.
#include "faultless.h"

#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <memory>
#include <string>
#include <vector>

int main() {
  int passed = 0, failed = 0;
  auto check = [&](bool ok, const char *what) {
    if (ok)
      passed++;
    else {
      failed++;
      std::fprintf(stderr, "override_cxx: check failed: %s\n", what);
    }
  };
  auto get = reinterpret_cast<int (*)(fl_stats_t *)>(dlsym(RTLD_DEFAULT, "fl_stats_get"));
  check(get != nullptr, "faultless is loaded");
  if (get) {
    fl_stats_t a{}, b{};
    a.size = b.size = sizeof a;
    get(&a);
    auto *big = new char[8 << 20];
    std::memset(big, 3, 8 << 20);
    get(&b);
    check(b.in_use >= a.in_use + (8u << 20), "new[] is served by faultless");
    delete[] big;
    std::vector<std::string> v;
    for (int i = 0; i < 100000; i++)
      v.push_back(std::to_string(i) + "-faultless");
    std::map<int, std::unique_ptr<int[]>> m;
    for (int i = 0; i < 10000; i++)
      m[i] = std::make_unique<int[]>(i % 100 + 1);
    check(v[99999] == "99999-faultless" && m.size() == 10000, "containers work");
    auto *aligned = new (std::align_val_t(256)) double[10];
    check((reinterpret_cast<uintptr_t>(aligned) & 255) == 0, "aligned new");
    ::operator delete[](aligned, std::align_val_t(256));
    auto heap_check = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "fl_heap_check"));
    check(heap_check && heap_check() == 0, "heap check");
  }
  std::printf("override-cxx: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
