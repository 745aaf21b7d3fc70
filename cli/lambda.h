// SPDX-License-Identifier: MIT
/* faultless lambda: deploy, invoke and collect the seed's experiment on AWS
 * Lambda (lambda/README.md). lambda.c drives the AWS CLI; lambda_collect.c
 * merges what it recorded. */
#ifndef FL_CLI_LAMBDA_H
#define FL_CLI_LAMBDA_H

#include <stdio.h>

int cmd_lambda(int argc, char **argv);

void lambda_usage(FILE *out);
#define lambda_bad_usage(...) usage_error("faultless lambda", lambda_usage, __VA_ARGS__)
int lambda_collect(int argc, char **argv);

#endif
