/*
 * The manager: runs the worker pool between pool.min and pool.max, takes
 * connections from the listener channel into a wait queue, and gives each
 * to the running worker with the fewest connections. A worker that holds
 * max_workload gets no more until one of its connections ends. It watches
 * its workers' heartbeats and replaces those that die or hang.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "clock.h"
#include "heartbeat.h"
#include "jsonrpc.h"
#include "log.h"
#include "msg.h"
#include "pool.h"
#include "proc.h"
#include "roles.h"
#include "supervise.h"
#include "svtable.h"
#include "wtable.h"

#include "manager_int.h"

/* ---- the pool ---- */

/* Workers that count towards the pool: all but the free and the draining. */
uint32_t pool_size(struct manager *m)
{
	uint32_t n = 0;

	FOREACH_SLOT (m, s)
		n += s->e.sv.state != SV_FREE && s->e.sv.state != SV_DRAINING;
	return n;
}

static uint32_t pool_count(struct manager *m, enum sv_state st)
{
	uint32_t n = 0;

	FOREACH_SLOT (m, s)
		n += s->e.sv.state == st;
	return n;
}

static void slot_write_cb(evutil_socket_t fd, short what, void *arg);

static pid_t slot_spawn(struct sv_entry *e, void *arg)
{
	struct manager *m = arg;
	struct slot *s = (struct slot *)e;
	struct proc_fdmap map[] = {
	    {FD_LOG, FD_LOG},
	    {m->cfg.has_access_log ? FD_ACCESS : -1, FD_ACCESS},
	    {e->peer, FD_PARENT},
	    {FD_WORKER_LINK, FD_TO_LISTENER},
	    {FD_ROOT, FD_ROOT},
	};
	pid_t pid = proc_spawn("worker", map, 5, NULL);

	if (pid == -1)
		return -1;
	s->conns = 0;
	s->cfg_gen = m->cfg.generation; /* the table sends it m->cfg; the root is inherited */
	s->root_gen = m->root_gen;
	s->blocked = 0;
	return pid;
}

struct slot *slot_new(struct manager *m)
{
	struct slot *s = (struct slot *)svt_alloc(&m->tab, "worker");

	if (s == NULL)
		return NULL;
	s->m = m;
	event_assign(&s->ev_write, m->base, s->e.chan, EV_WRITE, slot_write_cb, s);
	evtimer_assign(&s->ev_retry, m->base, slot_write_cb, s);
	if (svt_start(&s->e) == -1) {
		svt_free(&s->e);
		return NULL;
	}
	return s;
}

/* The table frees the entry and its channel; these are ours. */
static void slot_release(struct sv_entry *e, void *arg)
{
	struct slot *s = (struct slot *)e;

	event_del(&s->ev_write);
	evtimer_del(&s->ev_retry);
}

/* Keep pool.min workers. */
void pool_fill(struct manager *m)
{
	while (!m->draining && pool_size(m) < m->cfg.pool_min)
		if (slot_new(m) == NULL)
			break;
}

static void slot_ready(struct sv_entry *e, void *arg)
{
	struct manager *m = arg;

	if (!m->ready_sent && pool_count(m, SV_RUNNING) >= m->cfg.pool_min) {
		m->ready_sent = 1;
		if (msg_send(FD_PARENT, MSG_READY, NULL, 0, NULL, 0) == -1)
			log_warn("ready to daemon");
		log_info("pool ready: %u worker%s", m->cfg.pool_min, log_s(m->cfg.pool_min));
	}
	op_ready(m, (struct slot *)e);
	dispatch(m);
}

/*
 * Retire a worker while the server goes on - scale down, the pool
 * shrinking, restarts, drain, a manager replaced: MSG_RETIRE, after which
 * no connection follows; the worker answers what it serves with keep-alive
 * on, parks each connection in the listener and exits (docs/architecture.md,
 * "Parking"). SIGTERM when the channel cannot take it: the worker retires
 * on that too. A full stop of wsd uses svt_stop (MSG_SHUTDOWN) instead.
 */
void slot_retire(struct slot *s)
{
	if (msg_send(s->e.chan, MSG_RETIRE, NULL, 0, NULL, 0) == -1)
		kill(s->e.sv.pid, SIGTERM);
	s->e.sv.state = SV_DRAINING;
}

/* A worker told to stop by its pid: it retires, and the pool is refilled now. */
static void slot_draining(struct sv_entry *e, void *arg)
{
	e->sv.state = SV_DRAINING;
	log_info("worker %d draining, refilling the pool", (int)e->sv.pid);
	/* Tells the worker nothing more comes after what is already queued. */
	if (msg_send(e->chan, MSG_RETIRE, NULL, 0, NULL, 0) == -1)
		log_warn("retire to worker %d", (int)e->sv.pid);
	pool_fill(arg);
}

static void slot_msg(struct sv_entry *e, struct msg *msg, void *arg)
{
	struct slot *s = (struct slot *)e;
	struct manager *m = arg;

	if (msg->hdr.type != MSG_CONN_DONE) {
		svt_unexpected(e, msg);
		return;
	}
	s->conns -= msg->u.done.count < s->conns ? msg->u.done.count : s->conns;
	/* Room for what waits, here or in the listener channel - while we do not take from
	 * there (no worker had room), the first report of room must restart it. */
	if (s->conns == 0 || !m->listening || m->qlen > 0)
		dispatch(m);
}

static void slot_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;

	s->blocked = 0;
	dispatch(s->m);
}

static void slot_restart(struct sv_entry *e, void *arg)
{
	struct manager *m = arg;

	if (m->draining || svt_start(e) == -1)
		svt_free(e);
	pool_fill(m);
}

/* ---- watching the workers ---- */

/*
 * Take back what the dead worker never read from its channel: the
 * connections go to the head of the wait queue, for the other workers.
 */
static void slot_reclaim(struct manager *m, struct slot *s, pid_t pid)
{
	struct msg msg;
	unsigned n = 0, bad = 0;

	while (msg_recv_skip(s->e.peer, &msg, &bad) == 1) {
		if (msg.hdr.type == MSG_CONN || msg.hdr.type == MSG_CONNS)
			n += (unsigned)queue_msg(m, &msg, 1);
		else
			msg_close_fds(&msg);
	}
	if (n)
		log_info("took back %u connection%s queued to worker %d", n, log_s(n), (int)pid);
	if (bad)
		log_warnx("%u malformed message%s in worker %d's channel, dropped", bad, log_s(bad),
		    (int)pid);
}

/*
 * A worker was reaped (its last heartbeat read): a draining one is done;
 * else it is restarted on the same channel - connections already queued
 * to it reach the replacement - unless we drain.
 */
static enum svt_after worker_exited(struct sv_entry *e, struct svt_exit *x, void *arg)
{
	struct manager *m = arg;
	struct slot *s = (struct slot *)e;

	enum svt_after after;

	slot_reclaim(m, s, x->pid);
	m->cut += e->sv.figures.cut;
	sv_retire_figures(&e->sv, &m->retired);
	if (op_exited(m, s, x, &after))
		return after;
	if (x->was == SV_DRAINING)
		return SVT_FINISHED;
	snprintf(x->note, sizeof(x->note), " with %u connection%s", s->conns, log_s(s->conns));
	s->conns = 0;
	return m->draining ? SVT_FREE : SVT_RESTART;
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct manager *m = arg;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		svt_reaped(&m->tab, pid, status);
	pool_fill(m);
	dispatch(m);
}

/* One worker's row for the daemon's table. */
static void table_entry(
    const struct slot *s, uint64_t now, uint32_t interval_ms, struct msg_worker_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->pid = (int32_t)s->e.sv.pid;
	e->state = (uint32_t)s->e.sv.state;
	e->restarts = s->e.sv.restarts;
	e->missed = sv_missed(&s->e.sv, now, interval_ms);
	if (s->e.sv.state == SV_STOPPED && s->e.sv.restart_at_ms > now)
		e->restart_in_ms = (uint32_t)(s->e.sv.restart_at_ms - now);
	e->conns = s->conns;
	e->busy_ppm = s->e.sv.figures.busy_ppm;
	e->lag_us = s->e.sv.figures.lag_us;
	e->uptime_ms = s->e.sv.pid > 0 ? now - s->e.sv.started_ms : 0;
	e->hb_age_ms = now - s->e.sv.last_hb_ms;
	e->requests = s->e.sv.figures.requests;
	e->bytes = s->e.sv.figures.bytes;
	memcpy(e->last_exit, s->e.sv.last_exit, sizeof(e->last_exit));
}

/*
 * Every heartbeat interval: the pool as pages of one generation. A full
 * channel drops the rest of this generation; the daemon keeps the last
 * complete one and the next interval sends a new one.
 */
/*
 * After a reload: the newest configuration and root to every worker that
 * has not got them yet. A full channel (the worker is busy) is tried again
 * at the next call (each heartbeat interval).
 */
static void workers_catch_up(struct manager *m)
{
	int fd = FD_ROOT;

	FOREACH_SLOT (m, s) {
		if (s->e.sv.pid <= 0)
			continue;
		if (s->cfg_gen != m->cfg.generation &&
		    msg_send(s->e.chan, MSG_CONFIG, &m->cfg, sizeof(m->cfg), NULL, 0) == 0)
			s->cfg_gen = m->cfg.generation;
		if (s->root_gen != m->root_gen &&
		    msg_send(s->e.chan, MSG_ROOT, NULL, 0, &fd, 1) == 0)
			s->root_gen = m->root_gen;
	}
}

static void table_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;
	uint64_t now = clock_now_ms();
	uint32_t total = 0;
	struct msg_worker_page p;

	workers_catch_up(m);

	FOREACH_SLOT (m, s)
		total += s->e.sv.state != SV_FREE;
	memset(&p, 0, sizeof(p));
	p.generation = ++m->table_gen;
	p.pages = (uint16_t)wtable_pages(total);
	FOREACH_SLOT (m, s) {
		if (s->e.sv.state == SV_FREE)
			continue;
		table_entry(s, now, m->cfg.heartbeat_interval_ms, &p.entries[p.n++]);
		if (p.n < MSG_WORKER_PAGE_N || p.page + 1 == p.pages)
			continue;
		if (msg_send(FD_PARENT, MSG_WORKER_TABLE, &p, sizeof(p), NULL, 0) == -1)
			return;
		p.page++;
		p.n = 0;
	}
	msg_send(FD_PARENT, MSG_WORKER_TABLE, &p, sizeof(p), NULL, 0); /* the last page */
}

static void heartbeat_fill(void *arg, struct msg_heartbeat *hb)
{
	struct manager *m = arg;

	/* Totals never go backwards: workers that exited still count. */
	sv_figures_add(hb, &m->retired);
	hb->workers = pool_size(m);
	hb->queued = m->qlen + channel_queued(FD_FROM_LISTENER); /* all that waits */
	hb->cut = m->cut;
	FOREACH_SLOT (m, s) {
		if (s->e.sv.state == SV_FREE)
			continue;
		hb->connections += s->conns;
		sv_figures_add(hb, &s->e.sv.figures);
	}
}

/* ---- the daemon channel ---- */

/* A reopened log: to every worker first, then ours (new workers inherit it). */
static void manager_reopen(struct manager *m, int type, int fd)
{
	svt_send_log(&m->tab, type, fd);
	proc_adopt_log(type, fd);
}

/* Descriptors open now: counted once, at configuration; from then on we keep count. */
static uint32_t fds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint32_t n = 0;

	if (d == NULL) {
		log_warn("/proc/self/fd, assuming 32 descriptors open");
		return 32;
	}
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/*
 * A worker holds a socket and, while it sends, a file per connection: keep
 * max_workload within the descriptor limit (the workers' is ours).
 */
static void workload_clamp(struct manager *m)
{
	long most = (msg_fd_limit() - MSG_FD_RESERVE) / 2;

	if (most < 1)
		most = 1;
	if (m->cfg.max_workload <= most)
		return;
	log_warnx("pool.max_workload %u lowered to %ld: the descriptor limit is %ld",
	    m->cfg.max_workload, most, msg_fd_limit());
	m->cfg.max_workload = (uint32_t)most;
}

/*
 * A worker's event, for the daemon's event log. A full channel loses it
 * (the daemon is not reading): events are for people, never for control.
 */
void manager_event(pid_t pid, const char *role, const char *kind, const char *detail)
{
	struct msg_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.pid = (int32_t)pid;
	snprintf(ev.role, sizeof(ev.role), "%s", role);
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	snprintf(ev.detail, sizeof(ev.detail), "%.*s", (int)sizeof(ev.detail) - 1, detail);
	if (msg_send(FD_PARENT, MSG_EVENT, &ev, sizeof(ev), NULL, 0) == -1 && errno != EAGAIN)
		log_debug(
		    "event %s of %s %d to the daemon: %s", kind, role, (int)pid, strerror(errno));
}

static void slot_event(
    struct sv_entry *e, pid_t pid, const char *kind, const char *detail, void *arg)
{
	manager_event(pid, e->sv.role, kind, detail);
}

static const struct svt_hooks slot_hooks = {
    .event = slot_event,
    .spawn = slot_spawn,
    .restart = slot_restart,
    .ready = slot_ready,
    .draining = slot_draining,
    .msg = slot_msg,
    .exited = worker_exited,
    .release = slot_release,
};

/*
 * A newer generation (a reload): the pool bounds, workload, timeouts, log
 * level and heartbeat settings change live; the timers take the new
 * periods; the workers get it too (new ones get it at start). pool.limit
 * and the access log stay: the daemon replaces us when they change.
 */
static void manager_reconfigure(struct manager *m, const struct msg_config *cfg)
{
	struct sv_limits lim = {
	    cfg->heartbeat_interval_ms, cfg->heartbeat_misses, cfg->startup_timeout_ms};
	struct timeval tv = clock_tv(cfg->heartbeat_interval_ms);
	uint32_t limit = m->cfg.pool_limit, has_access_log = m->cfg.has_access_log;

	if (cfg->generation <= m->cfg.generation)
		return; /* a replacement may find its predecessor's copy queued too */
	log_info("configuration generation %u: pool %u..%u", cfg->generation, cfg->pool_min,
	    cfg->pool_max);
	m->cfg = *cfg;
	m->cfg.pool_limit = limit;
	m->cfg.has_access_log = has_access_log;
	m->cfg.pool_min = cfg->pool_min < limit ? cfg->pool_min : limit;
	m->cfg.pool_max = cfg->pool_max < limit ? cfg->pool_max : limit;
	workload_clamp(m);
	log_setlevel((enum log_level)cfg->log_level);
	svt_relimit(&m->tab, &lim);
	heartbeat_interval(&m->hb, cfg->heartbeat_interval_ms);
	event_add(&m->ev_table, &tv);
	workers_catch_up(m);
	pool_fill(m);
	dispatch(m);
}

/* The new document root: ours (new workers inherit it), then every worker's. */
static void manager_root(struct manager *m, int fd)
{
	if (dup2(fd, FD_ROOT) == -1)
		log_warn("new document root");
	close(fd);
	m->root_gen++;
	workers_catch_up(m);
}

static void manager_configure(struct manager *m, const struct msg_config *cfg)
{
	struct sv_limits lim = {
	    cfg->heartbeat_interval_ms, cfg->heartbeat_misses, cfg->startup_timeout_ms};
	struct timeval tv = clock_tv(cfg->heartbeat_interval_ms);

	if (m->configured) {
		manager_reconfigure(m, cfg);
		return;
	}
	m->cfg = *cfg;
	m->configured = 1;
	workload_clamp(m);
	m->fd_base = fds_open();
	log_setlevel((enum log_level)cfg->log_level);
	if ((m->slots = calloc(cfg->pool_limit, sizeof(*m->slots))) == NULL ||
	    (m->pload = calloc(cfg->pool_limit, sizeof(*m->pload))) == NULL ||
	    (m->prun = calloc(cfg->pool_limit, sizeof(*m->prun))) == NULL ||
	    (m->rbuf = calloc(TAKE_MSGS, sizeof(*m->rbuf))) == NULL)
		fatal("worker table");
	svt_init(&m->tab, m->base, m->slots, sizeof(*m->slots), cfg->pool_limit, &slot_hooks, m,
	    &m->cfg);
	m->tab.pool = 1;
	heartbeat_start(&m->hb, m->base, FD_PARENT, cfg->heartbeat_interval_ms, heartbeat_fill, m);
	svt_watch(&m->tab, &lim);
	event_assign(&m->ev_table, m->base, -1, EV_PERSIST, table_cb, m);
	event_add(&m->ev_table, &tv);
	tv = clock_tv(POOL_TICK_MS);
	event_assign(&m->ev_pool, m->base, -1, EV_PERSIST, pool_tick_cb, m);
	event_add(&m->ev_pool, &tv);
	pool_fill(m);
	listener_interest(m);
}

static void parent_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;
	struct msg msg;
	int rc;

	while ((rc = msg_recv(fd, &msg)) == 1) {
		if (msg.hdr.type == MSG_CONFIG)
			manager_configure(m, &msg.u.config);
		else if (msg.hdr.type == MSG_STOPPING)
			manager_stopping(m);
		else if (msg.hdr.type == MSG_SHUTDOWN)
			manager_drain(m, m->cfg.shutdown_timeout_ms + DEADLINE_MARGIN_MS, 1);
		else if (msg.hdr.type == MSG_RETIRE) /* the replacement reads the channel */
			manager_drain(m, m->cfg.shutdown_timeout_ms + DEADLINE_MARGIN_MS, 0);
		else if (msg.hdr.type == MSG_LOG_ERROR || msg.hdr.type == MSG_LOG_ACCESS)
			manager_reopen(m, msg.hdr.type, msg.fds[0]);
		else if (msg.hdr.type == MSG_REQUEST)
			op_request(m, &msg.u.req);
		else if (msg.hdr.type == MSG_ROOT)
			manager_root(m, msg.fds[0]);
		else {
			log_warnx("unexpected %s message from daemon", msg_type_name(msg.hdr.type));
			msg_close_fds(&msg);
		}
	}
	if (msg_peer_gone(rc)) {
		event_del(&m->ev_parent);
		log_warnx("daemon channel closed, finishing in-flight requests");
		manager_drain(m, ORPHAN_GRACE_MS, 1);
	} else if (errno == EBADMSG)
		log_warnx("malformed message from daemon, dropped");
}

int manager_main(void)
{
	struct manager m = {0};

	proc_child_init("manager");
	m.ppid = getppid();
	if ((m.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	heartbeat_base_init(m.base);
	event_assign(&m.ev_parent, m.base, FD_PARENT, EV_READ | EV_PERSIST, parent_cb, &m);
	event_add(&m.ev_parent, NULL);
	event_assign(
	    &m.ev_listener, m.base, FD_FROM_LISTENER, EV_READ | EV_PERSIST, listener_cb, &m);
	evsignal_assign(&m.ev_chld, m.base, SIGCHLD, sigchld_cb, &m);
	evsignal_add(&m.ev_chld, NULL);
	evtimer_assign(&m.ev_deadline, m.base, deadline_cb, &m);
	evsignal_assign(&m.ev_term, m.base, SIGTERM, sigterm_cb, &m);
	evsignal_add(&m.ev_term, NULL);
	evtimer_assign(&m.op.ev_timeout, m.base, op_timeout_cb, &m);
	evtimer_assign(&m.op.ev_step, m.base, op_step_cb, &m);
	event_base_dispatch(m.base);
	/* What was taken back from killed workers: closed cleanly, and counted. */
	m.cut += m.qlen;
	queue_abandon(&m);
	heartbeat_send(&m.hb); /* the last figures: what was cut at the deadline */
	log_info("exiting; waited %llu time%s for room in a worker's channel, %llu for descriptors "
	         "in flight",
	    (unsigned long long)m.full_waits, log_s(m.full_waits),
	    (unsigned long long)m.refs_waits);
	log_info("hand-off: took %llu connections in %llu messages over %llu reads, gave %llu in "
	         "%llu messages",
	    (unsigned long long)m.hs.taken, (unsigned long long)m.hs.taken_msgs,
	    (unsigned long long)m.hs.reads, (unsigned long long)m.hs.given,
	    (unsigned long long)m.hs.given_msgs);
	event_base_free(m.base); /* before the slots: their events live there */
	free(m.slots);
	free(m.pload);
	free(m.prun);
	free(m.queue);
	free(m.rbuf);
	free(m.op.todo);
	return 0;
}
