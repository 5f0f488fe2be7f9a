/*
 * wsctl top: a live view of the server in the terminal (ncurses), one
 * status a second, with keys to sort, restart and drain a worker.
 */
#ifndef WSD_TOP_H
#define WSD_TOP_H

#include "ctl.h"

/* Runs until q; needs a terminal (else EXIT_USAGE, said on stderr). */
int top_main(const struct ctl_opts *o);

#endif
