/*
 * main: the grace-operator command line. Subcommands: (none) runs the
 * manager; `render` prints, offline, the objects a GraceService becomes;
 * `directory` prints the service directory; `schema` the spec's JSON
 * Schema; `version`. See --help.
 */
#include <stdio.h>
#include <string.h>

#include "cmd_directory.h"
#include "cmd_render.h"
#include "gsschema.h"
#include "kerr.h"
#include "manager.h"

#ifndef GRACE_VERSION
#define GRACE_VERSION "dev"
#endif

int main(int argc, char **argv)
{
    kerr_json_alloc_init(); /* before any JSON value exists: out-of-memory aborts */
    if (argc > 1 && strcmp(argv[1], "render") == 0)
        return cmd_render(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "directory") == 0)
        return cmd_directory(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "schema") == 0)
        return cmd_schema(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "version") == 0) {
        printf("grace-operator %s\n", GRACE_VERSION);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "help") == 0) {
        char *help[] = {argv[0], "--help", NULL};
        return manager_main(2, help);
    }
    return manager_main(argc, argv);
}
