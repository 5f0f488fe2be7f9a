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
	c->ready_ms = 0;
	c->last_hb_ms = now; /* silence is counted from the start */
	c->heard = 0;
	c->not_started = 0;
	c->hung_ms = 0;
	memset(&c->figures, 0, sizeof(c->figures));
}

void sv_ready(struct sv_child *c, uint64_t now)
{
	if (c->state == SV_STARTING)
		c->state = SV_RUNNING;
	if (c->ready_ms == 0)
		c->ready_ms = now ? now : 1; /* 0 means "not yet" */
}

void sv_heartbeat(struct sv_child *c, const struct msg_heartbeat *hb, uint64_t now)
{
	c->last_hb_ms = now;
	c->heard = 1;
	c->figures = *hb;
}

uint32_t sv_missed(const struct sv_child *c, uint64_t now, uint32_t interval_ms)
{
	return now > c->last_hb_ms ? (uint32_t)((now - c->last_hb_ms) / interval_ms) : 0;
}

enum sv_verdict sv_check(struct sv_child *c, uint64_t now, const struct sv_limits *lim)
{
	uint64_t silent = now > c->last_hb_ms ? now - c->last_hb_ms : 0;

	if (c->pid <= 0 || c->hung_ms || c->state == SV_FREE || c->state == SV_STOPPED)
		return SV_FINE;
	if (silent <= (c->heard ? (uint64_t)lim->interval_ms * lim->misses : lim->startup_ms))
		return SV_FINE;
	c->hung_ms = (uint32_t)silent;
	c->not_started = !c->heard;
	return c->heard ? SV_HUNG : SV_DID_NOT_START;
}

void sv_forgive(struct sv_child *c, uint64_t ms, uint64_t now)
{
	c->last_hb_ms = c->last_hb_ms + ms > now ? now : c->last_hb_ms + ms;
}

static void describe_exit(struct sv_child *c, int status)
{
	if (c->not_started)
		snprintf(c->last_exit, sizeof(c->last_exit), "did not start in %u ms", c->hung_ms);
	else if (c->hung_ms)
		snprintf(
		    c->last_exit, sizeof(c->last_exit), "hung: no heartbeat for %u ms", c->hung_ms);
	else
		proc_describe_status(status, c->last_exit, sizeof(c->last_exit));
}

uint32_t sv_exited(struct sv_child *c, int status, uint64_t now)
{
	int served = c->ready_ms && now - c->ready_ms >= SV_SERVED_MS;
	uint32_t delay;

	describe_exit(c, status);
	if (served || c->backoff_ms == 0) {
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
