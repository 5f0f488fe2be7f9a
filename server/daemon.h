/* The daemon role: supervise the listener and the manager. */
#ifndef WSD_DAEMON_H
#define WSD_DAEMON_H

#include "config.h"

/* Run until stopped; returns the process exit code (0, or 3: cannot start). */
int daemon_run(const struct wsd_config *cfg);

#endif
