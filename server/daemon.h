/* The daemon role: supervise the listener and the manager. */
#ifndef WSD_DAEMON_H
#define WSD_DAEMON_H

#include "config.h"

/*
 * What -t checks beyond the configuration itself, as the start would:
 * the user exists, the log files can be opened. 0, or 1 with a message.
 */
int daemon_check(const struct wsd_config *cfg);

/* Run until stopped; returns the process exit code (0, or 3: cannot start). */
int daemon_run(const struct wsd_config *cfg);

#endif
