/*
 * The narrow API the control plane drives the daemon through (daemon.h):
 * the status from our own tables, the event log, log reopening, a stop
 * with a report, and a graceful restart of the listener or the manager
 * that starts the replacement first and retires the old one at its READY.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "daemon_int.h"
#include "log.h"
#include "status.h"

/* ---- status ---- */

size_t daemon_status_rows(const struct daemon *d)
{
	return MAX_KIDS + (d->workers.valid ? d->workers.ncur : 0);
}

static size_t status_kids(
    const struct daemon *d, struct status_proc *rows, size_t max, uint64_t now)
{
	size_t n = 0;

	FOREACH_KID (d, k) {
		const struct sv_child *s = &k->e.sv;

		if (s->state == SV_FREE || n == max)
			continue;
		rows[n++] = (struct status_proc){.role = s->role,
		    .pid = (int)s->pid,
		    .state = sv_state_name(s->state),
		    .uptime_ms = s->pid > 0 ? now - s->started_ms : 0,
		    .hb_age_ms = now - s->last_hb_ms,
		    .missed = sv_missed(s, now, d->cfg.heartbeat_interval_ms),
		    .restarts = s->restarts,
		    .backoff_ms = s->state == SV_STOPPED && s->restart_at_ms > now ?
		        (uint32_t)(s->restart_at_ms - now) :
		        0,
		    .last_exit = s->last_exit};
	}
	return n;
}

/* The workers as the manager last reported them, aged by the time since. */
static size_t status_workers(
    const struct daemon *d, struct status_proc *rows, size_t max, uint64_t now)
{
	uint64_t age = d->workers.valid ? now - d->workers.at_ms : 0;
	size_t n = 0;

	for (uint32_t i = 0; d->workers.valid && i < d->workers.ncur && n < max; i++) {
		const struct msg_worker_entry *e = &d->workers.cur[i];

		rows[n++] = (struct status_proc){.role = "worker",
		    .pid = e->pid,
		    .state = sv_state_name((enum sv_state)e->state),
		    .uptime_ms = e->pid > 0 ? e->uptime_ms + age : 0,
		    .hb_age_ms = e->hb_age_ms + age,
		    .missed = e->missed,
		    .restarts = e->restarts,
		    .backoff_ms = e->restart_in_ms,
		    .last_exit = e->last_exit,
		    .is_worker = 1,
		    .connections = e->conns,
		    .busy_ppm = e->busy_ppm,
		    .lag_us = e->lag_us,
		    .requests = e->requests,
		    .bytes = e->bytes};
	}
	return n;
}

/* Totals over the roles now running and those that have exited. */
static void status_totals(const struct daemon *d, struct status_view *v)
{
	const struct kid *l = d->cur[ROLE_LISTENER], *m = d->cur[ROLE_MANAGER];
	struct msg_heartbeat all = d->retired[ROLE_MANAGER];

	FOREACH_KID (d, k)
		if (k->role == ROLE_MANAGER && k->e.sv.state != SV_FREE)
			sv_figures_add(&all, &k->e.sv.figures);
	v->accepted = d->retired[ROLE_LISTENER].accepted;
	FOREACH_KID (d, k)
		if (k->role == ROLE_LISTENER && k->e.sv.state != SV_FREE)
			v->accepted += k->e.sv.figures.accepted;
	v->requests = all.requests;
	v->bytes = all.bytes;
	v->resp_us = all.resp_us;
	memcpy(v->hist, all.resp_hist, sizeof(v->hist));
	v->active = m ? m->e.sv.figures.connections : 0;
	v->workload = v->active;
	v->queue = m ? m->e.sv.figures.queued : 0;
	v->current = m ? m->e.sv.figures.workers : 0;
	/* A new manager before its first table: the old one's workers still serve. */
	if (d->workers.carried && d->workers.ncur > v->current)
		v->current = d->workers.ncur;
	(void)l;
}

void daemon_status(
    const struct daemon *d, struct status_view *v, struct status_proc *rows, size_t max)
{
	uint64_t now = clock_now_ms();
	size_t n;

	memset(v, 0, sizeof(*v));
	v->version = WSD_VERSION;
	v->pid = (int)getpid();
	v->uptime_ms = now - d->started_ms;
	v->listen = d->url;
	v->root = d->cfg.root;
	v->config_file = d->cfg.file;
	v->config_generation = d->generation;
	v->reload_time_ms = d->reload_time_ms;
	v->reload_result = d->reload_time_ms ? d->reload_result : NULL;
	v->reload_message = d->reload_message;
	status_totals(d, v);
	v->cfg_min = d->cfg.pool_min;
	v->cfg_max = d->cfg.pool_max;
	v->eff_min = d->eff_min;
	v->eff_max = d->eff_max;
	v->limit = d->cfg.pool_limit;
	v->max_workload = d->cfg.max_workload;
	n = status_kids(d, rows, max, now);
	n += status_workers(d, rows + n, max - n, now);
	v->procs = rows;
	v->nprocs = n;
	v->events = d->events;
}

struct elog *daemon_events(struct daemon *d) { return d->events; }

int daemon_stopping(const struct daemon *d) { return d->stopping != STOP_NONE || d->draining; }

/* ---- logs ---- */

/* Reopen one log file onto the descriptor we hold and hand it to our children. */
static int reopen_one(struct daemon *d, const char *path, int fd, enum msg_type type)
{
	int nfd;

	if (path[0] == '\0' || fd < 0)
		return 0;
	if ((nfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) == -1) {
		log_warn("reopen %s, keeping the old file", path);
		return 0;
	}
	dup2(nfd, fd);
	close(nfd);
	daemon_send_log(d, type, fd);
	return 1;
}

/*
 * A child started while the access log was off has no FD_ACCESS: a dup2
 * onto that number would replace whatever it opened there since.
 */
void daemon_send_log(struct daemon *d, enum msg_type type, int fd)
{
	FOREACH_KID (d, k)
		if (k->e.sv.pid > 0 && (type == MSG_LOG_ERROR || k->has_access) &&
		    msg_send(k->e.chan, type, NULL, 0, &fd, 1) == -1)
			log_warn("reopened log to %s %d", k->e.sv.role, (int)k->e.sv.pid);
}

void daemon_log_reopen(struct daemon *d, const char *reopened[3])
{
	int n = 0;

	if (reopen_one(d, d->cfg.log_file, d->logfd, MSG_LOG_ERROR))
		reopened[n++] = d->cfg.log_file;
	if (reopen_one(d, d->cfg.access_log, d->accessfd, MSG_LOG_ACCESS))
		reopened[n++] = d->cfg.access_log;
	reopened[n] = NULL;
	log_info("logs reopened");
}

/* ---- stop ---- */

int daemon_stop_by(
    struct daemon *d, const char *why, uint32_t timeout_ms, daemon_stop_fn done, void *arg)
{
	if (d->nstop_waiters == STOP_WAITERS_MAX)
		return -1;
	d->stop_waiters[d->nstop_waiters].done = done;
	d->stop_waiters[d->nstop_waiters].arg = arg;
	d->nstop_waiters++;
	daemon_stop(d, why, timeout_ms);
	return 0;
}

/* ---- restart of the listener or the manager ---- */

static void restart_finish(struct daemon *d, int failed, const char *cause)
{
	struct role_restart *rr = &d->restart;
	struct daemon_restart_report rep = {.role = daemon_role_names[rr->role],
	    .old_pid = (int)rr->old_pid,
	    .new_pid = (int)rr->new_pid,
	    .ms = clock_now_ms() - rr->start_ms,
	    .killed = rr->killed,
	    .failed = failed};
	daemon_restart_fn done = rr->done;
	void *arg = rr->arg;

	snprintf(rep.cause, sizeof(rep.cause), "%s", cause ? cause : "");
	evtimer_del(&rr->ev_timeout);
	elog_add(d->events, failed ? "restart failed" : "restarted", rep.role, rr->new_pid,
	    "replaced %d in %llu ms%s%s%s", rep.old_pid, (unsigned long long)rep.ms,
	    rep.killed ? ", killed" : "", failed ? ": " : "", rep.cause);
	if (!failed)
		daemon_metrics_event(d, "restarted", rep.role, rr->new_pid, "");
	memset(rr, 0, sizeof(*rr));
	done(arg, &rep);
}

/*
 * The timeout: a replacement not ready yet is killed (the old one serves
 * on); an old one still draining is killed, and the restart ends when it
 * has been reaped.
 */
static void restart_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct role_restart *rr = &d->restart;

	if (rr->next != NULL) {
		log_warnx("%s %d not ready in time, killing it; %d serves on",
		    daemon_role_names[rr->role], (int)rr->new_pid, (int)rr->old_pid);
		kill(rr->new_pid, SIGKILL);
		return;
	}
	log_warnx("%s %d still draining at the restart's timeout, killing it",
	    daemon_role_names[rr->role], (int)rr->old_pid);
	rr->killed = 1;
	kill(rr->old_pid, SIGKILL);
}

void restart_ready(struct daemon *d, struct kid *k)
{
	struct role_restart *rr = &d->restart;

	if (rr->done == NULL || k != rr->next)
		return;
	rr->next = NULL;
	daemon_set_current(d, k);
	if (rr->old == NULL) {
		restart_finish(d, 0, NULL); /* the old one died meanwhile */
		return;
	}
	log_info("%s %d ready, retiring %d", daemon_role_names[rr->role], (int)rr->new_pid,
	    (int)rr->old_pid);
	rr->old->e.sv.state = SV_DRAINING;
	if (msg_send(rr->old->e.chan, MSG_RETIRE, NULL, 0, NULL, 0) == -1) {
		log_warn("retire to %s %d", daemon_role_names[rr->role], (int)rr->old_pid);
		kill(rr->old_pid, SIGTERM);
	}
}

int restart_exited(struct daemon *d, struct kid *k, enum svt_after *after)
{
	struct role_restart *rr = &d->restart;
	char cause[160];

	if (rr->done == NULL || (k != rr->next && k != rr->old))
		return 0;
	if (k == rr->next) {
		/*
		 * Never ready. The old one keeps serving - unless it died first and
		 * this one was already the role's: then the role is restarted as
		 * after any loss, never left without a process.
		 */
		int serving = d->cur[rr->role] == k;

		snprintf(cause, sizeof(cause), "the replacement exited before it was ready (%s)%s",
		    k->e.sv.last_exit, serving ? "; the old one had exited too: restarting" : "");
		*after = serving ? SVT_RESTART : SVT_FREE;
		rr->next = NULL;
		restart_finish(d, 1, cause);
		return 1;
	}
	rr->old = NULL;
	if (rr->next != NULL) {
		/* Died before its replacement was ready: that one is on its way. */
		daemon_set_current(d, rr->next);
		*after = SVT_FREE;
		return 1;
	}
	*after = SVT_FINISHED;
	restart_finish(d, 0, NULL);
	return 1;
}

static int role_of(const char *name)
{
	for (int r = 0; r < NROLES; r++)
		if (strcmp(name, daemon_role_names[r]) == 0)
			return r;
	return -1;
}

int daemon_restart_role(struct daemon *d, const char *role, uint32_t timeout_ms,
    daemon_restart_fn done, void *arg, char *err, size_t errlen)
{
	struct role_restart *rr = &d->restart;
	int r = role_of(role);
	struct kid *old, *next;
	struct timeval tv = clock_tv(timeout_ms ? timeout_ms : d->cfg.shutdown_timeout_ms);

	if (r == -1 || rr->done != NULL || d->stopping)
		return snprintf(err, errlen, "%s",
		           r == -1         ? "no such role" :
		               d->stopping ? "the server is stopping" :
		                             "a restart is in progress"),
		       -1;
	old = d->cur[r];
	if (old == NULL || old->e.sv.state != SV_RUNNING)
		return snprintf(err, errlen, "the %s is not running (%s)", role,
		           old ? sv_state_name(old->e.sv.state) : "none"),
		       -1;
	if ((next = kid_new(d, r)) == NULL)
		return snprintf(err, errlen, "no room for a replacement"), -1;
	*rr = (struct role_restart){.old = old,
	    .next = next,
	    .old_pid = old->e.sv.pid,
	    .role = r,
	    .start_ms = clock_now_ms(),
	    .done = done,
	    .arg = arg};
	next->e.sv.restarts = old->e.sv.restarts + 1;
	kid_start(next, d);
	if ((rr->new_pid = next->e.sv.pid) <= 0) {
		svt_free(&next->e);
		memset(rr, 0, sizeof(*rr));
		return snprintf(err, errlen, "could not start a replacement (see the log)"), -1;
	}
	evtimer_assign(&rr->ev_timeout, d->base, restart_timeout_cb, d);
	evtimer_add(&rr->ev_timeout, &tv);
	log_info(
	    "restarting %s %d: replacement %d started", role, (int)rr->old_pid, (int)rr->new_pid);
	return 0;
}
