/* Supervision bookkeeping: see supervise.h. */
#include "supervise.h"

#include <stdio.h>
#include <string.h>

#include "proc.h"

static const char *const names[] = {"free", "starting", "running", "draining", "stopped"};

const char *sv_state_name(enum sv_state s)
{
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

void sv_figures_add(struct msg_heartbeat *to, const struct msg_heartbeat *from)
{
	to->accepted += from->accepted;
	to->requests += from->requests;
	to->bytes += from->bytes;
	to->resp_us += from->resp_us;
	for (int i = 0; i < MSG_HIST_BUCKETS; i++)
		to->resp_hist[i] += from->resp_hist[i];
}

void sv_retire_figures(struct sv_child *c, struct msg_heartbeat *into)
{
	sv_figures_add(into, &c->figures);
	memset(&c->figures, 0, sizeof(c->figures));
}

void sv_started(struct sv_child *c, pid_t pid, uint64_t now)
{
	c->pid = pid;
	c->state = SV_STARTING;
	c->started_ms = now;
	c->last_hb_ms = now; /* silence is counted from the start */
	c->hung_ms = 0;
	memset(&c->figures, 0, sizeof(c->figures));
}

void sv_heartbeat(struct sv_child *c, const struct msg_heartbeat *hb, uint64_t now)
{
	c->last_hb_ms = now;
	c->figures = *hb;
}

uint32_t sv_missed(const struct sv_child *c, uint64_t now, uint32_t interval_ms)
{
	return now > c->last_hb_ms ? (uint32_t)((now - c->last_hb_ms) / interval_ms) : 0;
}

int sv_check(struct sv_child *c, uint64_t now, uint32_t interval_ms, uint32_t misses)
{
	if (c->pid <= 0 || c->hung_ms || c->state == SV_FREE || c->state == SV_STOPPED)
		return 0;
	if (now - c->last_hb_ms <= (uint64_t)interval_ms * misses)
		return 0;
	c->hung_ms = (uint32_t)(now - c->last_hb_ms);
	return 1;
}

void sv_forgive(struct sv_child *c, uint64_t ms, uint64_t now)
{
	c->last_hb_ms = c->last_hb_ms + ms > now ? now : c->last_hb_ms + ms;
}

uint32_t sv_exited(struct sv_child *c, int status, uint64_t now)
{
	uint32_t delay;

	if (c->hung_ms)
		snprintf(
		    c->last_exit, sizeof(c->last_exit), "hung: no heartbeat for %u ms", c->hung_ms);
	else
		proc_describe_status(status, c->last_exit, sizeof(c->last_exit));
	if (now - c->started_ms >= SV_STABLE_MS || c->backoff_ms == 0) {
		delay = 0;
		c->backoff_ms = SV_BACKOFF_MIN_MS;
	} else {
		delay = c->backoff_ms;
		c->backoff_ms = c->backoff_ms * 2 > SV_BACKOFF_MAX_MS ? SV_BACKOFF_MAX_MS :
		                                                        c->backoff_ms * 2;
	}
	c->pid = 0;
	c->state = SV_STOPPED;
	c->restart_at_ms = now + delay;
	return delay;
}
