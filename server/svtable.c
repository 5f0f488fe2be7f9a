/* The supervision table: see svtable.h. */
#include "svtable.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

void svt_init(struct svtable *t, struct event_base *base, void *mem, size_t size, uint32_t limit,
    const struct svt_hooks *hooks, void *arg, const struct msg_config *config)
{
	memset(t, 0, sizeof(*t));
	t->base = base;
	t->mem = mem;
	t->size = size;
	t->limit = limit;
	t->hooks = hooks;
	t->arg = arg;
	t->config = config;
}

static void read_cb(evutil_socket_t fd, short what, void *arg) { svt_read(arg); }

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sv_entry *e = arg;

	e->t->hooks->restart(e, e->t->arg);
}

static struct sv_entry *find_free(struct svtable *t)
{
	for (uint32_t i = 0; i < t->limit; i++)
		if (svt_at(t, i)->sv.state == SV_FREE) {
			if (i + 1 > t->end)
				t->end = i + 1;
			return svt_at(t, i);
		}
	return NULL;
}

struct sv_entry *svt_alloc(struct svtable *t, const char *role)
{
	struct sv_entry *e = find_free(t);
	int sp[2];

	if (e == NULL)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) == -1) {
		log_warn("socketpair for a %s", role);
		return NULL;
	}
	memset(&e->sv, 0, sizeof(e->sv));
	e->sv.role = role;
	e->sv.state = SV_STOPPED;
	e->t = t;
	e->chan = sp[0];
	e->peer = sp[1];
	event_assign(&e->ev_read, t->base, e->chan, EV_READ | EV_PERSIST, read_cb, e);
	evtimer_assign(&e->ev_restart, t->base, restart_cb, e);
	event_add(&e->ev_read, NULL);
	t->nfds += 2;
	return e;
}

void svt_free(struct sv_entry *e)
{
	struct svtable *t = e->t;

	if (t->hooks->release)
		t->hooks->release(e, t->arg);
	event_del(&e->ev_read);
	evtimer_del(&e->ev_restart);
	close(e->chan);
	close(e->peer);
	t->nfds -= 2;
	e->sv.state = SV_FREE;
	e->sv.pid = 0;
}

struct sv_entry *svt_by_pid(struct svtable *t, pid_t pid)
{
	SVT_FOREACH (t, e)
		if (e->sv.state != SV_FREE && e->sv.pid == pid)
			return e;
	return NULL;
}

static void event(struct sv_entry *e, pid_t pid, const char *kind, const char *detail)
{
	if (e->t->hooks->event)
		e->t->hooks->event(e, pid, kind, detail, e->t->arg);
}

static void log_started(struct sv_entry *e)
{
	char detail[32] = "";

	if (e->sv.restarts)
		snprintf(detail, sizeof(detail), "restart %u", e->sv.restarts);
	event(e, e->sv.pid, "started", detail);
	if (!e->t->pool)
		log_info("started %s, pid %d", e->sv.role, (int)e->sv.pid);
	else if (e->sv.restarts)
		log_info("started %s %d (restart %u)", e->sv.role, (int)e->sv.pid, e->sv.restarts);
	else
		log_info("started %s %d", e->sv.role, (int)e->sv.pid);
}

int svt_start(struct sv_entry *e)
{
	struct svtable *t = e->t;
	const struct msg_config *mc = t->config;
	pid_t pid = t->hooks->spawn(e, t->arg);

	if (pid == -1)
		return -1;
	sv_started(&e->sv, pid, clock_now_ms());
	if (msg_send(e->chan, MSG_CONFIG, mc, sizeof(*mc), NULL, 0) == -1)
		log_warn("config to %s %d", e->sv.role, (int)pid);
	log_started(e);
	return 0;
}

void svt_schedule(struct sv_entry *e, uint32_t delay_ms)
{
	struct timeval tv = clock_tv(delay_ms);

	evtimer_del(&e->ev_restart);
	evtimer_add(&e->ev_restart, &tv);
}

void svt_stop(struct sv_entry *e)
{
	if (msg_send(e->chan, MSG_SHUTDOWN, NULL, 0, NULL, 0) == -1)
		kill(e->sv.pid, SIGTERM);
	e->sv.state = SV_DRAINING;
}

void svt_send_log(struct svtable *t, int type, int fd)
{
	SVT_FOREACH (t, e)
		if (e->sv.pid > 0 && msg_send(e->chan, type, NULL, 0, &fd, 1) == -1)
			log_warn("reopened log to %s %d", e->sv.role, (int)e->sv.pid);
}

/* ---- the channel ---- */

void svt_unexpected(struct sv_entry *e, struct msg *m)
{
	log_warnx("unexpected %s message from %s %d", msg_type_name(m->hdr.type), e->sv.role,
	    (int)e->sv.pid);
	msg_close_fds(m);
}

static void on_msg(struct sv_entry *e, struct msg *m)
{
	const struct svt_hooks *h = e->t->hooks;

	switch (m->hdr.type) {
	case MSG_HEARTBEAT:
		sv_heartbeat(&e->sv, &m->u.heartbeat, clock_now_ms());
		break;
	case MSG_READY:
		sv_ready(&e->sv, clock_now_ms());
		event(e, e->sv.pid, "ready", "");
		if (h->ready)
			h->ready(e, e->t->arg);
		break;
	case MSG_DRAINING:
		if (e->sv.state != SV_DRAINING) {
			event(e, e->sv.pid, "draining", "told to stop by its pid");
			h->draining(e, e->t->arg);
		}
		break;
	default:
		h->msg(e, m, e->t->arg);
	}
}

#define READ_MSGS 4 /* messages per read (recvmmsg) */

/*
 * All that is queued, READ_MSGS a read; a short read found the channel
 * empty, so we stop without reading once more for EAGAIN.
 */
void svt_read(struct sv_entry *e)
{
	struct msg m[READ_MSGS];
	unsigned bad;
	int rc;

	do {
		bad = 0;
		rc = msg_recv_many(e->chan, m, READ_MSGS, &bad);
		for (int i = 0; i < rc; i++)
			on_msg(e, &m[i]);
		if (bad)
			log_warnx("%u malformed message%s from %s %d, dropped", bad, log_s(bad),
			    e->sv.role, (int)e->sv.pid);
	} while ((rc > 0 ? rc : 0) + (int)bad == READ_MSGS);
	/* EOF cannot happen while we hold the peer end; death comes by SIGCHLD. */
}

/* ---- checking ---- */

/* A verdict of sv_check: say why, and kill (SIGTERM cannot reach a stopped or wedged process). */
static void kill_silent(struct sv_entry *e, enum sv_verdict v)
{
	char detail[80];

	snprintf(detail, sizeof(detail), "%s %u ms: killed",
	    v == SV_DID_NOT_START ? "did not start: no heartbeat after" : "no heartbeat for",
	    e->sv.hung_ms);
	event(e, e->sv.pid, "hung", detail);
	if (v == SV_DID_NOT_START)
		log_warnx("lost child: pid %d %s (did not start: no heartbeat %u ms after the "
		          "fork), killing it",
		    (int)e->sv.pid, e->sv.role, e->sv.hung_ms);
	else
		log_warnx("lost child: pid %d %s (hung: no heartbeat for %u ms), killing it",
		    (int)e->sv.pid, e->sv.role, e->sv.hung_ms);
	if (kill(e->sv.pid, SIGKILL) == -1)
		log_warn("SIGKILL to %s %d", e->sv.role, (int)e->sv.pid);
}

void svt_check(struct svtable *t)
{
	uint32_t interval = t->lim.interval_ms;
	enum sv_verdict v;
	uint64_t now, late;

	/*
	 * This timer runs before channel reads: take the heartbeats already
	 * waiting first, or a supervisor that was itself short of CPU would
	 * blame its children for its own delay.
	 */
	SVT_FOREACH (t, e)
		if (e->sv.state != SV_FREE)
			svt_read(e);
	now = clock_now_ms();
	late = now - t->last_check_ms;
	t->last_check_ms = now;
	if (late > interval)
		log_debug("checked %llu ms late: we were stalled, so were they",
		    (unsigned long long)late);
	SVT_FOREACH (t, e) {
		if (late > interval)
			sv_forgive(&e->sv, late - interval / 2, now);
		if ((v = sv_check(&e->sv, now, &t->lim)) != SV_FINE)
			kill_silent(e, v);
	}
	if (t->hooks->checked)
		t->hooks->checked(now, t->arg);
}

static void check_cb(evutil_socket_t fd, short what, void *arg) { svt_check(arg); }

void svt_watch(struct svtable *t, const struct sv_limits *lim)
{
	/* Twice an interval, so a hang is seen at most half an interval late. */
	struct timeval tv = clock_tv(lim->interval_ms / 2);

	t->lim = *lim;
	event_assign(&t->ev_check, t->base, -1, EV_PERSIST, check_cb, t);
	event_priority_set(&t->ev_check, 0);
	t->last_check_ms = clock_now_ms();
	event_add(&t->ev_check, &tv);
}

void svt_relimit(struct svtable *t, const struct sv_limits *lim)
{
	struct timeval tv = clock_tv(lim->interval_ms / 2);

	t->lim = *lim;
	event_add(&t->ev_check, &tv);
}

/* ---- exits ---- */

static void log_lost(struct sv_entry *e, const struct svt_exit *x)
{
	if (!e->sv.hung_ms) /* a hung one was logged when it was killed */
		log_warnx("lost child: pid %d %s (%s), was %s%s", (int)x->pid, e->sv.role,
		    e->sv.last_exit, sv_state_name(x->was), x->note);
	e->sv.restarts++;
}

/* A restart at once, or after a back-off: a crash loop an operator should see. */
static void event_restart(struct sv_entry *e, pid_t pid, uint32_t delay_ms)
{
	char detail[48];

	snprintf(detail, sizeof(detail), "in %u ms (restart %u)", delay_ms, e->sv.restarts);
	event(e, pid, delay_ms ? "backing off" : "restarting", detail);
}

int svt_reaped(struct svtable *t, pid_t pid, int status)
{
	struct sv_entry *e = svt_by_pid(t, pid);
	struct svt_exit x = {.pid = pid};

	if (e == NULL)
		return 0;
	x.was = e->sv.state;
	svt_read(e); /* its last heartbeat: what it cut at its deadline */
	x.delay_ms = sv_exited(&e->sv, status, clock_now_ms());
	event(e, pid, "exited", e->sv.last_exit);
	switch (t->hooks->exited(e, &x, t->arg)) {
	case SVT_RESTART:
		log_lost(e, &x);
		event_restart(e, pid, x.delay_ms);
		log_info(
		    "restarting %s in %u ms (restart %u)", e->sv.role, x.delay_ms, e->sv.restarts);
		svt_schedule(e, x.delay_ms);
		break;
	case SVT_FREE:
		log_lost(e, &x);
		svt_free(e);
		break;
	case SVT_FINISHED:
		log_info("%s %d finished draining (%s)%s", e->sv.role, (int)pid, e->sv.last_exit,
		    x.note);
		svt_free(e);
		break;
	case SVT_HOLD:
		break;
	}
	return 1;
}

/* ---- the table in the log ---- */

void svt_log_rows(struct svtable *t)
{
	uint64_t now = clock_now_ms();

	log_info("role       pid     state     up(s)  last-hb(ms)  missed  restarts  last-exit");
	SVT_FOREACH (t, e) {
		struct sv_child *s = &e->sv;

		if (s->state == SV_FREE)
			continue;
		log_info("%-9s %6d  %-8s %6llu  %11llu  %6u  %8u  %s", s->role, (int)s->pid,
		    sv_state_name(s->state), (unsigned long long)(now - s->started_ms) / 1000,
		    (unsigned long long)(now - s->last_hb_ms),
		    sv_missed(s, now, t->lim.interval_ms), s->restarts,
		    s->last_exit[0] ? s->last_exit : "-");
	}
}
