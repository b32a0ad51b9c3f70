/*
 * main.c - the entry point of build/clustershm (and of `make install`'s
 * bin/clustershm).  Everything else is in cshm_cli_main() (dispatch.c), so
 * that the Python module can run the same code as its console script.
 */
#include "cli.h"

int main(int argc, char **argv)
{
    return cshm_cli_main(argc, argv);
}
