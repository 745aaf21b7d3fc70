// SPDX-License-Identifier: MIT
/* faultless lambda: deploy, invoke and collect the seed's experiment on AWS
 * Lambda (lambda/README.md). */
#ifndef FL_CLI_LAMBDA_H
#define FL_CLI_LAMBDA_H

int cmd_lambda(int argc, char **argv);

#endif
