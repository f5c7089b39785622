/*
 * manager: the operator daemon (`grace-operator` with no subcommand).
 * Parses the flags, loads the configuration, connects to the API server,
 * starts the informers, the HTTP server (health, metrics, webhook), leader
 * election and N reconcile workers, and shuts all of it down on SIGTERM or
 * SIGINT (stop intake, finish running reconciles, release the Lease, exit 0).
 */
#ifndef GRACE_MANAGER_H
#define GRACE_MANAGER_H

/* Run the manager; returns the process exit code. */
int manager_main(int argc, char **argv);

/* Print the manager's --help text to `f`. */
void manager_usage(void *f);

#endif
