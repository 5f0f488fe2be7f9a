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

/* The n at the head were given (the worker has its copies) or dropped. */
static void queue_drop(struct manager *m, uint32_t n)
{
	int fds[MSG_MAXFDS], k = 0;

	for (; n > 0; n--) {
		fds[k++] = m->queue[m->qhead].fd;
		m->qhead = (m->qhead + 1) % m->qcap;
		m->qlen--;
		if (k == MSG_MAXFDS || n == 1) {
			msg_close_sent(fds, k);
			k = 0;
		}
	}
}

/* MSG_CONN or MSG_CONNS: each descriptor queued with its own entry (flags kept). How many. */
int queue_msg(struct manager *m, struct msg *msg, int front)
{
	if (msg->hdr.type == MSG_CONN) {
		queue_push(m, msg->fds[0], &msg->u.conn, front);
		return 1;
	}
	for (int i = 0; i < msg->nfds; i++)
		queue_push(m, msg->fds[i], &msg->u.conns.conn[i], front);
	return msg->nfds;
}

static struct slot *least_loaded(struct manager *m);

#define TIGHT_WARN_MS 10000

/*
 * Descriptors free beyond the reserve. Counted, not probed: what we held
 * at start, the worker channels and the queue. A message received with no
 * descriptor free for it loses its connections.
 */
static long fd_free(struct manager *m, long reserve)
{
	long limit = msg_fd_limit();

	if (reserve > limit / 4)
		reserve = limit / 4; /* a tiny limit must still leave room to work */
	return limit - reserve - (long)(m->fd_base + m->tab.nfds + m->qlen);
}

/* Room for one more message's descriptors (a batch: MSG_MAXFDS), the reserve kept free? */
static int fd_room(struct manager *m, long reserve) { return fd_free(m, reserve) > MSG_MAXFDS; }

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
 * within MSG_FD_RESERVE descriptors (plus one batch) of our limit: a
 * message received without room for its descriptors loses them.
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

/*
 * Messages to read now (0: none): as many as may bring what the workers
 * have room for (a message carries 1..MSG_MAXFDS connections, so at most
 * MSG_MAXFDS - 1 more than that wait in our queue), all while stopping;
 * never more than the descriptors free allow.
 */
static int take_count(struct manager *m)
{
	long room = 0, fds;

	if (!may_take(m))
		return 0;
	fds = (fd_free(m, MSG_FD_RESERVE) - 1) / MSG_MAXFDS;
	if (!m->taking) {
		FOREACH_SLOT (m, s)
			if (s->e.sv.state == SV_RUNNING && !s->blocked &&
			    s->conns < m->cfg.max_workload)
				room += m->cfg.max_workload - s->conns;
		room = room / MSG_MAXFDS > 1 ? room / MSG_MAXFDS : 1;
		fds = fds < room ? fds : room;
	}
	return fds < TAKE_MSGS ? (int)fds : TAKE_MSGS;
}

/* ---- dispatch ---- */

static int has_room(const struct manager *m, const struct slot *s)
{
	return s->e.sv.state == SV_RUNNING && !s->blocked && s->conns < m->cfg.max_workload;
}

static struct slot *least_loaded(struct manager *m)
{
	struct slot *best = NULL;

	FOREACH_SLOT (m, s) {
		if (!has_room(m, s))
			continue;
		if (best == NULL || s->conns < best->conns)
			best = s;
	}
	return best;
}

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/*
 * The least loaded worker and how many of the queue's head it gets in one
 * message (*n): its share of the queue split over the workers with room,
 * or more if that only brings it up to the next least loaded; never over
 * max_workload nor MSG_MAXFDS.
 */
static struct slot *least_loaded_share(struct manager *m, uint32_t *n)
{
	struct slot *best = least_loaded(m);
	uint32_t with_room = 0, next = UINT32_MAX, share;

	if (best == NULL)
		return NULL;
	FOREACH_SLOT (m, s) {
		if (!has_room(m, s))
			continue;
		with_room++;
		if (s != best && s->conns < next)
			next = s->conns;
	}
	share = (m->qlen + with_room - 1) / with_room;
	if (next != UINT32_MAX && next - best->conns + 1 > share)
		share = next - best->conns + 1;
	*n = min_u32(
	    min_u32(share, m->qlen), min_u32(MSG_MAXFDS, m->cfg.max_workload - best->conns));
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
	if (msg.hdr.type != MSG_CONN && msg.hdr.type != MSG_CONNS) {
		log_warnx("unexpected %s message from listener", msg_type_name(msg.hdr.type));
		msg_close_fds(&msg);
		return 0;
	}
	m->hs.taken += (uint64_t)queue_msg(m, &msg, 0);
	m->hs.taken_msgs++;
	m->hs.reads++;
	return 1;
}

/* What give sends: the first n of the queue, copied (take_for_flight may move the queue). */
struct give_batch {
	uint32_t n;
	int fds[MSG_MAXFDS];
	struct msg_conns c;
};

/* 0 sent, else the errno. One connection: MSG_CONN; more: MSG_CONNS. */
static int send_conns(struct slot *s, struct give_batch *b)
{
	int rc;

	if (b->n == 1)
		rc = msg_send(s->e.chan, MSG_CONN, &b->c.conn[0], sizeof(b->c.conn[0]), b->fds, 1);
	else
		rc = msg_send(
		    s->e.chan, MSG_CONNS, &b->c, msg_batch_len(MSG_CONNS, b->n), b->fds, (int)b->n);
	return rc == 0 ? 0 : errno;
}

/*
 * Give the first n queued to s: n given (or dropped: an error no wait
 * would mend), 0 the channel cannot take them now.
 */
static uint32_t give(struct manager *m, struct slot *s, uint32_t n)
{
	struct give_batch b = {.n = n, .c.count = n};
	int err;

	for (uint32_t i = 0; i < n; i++) {
		const struct queued *q = &m->queue[(m->qhead + i) % m->qcap];

		b.fds[i] = q->fd;
		b.c.conn[i] = q->mc;
	}
	if ((err = send_conns(s, &b)) == ETOOMANYREFS && take_for_flight(m))
		err = send_conns(s, &b);
	if (err == 0) {
		s->conns += n;
		m->hs.given += n;
		m->hs.given_msgs++;
		return n;
	}
	if (!msg_send_again(err)) {
		errno = err;
		log_warn("%u connection%s to worker %d dropped", n, log_s(n), (int)s->e.sv.pid);
		return n;
	}
	slot_block(s, err);
	return 0;
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
	uint32_t n;

	while (m->qlen > 0) {
		if ((s = least_loaded_share(m, &n)) == NULL)
			break;
		queue_drop(m, give(m, s, n));
	}
	listener_interest(m);
	if (!m->listening)
		pool_full_soon(m);
	manager_maybe_exit(m);
}

/* ---- the listener channel ---- */

static void listener_msg(struct manager *m, struct msg *msg)
{
	if (msg->hdr.type != MSG_CONN && msg->hdr.type != MSG_CONNS) {
		log_warnx("unexpected %s message from listener", msg_type_name(msg->hdr.type));
		msg_close_fds(msg);
		return;
	}
	m->hs.taken += (uint64_t)queue_msg(m, msg, 0);
	m->hs.taken_msgs++;
}

/*
 * One read of up to want messages (recvmmsg): 1 if the channel may hold
 * more (the read was full), 0 if it was found empty or gone.
 */
static int take_some(struct manager *m, int fd, int want)
{
	unsigned bad = 0;
	int n = msg_recv_many(fd, m->rbuf, want, &bad);

	m->hs.reads++;
	if (bad)
		log_warnx("%u malformed message%s from listener, dropped", bad, log_s(bad));
	for (int i = 0; i < n; i++)
		listener_msg(m, &m->rbuf[i]);
	if (n > 0 && !m->taking)
		dispatch(m);
	return (n > 0 ? n : 0) + (int)bad == want;
}

/*
 * Take what may_take allows. A read that comes back short found the
 * channel empty: we stop there rather than read once more for EAGAIN.
 * Draining (the listeners are gone), an empty channel is final: taking
 * ends, and the workers may be told to stop.
 */
void listener_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;
	int want;

	while ((want = take_count(m)) > 0) {
		if (!take_some(m, fd, want)) {
			if (m->draining)
				m->taking = 0; /* empty (or gone): all taken */
			/* Nothing waits: a queue the policy sees next is a new one. */
			m->queue_emptied |= m->qlen == 0;
			break;
		}
	}
	dispatch(m);
}

/*
 * Connections waiting in the listener channel: its bytes over one entry's
 * (a MSG_CONN is a little more, a batch of k a little more than k).
 */
uint32_t channel_queued(int fd)
{
	const int size = (int)sizeof(struct msg_conn);
	int n = 0;

	if (ioctl(fd, SIOCINQ, &n) == -1 || n <= 0)
		return 0;
	return (uint32_t)(n / size > 0 ? n / size : 1);
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
