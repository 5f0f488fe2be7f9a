/*
 * The manager's hand-off: the listener channel, the wait queue, and
 * dispatch to the least loaded worker.
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

/* ---- the wait queue ---- */

/* Double the ring, unwrapping it; -1 when out of memory. */
static int queue_grow(struct manager *m)
{
	uint32_t cap = m->qcap ? m->qcap * 2 : QUEUE_MIN;
	struct queued *q = malloc(cap * sizeof(*q));

	if (q == NULL)
		return -1;
	for (uint32_t i = 0; i < m->qlen; i++)
		q[i] = m->queue[(m->qhead + i) % m->qcap];
	free(m->queue);
	m->queue = q;
	m->qcap = cap;
	m->qhead = 0;
	return 0;
}

/* front: a connection taken back from a dead worker's channel goes first. */
void queue_push(struct manager *m, int fd, const struct msg_conn *mc, int front)
{
	struct queued *q;

	if (m->qlen == m->qcap && queue_grow(m) == -1) {
		log_warn("wait queue of %u full, closing a connection", m->qlen);
		msg_conn_abandon(fd);
		return;
	}
	if (front)
		m->qhead = (m->qhead + m->qcap - 1) % m->qcap;
	q = &m->queue[(m->qhead + (front ? 0 : m->qlen)) % m->qcap];
	m->qlen++;
	q->fd = fd;
	q->mc = *mc;
}

static void queue_drop_head(struct manager *m)
{
	close(m->queue[m->qhead].fd); /* the worker has its copy */
	m->qhead = (m->qhead + 1) % m->qcap;
	m->qlen--;
}

static struct slot *least_loaded(struct manager *m);

#define TIGHT_WARN_MS 10000

/*
 * Room for one more descriptor, MSG_FD_RESERVE kept free? Counted, not
 * probed: what we held at start, the worker channels and the queue. A
 * message received with no descriptor free loses its connection.
 */
static int fd_room(struct manager *m, long reserve)
{
	long limit = msg_fd_limit();

	if (reserve > limit / 4)
		reserve = limit / 4; /* a tiny limit must still leave room to work */
	return m->fd_base + m->tab.nfds + m->qlen + 1 < limit - reserve;
}

/* Say so at most every 10 s. */
static void fd_tight_warn(struct manager *m)
{
	uint64_t now = clock_now_ms();

	if (m->tight_warned_ms && now - m->tight_warned_ms < TIGHT_WARN_MS)
		return;
	m->tight_warned_ms = now;
	log_warnx("%u connection%s queued, near the descriptor limit %ld: pausing the listener "
	          "channel until some are given out",
	    m->qlen, log_s(m->qlen), msg_fd_limit());
}

/*
 * Take a connection from the listener channel only when a worker can have
 * it now. A connection left in the channel is safe - the daemon keeps its
 * ends, and a replacement manager reads it - while one in our own queue
 * would die with us. While the whole server stops (taking) we take all
 * the listener sends, so that it can empty the kernel backlog. Never
 * within MSG_FD_RESERVE descriptors of our limit: a message received
 * without room for its descriptor loses it.
 */
int may_take(struct manager *m)
{
	int want;

	if (m->draining && !m->taking)
		return 0;
	want = m->taking || (m->qlen == 0 && least_loaded(m) != NULL);
	if (want && !fd_room(m, MSG_FD_RESERVE)) {
		fd_tight_warn(m);
		return 0;
	}
	return want;
}

void listener_interest(struct manager *m)
{
	int want = m->configured && may_take(m);

	if (want && !m->listening)
		event_add(&m->ev_listener, NULL);
	else if (!want && m->listening)
		event_del(&m->ev_listener);
	m->listening = want;
}

/* ---- dispatch ---- */

static struct slot *least_loaded(struct manager *m)
{
	struct slot *best = NULL;

	FOREACH_SLOT (m, s) {
		if (s->e.sv.state != SV_RUNNING || s->blocked || s->conns >= m->cfg.max_workload)
			continue;
		if (best == NULL || s->conns < best->conns)
			best = s;
	}
	return best;
}

/*
 * The worker's channel cannot take it now: wait until it is writable, or,
 * for ETOOMANYREFS (too many descriptors in flight for our limit, which no
 * wake-up reports), retry on a short timer. Either way nothing is dropped.
 */
static void slot_block(struct slot *s, int err)
{
	struct timeval tv = clock_tv(MSG_RETRY_MS);

	s->blocked = 1;
	if (err == ETOOMANYREFS) {
		s->m->refs_waits++;
		evtimer_add(&s->ev_retry, &tv);
	} else {
		s->m->full_waits++;
		event_add(&s->ev_write, NULL);
	}
}

/*
 * ETOOMANYREFS giving to a worker: our user's descriptors in flight are at
 * our limit, most likely in the listener channel, which the listener fills
 * again whenever one is read - and nothing else frees one while we do not
 * read it. Take one from there (into the queue, within half the reserve),
 * so the give that follows has room: 1 if taken.
 */
static int take_for_flight(struct manager *m)
{
	struct msg msg;
	int rc;

	if ((m->draining && !m->taking) || !fd_room(m, MSG_FD_RESERVE / 2))
		return 0;
	if ((rc = msg_recv(FD_FROM_LISTENER, &msg)) != 1) {
		if (rc == -1 && errno == EBADMSG)
			log_warnx("malformed message from listener, dropped");
		return 0;
	}
	if (msg.hdr.type != MSG_CONN) {
		log_warnx("unexpected %s message from listener", msg_type_name(msg.hdr.type));
		msg_close_fds(&msg);
		return 0;
	}
	queue_push(m, msg.fds[0], &msg.u.conn, 0);
	return 1;
}

/* 0 sent, else the errno. */
static int send_conn(struct slot *s, const struct queued *q)
{
	return msg_send(s->e.chan, MSG_CONN, &q->mc, sizeof(q->mc), &q->fd, 1) == 0 ? 0 : errno;
}

/* 0 given (or dropped: an error no wait would mend), -1 the channel cannot take it now. */
static int give(struct manager *m, struct slot *s, const struct queued *head)
{
	struct queued q = *head; /* take_for_flight may move the queue */
	int err = send_conn(s, &q);

	if (err == ETOOMANYREFS && take_for_flight(m))
		err = send_conn(s, &q);
	if (err == 0) {
		s->conns++;
		return 0;
	}
	if (!msg_send_again(err)) {
		errno = err;
		log_warn("connection to worker %d dropped", (int)s->e.sv.pid);
		return 0;
	}
	slot_block(s, err);
	return -1;
}

#define POOL_EARLY_MS 100

/*
 * We stopped taking from the listener channel: if no worker has room, the
 * policy decides now rather than at its tick (at most every 100 ms, and
 * not at pool.max: only a full pool pays the walk over the slots).
 */
static void pool_full_soon(struct manager *m)
{
	uint64_t now;

	if (m->draining || !m->configured)
		return;
	now = clock_now_ms();
	if (now - m->pool_early_ms < POOL_EARLY_MS)
		return;
	m->pool_early_ms = now; /* also when full at pool.max: the walks below, once per 100 ms */
	if (pool_size(m) >= m->cfg.pool_max || least_loaded(m) != NULL)
		return;
	pool_policy(m);
}

void dispatch(struct manager *m)
{
	struct slot *s;

	while (m->qlen > 0) {
		if ((s = least_loaded(m)) == NULL)
			break;
		if (give(m, s, &m->queue[m->qhead]) == 0)
			queue_drop_head(m);
	}
	listener_interest(m);
	if (!m->listening)
		pool_full_soon(m);
	manager_maybe_exit(m);
}

/* ---- the listener channel ---- */

static void listener_msg(struct manager *m, struct msg *msg)
{
	if (msg->hdr.type != MSG_CONN) {
		log_warnx("unexpected %s message from listener", msg_type_name(msg->hdr.type));
		msg_close_fds(msg);
		return;
	}
	queue_push(m, msg->fds[0], &msg->u.conn, 0);
	if (!m->taking)
		dispatch(m);
}

/*
 * Take what may_take allows. Draining (the listeners are gone), an empty
 * channel is final: taking ends, and the workers may be told to stop.
 */
void listener_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;
	struct msg msg;
	int rc;

	while (may_take(m)) {
		if ((rc = msg_recv(fd, &msg)) == 1)
			listener_msg(m, &msg);
		else if (rc == -1 && errno == EBADMSG)
			log_warnx("malformed message from listener, dropped");
		else {
			if (m->draining)
				m->taking = 0; /* empty (or gone): all taken */
			break;
		}
	}
	dispatch(m);
}

/* Connections waiting in the listener channel: its bytes over one MSG_CONN's. */
uint32_t channel_queued(int fd)
{
	const int size = (int)(sizeof(struct msg_hdr) + sizeof(struct msg_conn));
	int n = 0;

	if (ioctl(fd, SIOCINQ, &n) == -1 || n <= 0)
		return 0;
	return (uint32_t)((n + size - 1) / size);
}

/* Connections no worker will serve now: each gets a FIN, not a reset. */
void queue_abandon(struct manager *m)
{
	uint32_t n = m->qlen;

	for (; m->qlen > 0; m->qlen--, m->qhead = (m->qhead + 1) % m->qcap)
		msg_conn_abandon(m->queue[m->qhead].fd);
	if (n)
		log_warnx("closed %u queued connection%s no worker took in time", n, log_s(n));
}

/* A stop's deadline: what the listener handed over and we never read goes the same way. */
unsigned channel_abandon(struct manager *m)
{
	unsigned n = 0, bad = 0;
	struct msg msg;

	while (m->taking && msg_recv_skip(FD_FROM_LISTENER, &msg, &bad) == 1) {
		for (int i = 0; i < msg.nfds; i++)
			msg_conn_abandon(msg.fds[i]);
		n += msg.nfds;
	}
	if (n || bad)
		log_warnx("closed %u connection%s left in the listener channel (%u lost)", n,
		    log_s(n), bad);
	return n;
}
