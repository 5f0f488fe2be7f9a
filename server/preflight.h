/* wsd -t: what a start would hit, beyond the configuration itself. */
#ifndef WSD_PREFLIGHT_H
#define WSD_PREFLIGHT_H

#include "config.h"

/*
 * Test-bind the listening address, open the log files as the starting
 * user, search the root as server.user; warn about what a start would not
 * stop at (the port already in use, a user that will not be switched to,
 * keys this version does not use). Prints each finding to stderr as
 * "wsd: WHERE: ..." or "wsd: warning: WHERE: ...". Returns the number of
 * errors (warnings do not count).
 */
int preflight_run(const struct wsd_config *cfg);

#endif
