/*
 * Who may do what on the control socket: a pure decision from the peer's
 * kernel-given identity (SO_PEERCRED, SO_PEERGROUPS) and the settings. No
 * I/O and no NSS lookups: the daemon resolves group names at start-up.
 */
#ifndef WSD_CTLAUTH_H
#define WSD_CTLAUTH_H

#include <stddef.h>
#include <sys/types.h>

#include "cmd.h"

#define CTLAUTH_NOGROUP ((gid_t)-1)

enum ctl_access {
	CTL_ACCESS_NONE,     /* refused: every method answers "permission denied" */
	CTL_ACCESS_READONLY, /* read-only methods only */
	CTL_ACCESS_ALL
};

struct ctl_peer {
	uid_t uid;
	gid_t gid; /* primary group */
	pid_t pid;
	const gid_t *groups; /* supplementary groups (SO_PEERGROUPS) */
	size_t ngroups;
};

struct ctl_policy {
	uid_t self_uid;       /* the daemon's own uid */
	gid_t group;          /* control.group: everything; CTLAUTH_NOGROUP = none */
	gid_t readonly_group; /* control.readonly_group: read-only; CTLAUTH_NOGROUP = none */
};

/*
 * Root, the daemon's own uid and members of group (primary or
 * supplementary): ALL; members of readonly_group: READONLY; anyone else:
 * NONE.
 */
enum ctl_access ctlauth_access(const struct ctl_peer *peer, const struct ctl_policy *pol);

/* 1 when access allows running c. */
int ctlauth_allows(enum ctl_access access, const struct cmd *c);

/* "all", "read-only", "none". */
const char *ctlauth_name(enum ctl_access access);

#endif
