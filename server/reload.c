/* Reload, the pure part: see reload.h. */
#include "reload.h"

#include <string.h>

enum reload_how reload_how_of(const struct config_change *ch)
{
	if (ch->apply == CONFIG_RESTART)
		return RELOAD_KEEP;
	if (ch->apply == CONFIG_ROLES)
		return RELOAD_MANAGER; /* pool.limit: the manager sizes its table once */
	if (strcmp(ch->key, "server.root") == 0)
		return RELOAD_ROOT;
	if (strcmp(ch->key, "server.backlog") == 0)
		return RELOAD_BACKLOG;
	if (strcmp(ch->key, "log.file") == 0)
		return RELOAD_LOG;
	/* Switched on or off: the workers' access-log thread and descriptor come with a new
	 * manager. */
	if (strcmp(ch->key, "log.access_log") == 0)
		return strcmp(ch->from, "off") == 0 || strcmp(ch->to, "off") == 0 ? RELOAD_MANAGER :
		                                                                    RELOAD_ACCESS;
	return RELOAD_LIVE;
}

void reload_plan(const struct config_change *ch, int n, struct reload_plan *p)
{
	memset(p, 0, sizeof(*p));
	for (int i = 0; i < n && i < CONFIG_MAXKEYS; i++) {
		p->how[i] = reload_how_of(&ch[i]);
		p->restart_manager |= p->how[i] == RELOAD_MANAGER;
	}
}

const char *reload_how_text(enum reload_how how)
{
	static const char *const text[] = {
	    [RELOAD_LIVE] = "live",
	    [RELOAD_ROOT] = "live: root reopened",
	    [RELOAD_LOG] = "live: log reopened",
	    [RELOAD_ACCESS] = "live: access log reopened",
	    [RELOAD_BACKLOG] = "live: listen backlog set",
	    [RELOAD_MANAGER] = "restarted manager",
	    [RELOAD_KEEP] = "no: needs a restart of wsd",
	    [RELOAD_OVERRIDDEN] = "no: a command-line flag overrides it",
	};

	return text[how];
}

void reload_keep_fixed(struct wsd_config *next, const struct wsd_config *cur)
{
	memcpy(next->listen_host, cur->listen_host, sizeof(next->listen_host));
	next->listen_port = cur->listen_port;
	memcpy(next->user, cur->user, sizeof(next->user));
	memcpy(next->control_socket, cur->control_socket, sizeof(next->control_socket));
	next->control_off = cur->control_off;
	next->control_mode = cur->control_mode;
	memcpy(next->control_group, cur->control_group, sizeof(next->control_group));
	memcpy(next->control_readonly_group, cur->control_readonly_group,
	    sizeof(next->control_readonly_group));
	next->control_gid = cur->control_gid;
	next->control_ro_gid = cur->control_ro_gid;
	next->metrics_on = cur->metrics_on;
	memcpy(next->metrics_host, cur->metrics_host, sizeof(next->metrics_host));
	next->metrics_port = cur->metrics_port;
}
