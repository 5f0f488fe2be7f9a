/*
 * wsctl's shell: with standard input and output both terminals, a
 * readline prompt on one connection (completion, history in
 * ~/.wsctl_history, reconnecting when wsd comes back); otherwise commands
 * from standard input, one a line, without a prompt.
 */
#ifndef WSD_SHELL_H
#define WSD_SHELL_H

#include "ctl.h"

/* Exit code: 0, or 1 when any command failed (reading standard input); 0 at quit. */
int shell_main(const struct ctl_opts *o);

/*
 * Split line into words in place: blanks separate, '...' and "..." quote.
 * Returns the count (at most max), or -1 on an unbalanced quote or too many.
 */
int shell_split(char *line, char **words, int max);

#endif
