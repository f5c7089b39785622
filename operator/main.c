/*
 * main: the grace-operator command line. Subcommands: (none) runs the
 * manager; `render` prints the objects for a GraceService offline;
 * `version`. See --help.
 */
#include <stdio.h>
#include <string.h>

#ifndef GRACE_VERSION
#define GRACE_VERSION "dev"
#endif

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("grace-operator %s\n", GRACE_VERSION);
            return 0;
        }
    }
    printf("usage: grace-operator [--help] [--version]\n");
    return 0;
}
