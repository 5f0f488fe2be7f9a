/*
 * The manager: runs the worker pool between pool.min and pool.max, takes
 * connections from the listener channel into a wait queue, and gives each
 * to the running worker with the fewest connections. A worker that holds
 * max_workload gets no more until one of its connections ends.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "log.h"
#include "msg.h"
#include "proc.h"
#include "roles.h"

#define QUEUE_MAX 4096          /* past this, connections wait in the channel and backlog */
#define ORPHAN_GRACE_MS 1000

enum slot_state { W_FREE, W_STARTING, W_RUNNING, W_DRAINING };

struct slot {
	enum slot_state state;
	pid_t pid;
	int chan;                 /* our end */
	int peer;                 /* the worker's end, kept so a replacement gets the same channel */
	struct event ev_read, ev_write;
	int blocked;              /* channel full: waiting for EV_WRITE */
	uint32_t conns;
	struct manager *m;
};

struct manager {
	struct event_base *base;
	struct event ev_parent, ev_listener, ev_chld, ev_term, ev_deadline;
	struct msg_config cfg;
	int configured, ready_sent, draining, listening;
	pid_t ppid;
	struct slot *slots;       /* pool_limit entries */
	uint32_t nslots;          /* in use (not W_FREE) */
	int queue[QUEUE_MAX];
	uint32_t qhead, qlen;
};

static void dispatch(struct manager *m);
static void manager_maybe_exit(struct manager *m);

static const char *const state_names[] = {"free", "starting", "running", "draining"};

/* ---- the wait queue ---- */

static void queue_push(struct manager *m, int fd)
{
	m->queue[(m->qhead + m->qlen++) % QUEUE_MAX] = fd;
}

static int queue_pop(struct manager *m)
{
	int fd = m->queue[m->qhead];

	m->qhead = (m->qhead + 1) % QUEUE_MAX;
	m->qlen--;
	return fd;
}

/* Read the listener channel only while there is room to queue. */
static void listener_interest(struct manager *m)
{
	int want = !m->draining && m->qlen < QUEUE_MAX;

	if (want && !m->listening)
		event_add(&m->ev_listener, NULL);
	else if (!want && m->listening)
		event_del(&m->ev_listener);
	m->listening = want;
}

/* ---- workers ---- */

static void slot_read_cb(evutil_socket_t fd, short what, void *arg);
static void slot_write_cb(evutil_socket_t fd, short what, void *arg);

static int slot_spawn(struct manager *m, struct slot *s)
{
	struct proc_fdmap map[] = {
		{FD_LOG, FD_LOG},
		{m->cfg.has_access_log ? FD_ACCESS : -1, FD_ACCESS},
		{s->peer, FD_PARENT},
		{FD_WORKER_LINK, FD_TO_LISTENER},
		{FD_ROOT, FD_ROOT},
	};

	if ((s->pid = proc_spawn("worker", map, 5, NULL)) == -1)
		return -1;
	s->state = W_STARTING;
	s->conns = 0;
	s->blocked = 0;
	if (msg_send(s->chan, MSG_CONFIG, &m->cfg, sizeof(m->cfg), NULL, 0) == -1)
		log_warn("config to worker %d", (int)s->pid);
	log_debug("started worker %d", (int)s->pid);
	return 0;
}

static struct slot *slot_new(struct manager *m)
{
	int sp[2];
	struct slot *s = NULL;

	for (uint32_t i = 0; i < m->cfg.pool_limit && !s; i++)
		if (m->slots[i].state == W_FREE)
			s = &m->slots[i];
	if (s == NULL)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) == -1) {
		log_warn("socketpair for a worker");
		return NULL;
	}
	s->m = m;
	s->chan = sp[0];
	s->peer = sp[1];
	event_assign(&s->ev_read, m->base, s->chan, EV_READ | EV_PERSIST, slot_read_cb, s);
	event_assign(&s->ev_write, m->base, s->chan, EV_WRITE, slot_write_cb, s);
	event_add(&s->ev_read, NULL);
	if (slot_spawn(m, s) == -1) {
		event_del(&s->ev_read);
		close(sp[0]);
		close(sp[1]);
		return NULL;
	}
	m->nslots++;
	return s;
}

static void slot_free(struct manager *m, struct slot *s)
{
	event_del(&s->ev_read);
	event_del(&s->ev_write);
	close(s->chan);
	close(s->peer);
	s->state = W_FREE;
	s->pid = 0;
	m->nslots--;
}

static struct slot *slot_by_pid(struct manager *m, pid_t pid)
{
	for (uint32_t i = 0; i < m->cfg.pool_limit; i++)
		if (m->slots[i].state != W_FREE && m->slots[i].pid == pid)
			return &m->slots[i];
	return NULL;
}

/* Keep pool.min workers. */
static void pool_fill(struct manager *m)
{
	while (!m->draining && m->nslots < m->cfg.pool_min)
		if (slot_new(m) == NULL)
			break;
}

static uint32_t pool_count(struct manager *m, enum slot_state st)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < m->cfg.pool_limit; i++)
		n += m->slots[i].state == st;
	return n;
}

static void slot_ready(struct manager *m, struct slot *s)
{
	s->state = W_RUNNING;
	if (!m->ready_sent && pool_count(m, W_RUNNING) >= m->cfg.pool_min) {
		m->ready_sent = 1;
		if (msg_send(FD_PARENT, MSG_READY, NULL, 0, NULL, 0) == -1)
			log_warn("ready to daemon");
		log_info("pool ready: %u workers", m->cfg.pool_min);
	}
	dispatch(m);
}

static void slot_msg(struct manager *m, struct slot *s, struct msg *msg)
{
	switch (msg->hdr.type) {
	case MSG_READY:
		slot_ready(m, s);
		break;
	case MSG_CONN_DONE:
		if (s->conns > 0)
			s->conns--;
		if (m->qlen)
			dispatch(m);
		break;
	default:
		log_warnx("unexpected %s message from worker %d",
		    msg_type_name(msg->hdr.type), (int)s->pid);
		msg_close_fds(msg);
	}
}

static void slot_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;
	struct msg msg;
	int rc;

	while ((rc = msg_recv(fd, &msg)) == 1)
		slot_msg(s->m, s, &msg);
	if (rc == -1 && errno == EBADMSG)
		log_warnx("malformed message from worker %d, dropped", (int)s->pid);
	/* EOF cannot happen while we hold the peer end; death comes by SIGCHLD. */
}

static void slot_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;

	s->blocked = 0;
	dispatch(s->m);
}

/* ---- dispatch ---- */

static struct slot *least_loaded(struct manager *m)
{
	struct slot *best = NULL;

	for (uint32_t i = 0; i < m->cfg.pool_limit; i++) {
		struct slot *s = &m->slots[i];

		if (s->state != W_RUNNING || s->blocked || s->conns >= m->cfg.max_workload)
			continue;
		if (best == NULL || s->conns < best->conns)
			best = s;
	}
	return best;
}

/* Every running worker is full: grow the pool, up to pool.max. */
static void pool_grow(struct manager *m)
{
	if (m->draining || pool_count(m, W_STARTING) > 0 || m->nslots >= m->cfg.pool_max)
		return;
	if (slot_new(m))
		log_info("all workers busy, pool grows to %u", m->nslots);
}

static int give(struct manager *m, struct slot *s, int fd)
{
	struct msg_conn mc = {.peerlen = 0};

	if (msg_send(s->chan, MSG_CONN, &mc, sizeof(mc), &fd, 1) == -1) {
		if (errno != EAGAIN)
			log_warn("connection to worker %d", (int)s->pid);
		s->blocked = 1;
		event_add(&s->ev_write, NULL);
		return -1;
	}
	s->conns++;
	return 0;
}

static void dispatch(struct manager *m)
{
	struct slot *s;

	while (m->qlen > 0) {
		if ((s = least_loaded(m)) == NULL) {
			pool_grow(m);
			break;
		}
		if (give(m, s, m->queue[m->qhead]) == 0)
			close(queue_pop(m));
	}
	listener_interest(m);
	manager_maybe_exit(m);
}

/* ---- the listener channel ---- */

static void listener_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;
	struct msg msg;
	int rc = 0;

	while (m->qlen < QUEUE_MAX && (rc = msg_recv(fd, &msg)) == 1) {
		if (msg.hdr.type == MSG_CONN)
			queue_push(m, msg.fds[0]);
		else {
			log_warnx("unexpected %s message from listener",
			    msg_type_name(msg.hdr.type));
			msg_close_fds(&msg);
		}
	}
	if (rc == -1 && errno == EBADMSG)
		log_warnx("malformed message from listener, dropped");
	dispatch(m);
}

/* ---- children ---- */

static void worker_lost(struct manager *m, struct slot *s, int status)
{
	char cause[64];

	proc_describe_status(status, cause, sizeof(cause));
	if (s->state == W_DRAINING) {
		log_info("worker %d stopped (%s)", (int)s->pid, cause);
		slot_free(m, s);
		return;
	}
	log_warnx("lost child: pid %d worker (%s), was %s with %u connections",
	    (int)s->pid, cause, state_names[s->state], s->conns);
	/* Same channel: connections already queued to it reach the replacement. */
	if (m->draining || slot_spawn(m, s) == -1)
		slot_free(m, s);
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct manager *m = arg;
	struct slot *s;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if ((s = slot_by_pid(m, pid)) != NULL)
			worker_lost(m, s, status);
	pool_fill(m);
	dispatch(m);
}

/* ---- draining ---- */

static void manager_maybe_exit(struct manager *m)
{
	if (!m->draining || m->qlen > 0)
		return;
	for (uint32_t i = 0; i < m->cfg.pool_limit; i++) {
		struct slot *s = &m->slots[i];

		if (s->state == W_RUNNING || s->state == W_STARTING) {
			s->state = W_DRAINING;
			if (msg_send(s->chan, MSG_SHUTDOWN, NULL, 0, NULL, 0) == -1)
				kill(s->pid, SIGTERM);
		}
	}
	if (m->nslots == 0)
		event_base_loopexit(m->base, NULL);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;

	log_warnx("drain deadline passed, killing %u workers", m->nslots);
	for (uint32_t i = 0; i < m->cfg.pool_limit; i++)
		if (m->slots[i].state != W_FREE)
			kill(m->slots[i].pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
	event_base_loopexit(m->base, NULL);
}

/* Take what the listener already queued to us, then stop reading it. */
static void manager_drain(struct manager *m, uint32_t grace_ms)
{
	struct timeval tv = {grace_ms / 1000, (grace_ms % 1000) * 1000};

	if (m->draining)
		return;
	listener_cb(FD_FROM_LISTENER, EV_READ, m);
	m->draining = 1;
	log_info("draining: %u queued connections, %u workers", m->qlen, m->nslots);
	evtimer_assign(&m->ev_deadline, m->base, deadline_cb, m);
	evtimer_add(&m->ev_deadline, &tv);
	dispatch(m);
}

static void sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct manager *m = arg;
	int orphaned = getppid() != m->ppid;

	if (orphaned)
		log_warnx("daemon is gone, finishing in-flight requests");
	manager_drain(m, orphaned ? ORPHAN_GRACE_MS : m->cfg.shutdown_timeout_ms);
}

/* ---- the daemon channel ---- */

static void manager_configure(struct manager *m, const struct msg_config *cfg)
{
	if (m->configured)
		return;   /* runtime changes come with the control socket */
	m->cfg = *cfg;
	m->configured = 1;
	log_setlevel((enum log_level)cfg->log_level);
	if ((m->slots = calloc(cfg->pool_limit, sizeof(*m->slots))) == NULL)
		fatal("worker table");
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
		else if (msg.hdr.type == MSG_SHUTDOWN)
			manager_drain(m, m->cfg.shutdown_timeout_ms);
		else {
			log_warnx("unexpected %s message from daemon", msg_type_name(msg.hdr.type));
			msg_close_fds(&msg);
		}
	}
	if (rc == 0) {
		event_del(&m->ev_parent);
		log_warnx("daemon channel closed, finishing in-flight requests");
		manager_drain(m, ORPHAN_GRACE_MS);
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
	event_assign(&m.ev_parent, m.base, FD_PARENT, EV_READ | EV_PERSIST, parent_cb, &m);
	event_add(&m.ev_parent, NULL);
	event_assign(&m.ev_listener, m.base, FD_FROM_LISTENER, EV_READ | EV_PERSIST,
	    listener_cb, &m);
	evsignal_assign(&m.ev_chld, m.base, SIGCHLD, sigchld_cb, &m);
	evsignal_add(&m.ev_chld, NULL);
	evsignal_assign(&m.ev_term, m.base, SIGTERM, sigterm_cb, &m);
	evsignal_add(&m.ev_term, NULL);
	event_base_dispatch(m.base);
	log_info("exiting");
	free(m.slots);
	event_base_free(m.base);
	return 0;
}
