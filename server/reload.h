/*
 * Reload, the pure part: how each changed key is applied, and which keys
 * a reload leaves as they are. The daemon (daemon_reload.c) does the I/O.
 */
#ifndef WSD_RELOAD_H
#define WSD_RELOAD_H

#include "config.h"

enum reload_how {
	RELOAD_LIVE,      /* in the next MSG_CONFIG generation (or the daemon's own) */
	RELOAD_ROOT,      /* the daemon opens the new root and hands it down (MSG_ROOT) */
	RELOAD_LOG,       /* the error log reopened at its new path */
	RELOAD_ACCESS,    /* the access log reopened at its new path */
	RELOAD_BACKLOG,   /* listen(2) again on the socket the daemon holds */
	RELOAD_MANAGER,   /* the manager is replaced gracefully */
	RELOAD_KEEP,      /* needs a restart of wsd: left as it is */
	RELOAD_OVERRIDDEN /* changed in the file, but a flag sets it */
};

struct reload_plan {
	enum reload_how how[CONFIG_MAXKEYS]; /* per change, in the order given */
	int restart_manager;                 /* one of them needs a new manager */
};

/* How one changed key is applied. */
enum reload_how reload_how_of(const struct config_change *ch);

/* How each of n changes is applied (n <= CONFIG_MAXKEYS). */
void reload_plan(const struct config_change *ch, int n, struct reload_plan *p);

/* What the reply says for a change applied as planned ("live", "restarted manager"...). */
const char *reload_how_text(enum reload_how how);

/* Put back into next the keys only a restart of wsd changes (listen, user, control.*,
 * metrics.listen). */
void reload_keep_fixed(struct wsd_config *next, const struct wsd_config *cur);

#endif
