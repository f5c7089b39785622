/*
 * cmd_directory: the `grace-operator directory` subcommand. Reads every
 * GraceService through the kubeconfig and prints the service directory
 * (controllers/directory.h): a table, or with `-o json` the same bytes as
 * the operator's directory ConfigMap (given the same --config).
 *
 *   grace-operator directory [-n NS] [-o table|json] [--config FILE]
 *                            [--kubeconfig FILE] [--context NAME]
 */
#ifndef GRACE_CMD_DIRECTORY_H
#define GRACE_CMD_DIRECTORY_H

/* Run the subcommand; argv[0] is "directory". Returns the exit status: 0
 * success, 1 a failure (message on stderr), 2 a usage error. */
int cmd_directory(int argc, char **argv);

#endif
