// SPDX-License-Identifier: MIT
/* Budget detection against fixture trees of cgroup v1 and v2 files, the
 * Lambda variable and the option, through the internal _fl_budget_detect. */
#include "config.h"
#include "testhelper.h"

#define MiB (1024ull * 1024)

static fl_budget_t detect(const char *fixture, uint64_t option, const char *lambda,
                          long long headroom) {
  char root[512];
  snprintf(root, sizeof root, "%s/%s", FIXTURES, fixture);
  fl_budget_t b;
  _fl_budget_detect(root, option, lambda, headroom, &b);
  return b;
}

TEST(cgroup_v2_nested_limit) {
  /* The leaf says max; its parent's 512M limit applies. */
  fl_budget_t b = detect("cgroup2", 0, NULL, FL_AUTO);
  CHECK(b.source == FL_BUDGET_CGROUP2);
  CHECK(b.limit == 512 * MiB);
  CHECK(b.headroom == 64 * MiB); /* an eighth */
  CHECK(b.budget == 448 * MiB);
  CHECK(!b.in_lambda);
}

TEST(cgroup_v1_limit) {
  fl_budget_t b = detect("cgroup1", 0, NULL, FL_AUTO);
  CHECK(b.source == FL_BUDGET_CGROUP1);
  CHECK(b.limit == 256 * MiB);
  CHECK(b.headroom == 32 * MiB); /* the floor */
  CHECK(b.budget == 224 * MiB);
}

TEST(no_limit_falls_back_to_available) {
  fl_budget_t b = detect("nolimit", 0, NULL, FL_AUTO);
  CHECK(b.source == FL_BUDGET_AVAILABLE);
  CHECK(b.limit == 2048 * MiB);
  CHECK(b.budget == 2048 * MiB - 256 * MiB);
  CHECK(_fl_budget_mem_available(FIXTURES "/nolimit") == 2048 * MiB);
}

TEST(lambda_memory) {
  /* A 2048 MB function inside a host with more memory available. */
  fl_budget_t b = detect("nolimit", 0, "1024", FL_AUTO);
  CHECK(b.in_lambda && b.lambda_bytes == 1024 * MiB);
  CHECK(b.source == FL_BUDGET_LAMBDA && b.limit == 1024 * MiB);
  CHECK(b.budget == 1024 * MiB - 128 * MiB);
  /* The cgroup is smaller than the Lambda memory: the cgroup wins. */
  b = detect("cgroup1", 0, "2048", FL_AUTO);
  CHECK(b.in_lambda && b.source == FL_BUDGET_CGROUP1);
  /* Garbage in the variable is ignored. */
  b = detect("nolimit", 0, "lots", FL_AUTO);
  CHECK(!b.in_lambda && b.source == FL_BUDGET_AVAILABLE);
}

TEST(option_and_headroom) {
  fl_budget_t b = detect("cgroup2", 100 * MiB, NULL, FL_AUTO);
  CHECK(b.source == FL_BUDGET_OPTION && b.budget == 100 * MiB && b.headroom == 0);
  /* An option above the cgroup limit does not lift it. */
  b = detect("cgroup2", 4096 * MiB, NULL, FL_AUTO);
  CHECK(b.source == FL_BUDGET_CGROUP2 && b.limit == 512 * MiB);
  b = detect("cgroup2", 0, NULL, (long long)(16 * MiB));
  CHECK(b.headroom == 16 * MiB && b.budget == 496 * MiB);
}

TEST(missing_tree) {
  fl_budget_t b = detect("does-not-exist", 0, NULL, FL_AUTO);
  CHECK(b.limit == 0 && b.budget == 0);
}

int main(void) {
  RUN(cgroup_v2_nested_limit);
  RUN(cgroup_v1_limit);
  RUN(no_limit_falls_back_to_available);
  RUN(lambda_memory);
  RUN(option_and_headroom);
  RUN(missing_tree);
  return test_report("budget");
}
