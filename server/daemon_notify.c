/*
 * The daemon's side of the service manager's protocol (notify.h): READY
 * at the ready moment, a one-line STATUS refreshed from the heartbeat
 * check, and the watchdog ping from that same check, so the pings stop
 * only when the daemon's own loop stops.
 */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "daemon_int.h"
#include "log.h"
#include "notify.h"

#define STATUS_EVERY_MS 2000 /* at most this often, and only when the line changed */

static uint64_t requests_total(const struct daemon *d)
{
	uint64_t n = d->retired[ROLE_MANAGER].requests;

	FOREACH_KID (d, k)
		if (k->role == ROLE_MANAGER && k->e.sv.state != SV_FREE)
			n += k->e.sv.figures.requests;
	return n;
}

/* "4 workers, 12.5 requests/s, serving http://127.0.0.1:8080/": the rate since the last line. */
static void status_line(struct daemon *d, uint64_t now, char *buf, size_t len)
{
	const struct kid *m = d->cur[ROLE_MANAGER];
	uint64_t req = requests_total(d), ms = now - d->notify_at_ms;
	uint32_t workers = m ? m->e.sv.figures.workers : 0;
	double rate = ms > 0 && req >= d->notify_requests ?
	    (double)(req - d->notify_requests) * 1000.0 / (double)ms :
	    0.0;

	/* The manager said READY with pool.min serving; its first heartbeat may be yet to come. */
	if (workers == 0 && d->ready)
		workers = d->eff_min;
	d->notify_at_ms = now;
	d->notify_requests = req;
	snprintf(buf, len, "%u worker%s, %.1f requests/s, serving %.120s", workers, log_s(workers),
	    rate, d->url);
}

void daemon_notify_init(struct daemon *d)
{
	uint64_t usec;

	d->notify_at_ms = clock_now_ms();
	if (!notify_init(&usec))
		return;
	log_info("watchdog: ping every %llu ms", (unsigned long long)(usec / 2000));
	if (usec / 1000 <= d->cfg.heartbeat_interval_ms)
		log_warnx("WatchdogSec (%llu ms) is not longer than heartbeat.interval (%u ms): "
		          "the pings come too late",
		    (unsigned long long)(usec / 1000), d->cfg.heartbeat_interval_ms);
}

void daemon_notify_ready(struct daemon *d)
{
	char line[200];

	status_line(d, clock_now_ms(), line, sizeof(line));
	snprintf(d->notify_status, sizeof(d->notify_status), "%s", line);
	notify_ready(line);
}

/* The table's checked hook: twice a heartbeat interval, from the daemon's own loop. */
void daemon_notify_checked(uint64_t now, void *arg)
{
	struct daemon *d = arg;
	char line[200];

	notify_watchdog(now);
	if (!d->ready || d->stopping || now - d->notify_at_ms < STATUS_EVERY_MS)
		return;
	status_line(d, now, line, sizeof(line));
	if (strcmp(line, d->notify_status) == 0)
		return;
	snprintf(d->notify_status, sizeof(d->notify_status), "%s", line);
	notify_status(line);
}
