/*
 * The daemon's side of metrics and health: the view metrics.c turns into
 * text (the same totals wsctl status shows, so counters never go back
 * when a role is replaced), the restart counters fed from the supervision
 * events, what /readyz answers, and the endpoint itself (metricsd.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_int.h"
#include "log.h"
#include "metricsd.h"
#include "status.h"

void daemon_metrics_event(
    struct daemon *d, const char *kind, const char *role, pid_t pid, const char *detail)
{
	metrics_note_event(&d->restarts, kind, role, (int32_t)pid, detail);
}

/* Connections the listeners hold parked now (a draining one's too). */
static uint64_t parked(const struct daemon *d)
{
	uint64_t n = 0;

	FOREACH_KID (d, k)
		if (k->role == ROLE_LISTENER && k->e.sv.pid > 0)
			n += k->e.sv.figures.held;
	return n;
}

static int running(const struct kid *k) { return k != NULL && k->e.sv.state == SV_RUNNING; }

/*
 * A worker can take a new connection: one running, or one starting for the
 * first time (a graceful replacement, a new slot). A restart after a crash
 * or a start that hung does not count until it runs: a crash loop spends
 * most of its time starting. While a manager's table is not in yet, or the
 * old manager's is carried through its restart, there is nothing to judge.
 */
static int workers_serving(const struct daemon *d)
{
	const struct wtable *t = &d->workers;

	if (!t->valid || t->carried)
		return 1;
	for (uint32_t i = 0; i < t->ncur; i++) {
		const struct msg_worker_entry *e = &t->cur[i];

		if (e->state == SV_RUNNING || (e->state == SV_STARTING && e->restarts == 0))
			return 1;
	}
	return 0;
}

int daemon_ready(const struct daemon *d, char *why, size_t len)
{
	const char *r = d->stopping         ? "stopping" :
	    d->draining                     ? "draining for a stop (server.drain_delay)" :
	    !d->ready                       ? "starting" :
	    !running(d->cur[ROLE_LISTENER]) ? "the listener is not running" :
	    !running(d->cur[ROLE_MANAGER])  ? "the manager is not running" :
	    !workers_serving(d)             ? "no worker is running (all are restarting)" :
	                                      NULL;

	if (r == NULL)
		return 1;
	snprintf(why, len, "%s", r);
	return 0;
}

char *daemon_metrics(struct daemon *d, size_t *len)
{
	size_t max = daemon_status_rows(d);
	struct status_proc *rows = calloc(max, sizeof(*rows));
	struct status_view st;
	struct metrics_view v;
	char why[80];
	char *text;

	if (rows == NULL)
		return NULL;
	daemon_status(d, &st, rows, max);
	v = (struct metrics_view){.st = &st,
	    .start_time_ms = d->started_wall_ms,
	    .parked = parked(d),
	    .ready = daemon_ready(d, why, sizeof(why)),
	    .metrics_refused = metricsd_refused(d->metrics),
	    .restarts = &d->restarts};
	text = metrics_text(&v, len);
	free(rows);
	return text;
}

static char *hook_text(void *arg, size_t *len) { return daemon_metrics(arg, len); }

static int hook_ready(void *arg, char *why, size_t len) { return daemon_ready(arg, why, len); }

static const struct metricsd_hooks hooks = {.text = hook_text, .ready = hook_ready};

/* [metrics] listen, when on: bound now, as root, like the server's port. 0, or 3: cannot start. */
int daemon_metrics_open(struct daemon *d)
{
	char err[400];

	metrics_restarts_init(&d->restarts);
	if (!d->cfg.metrics_on)
		return 0;
	d->metrics = metricsd_open(d->base, d->cfg.metrics_host, d->cfg.metrics_port,
	    &d->cfg.header_timeout_ms, &hooks, d, err, sizeof(err));
	if (d->metrics == NULL) {
		log_error("metrics.listen: %s, exiting", err);
		return 3;
	}
	log_info("metrics at http://%s/metrics", metricsd_address(d->metrics));
	return 0;
}
