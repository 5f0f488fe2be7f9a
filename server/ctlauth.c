/* The control socket's permission decisions: identity in, access out. */
#include "ctlauth.h"

static int member(const struct ctl_peer *peer, gid_t g)
{
	if (g == CTLAUTH_NOGROUP)
		return 0;
	if (peer->gid == g)
		return 1;
	for (size_t i = 0; i < peer->ngroups; i++) {
		if (peer->groups[i] == g)
			return 1;
	}
	return 0;
}

enum ctl_access ctlauth_access(const struct ctl_peer *peer, const struct ctl_policy *pol)
{
	if (peer->uid == 0 || peer->uid == pol->self_uid || member(peer, pol->group))
		return CTL_ACCESS_ALL;
	if (member(peer, pol->readonly_group))
		return CTL_ACCESS_READONLY;
	return CTL_ACCESS_NONE;
}

int ctlauth_allows(enum ctl_access access, const struct cmd *c)
{
	return access == CTL_ACCESS_ALL ||
	    (access == CTL_ACCESS_READONLY && (c->flags & CMD_READONLY));
}

const char *ctlauth_name(enum ctl_access access)
{
	return access == CTL_ACCESS_ALL   ? "all" :
	    access == CTL_ACCESS_READONLY ? "read-only" :
	                                    "none";
}
