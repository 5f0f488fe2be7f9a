/* Parked idle keep-alive connections in the listener: see listener_park.h. */
#include "listener_park.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "proc.h"

#define PARK_READ_BATCH 256 /* messages taken per wake-up: the loop stays fair */
#define PARK_READ_MSGS 8    /* messages per read (recvmmsg) */

/* A parked connection: one registration, its deadline, a compact peer address. */
struct lparked {
	struct event ev;
	struct parked node;
	struct lpark *lp;
	struct lparked *next_stalled;
	uint8_t peerlen;
	unsigned char peer[sizeof(struct sockaddr_in6)];
};

#define ENTRY(p) ((struct lparked *)((char *)(p)-offsetof(struct lparked, node)))

static void ready_cb(evutil_socket_t fd, short what, void *arg);

size_t lpark_count(const struct lpark *lp)
{
	size_t n = lp->set.n;

	for (struct lparked *e = lp->stalled; e; e = e->next_stalled)
		n++;
	return n;
}

/* Arm the timer for the nearest deadline, unless it is already armed for it. */
static void timer_arm(struct lpark *lp)
{
	struct parked *p = parked_nearest(&lp->set);
	uint64_t now;
	struct timeval tv;

	if (p == NULL || (lp->timer_at_set && lp->timer_at == p->deadline_ms))
		return;
	now = clock_now_ms();
	tv = clock_tv(p->deadline_ms > now ? p->deadline_ms - now : 0);
	lp->timer_at = p->deadline_ms;
	lp->timer_at_set = 1;
	evtimer_add(&lp->ev_timer, &tv);
}

/* Out of the set and the loop; the descriptor is the caller's. */
static int entry_take(struct lpark *lp, struct lparked *e)
{
	int fd = event_get_fd(&e->ev);

	event_del(&e->ev); /* before any close: epoll interest follows the open file */
	parked_remove(&lp->set, &e->node);
	free(e);
	return fd;
}

static void entry_close(struct lpark *lp, struct lparked *e) { close(entry_take(lp, e)); }

/* It spoke: to a worker through the manager, or, while that channel is full, wait out of epoll. */
static void entry_return(struct lpark *lp, struct lparked *e)
{
	struct msg_conn mc;
	int fd;

	if (lp->full(lp->arg)) {
		event_del(&e->ev); /* level-triggered: left in, it would wake us on every round */
		parked_remove(&lp->set, &e->node);
		e->next_stalled = lp->stalled;
		lp->stalled = e;
		lp->stalls++;
		return;
	}
	memset(&mc, 0, sizeof(mc));
	memcpy(&mc.peer, e->peer, e->peerlen);
	mc.peerlen = e->peerlen;
	mc.flags = MSG_CONN_RETURNING;
	fd = entry_take(lp, e);
	lp->returned++;
	lp->give(lp->arg, fd, &mc);
}

static enum parked_verdict entry_peek(struct lparked *e)
{
	char b;
	ssize_t n = recv(event_get_fd(&e->ev), &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return parked_verdict(n, errno);
}

/* Level-triggered: bytes that arrived while it was in flight show at once. */
static void ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lparked *e = arg;
	struct lpark *lp = e->lp;

	(void)fd;
	(void)what;
	switch (entry_peek(e)) {
	case PARKED_IDLE:
		return;
	case PARKED_RETURN:
		entry_return(lp, e);
		return;
	case PARKED_CLOSE:
		lp->left++;
		entry_close(lp, e);
	}
}

/* Deadlines that passed: readiness beats expiry, so each is peeked before it closes. */
static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lpark *lp = arg;
	uint64_t now = clock_now_ms();
	struct parked *p;

	lp->timer_at_set = 0;
	while ((p = parked_expired(&lp->set, now)) != NULL) {
		struct lparked *e = ENTRY(p);

		if (entry_peek(e) == PARKED_RETURN)
			entry_return(lp, e);
		else {
			lp->expired++;
			entry_close(lp, e);
		}
	}
	timer_arm(lp);
}

/* Close the connections nearest their deadline until at most keep are parked. */
static void close_nearest(struct lpark *lp, size_t keep)
{
	while (lp->set.n > keep) {
		lp->capped++;
		entry_close(lp, ENTRY(parked_nearest(&lp->set)));
	}
}

/* At the cap: the connection nearest its deadline makes room for a new one. */
static void make_room(struct lpark *lp)
{
	if (parked_full(&lp->set))
		close_nearest(lp, lp->set.max ? lp->set.max - 1 : 0);
}

static void park_one(struct lpark *lp, int fd, const struct msg_park *mp)
{
	struct lparked *e;

	make_room(lp);
	if ((e = malloc(sizeof(*e))) == NULL) {
		log_warn("no memory to park a connection, closed");
		close(fd);
		return;
	}
	e->lp = lp;
	e->node.deadline_ms = mp->deadline_ms;
	e->peerlen = mp->conn.peerlen <= sizeof(e->peer) ? (uint8_t)mp->conn.peerlen : 0;
	memcpy(e->peer, &mp->conn.peer, e->peerlen);
	if (parked_add(&lp->set, &e->node) == -1) {
		log_warn("parking a connection, closed");
		free(e);
		close(fd);
		return;
	}
	/* never EV_ET: what arrived in flight must show at registration */
	event_assign(&e->ev, lp->base, fd, EV_READ | EV_PERSIST, ready_cb, e);
	event_add(&e->ev, NULL);
	lp->parked++;
	timer_arm(lp);
}

/* MSG_PARK from a worker, or MSG_PARKS from the listener we replace: each fd with its entry. */
static void park_msg(struct lpark *lp, struct msg *m)
{
	if (m->hdr.type == MSG_PARK)
		park_one(lp, m->fds[0], &m->u.park);
	else if (m->hdr.type == MSG_PARKS)
		for (int i = 0; i < m->nfds; i++)
			park_one(lp, m->fds[i], &m->u.parks.park[i]);
	else {
		log_warnx(
		    "unexpected %s message in the parking channel", msg_type_name(m->hdr.type));
		msg_close_fds(m);
	}
}

/* Up to PARK_READ_BATCH messages a wake-up, PARK_READ_MSGS a read; a short read found it empty. */
static void chan_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lpark *lp = arg;
	struct msg m[PARK_READ_MSGS];
	unsigned bad;
	int rc;

	for (int i = 0; i < PARK_READ_BATCH; i += PARK_READ_MSGS) {
		bad = 0;
		rc = msg_recv_many(fd, m, PARK_READ_MSGS, &bad);
		for (int j = 0; j < rc; j++)
			park_msg(lp, &m[j]);
		if (bad)
			log_warnx("%u malformed message%s in the parking channel, dropped", bad,
			    log_s(bad));
		if ((rc > 0 ? rc : 0) + (int)bad < PARK_READ_MSGS)
			break;
	}
}

void lpark_start(struct lpark *lp, struct event_base *base, size_t max,
    void (*give)(void *, int, const struct msg_conn *), int (*full)(void *), void *arg)
{
	memset(lp, 0, sizeof(*lp));
	lp->base = base;
	lp->give = give;
	lp->full = full;
	lp->arg = arg;
	parked_init(&lp->set, max ? max : parked_default_max(msg_fd_limit()));
	event_assign(&lp->ev_chan, base, FD_WORKERS, EV_READ | EV_PERSIST, chan_cb, lp);
	evtimer_assign(&lp->ev_timer, base, timer_cb, lp);
	event_add(&lp->ev_chan, NULL);
	lp->reading = 1;
	log_debug("parking up to %zu idle connections", lp->set.max);
}

void lpark_set_max(struct lpark *lp, size_t max)
{
	lp->set.max = max ? max : parked_default_max(msg_fd_limit());
	close_nearest(lp, lp->set.max);
}

/* Back into epoll and the set: level-triggered, each wakes us again. */
void lpark_resume(struct lpark *lp)
{
	struct lparked *e;

	while ((e = lp->stalled) != NULL && !lp->full(lp->arg)) {
		lp->stalled = e->next_stalled;
		if (parked_add(&lp->set, &e->node) == -1) {
			log_warn("parking a connection again, closed");
			close(event_get_fd(&e->ev));
			free(e);
			continue;
		}
		event_add(&e->ev, NULL);
	}
	timer_arm(lp);
}

void lpark_stop(struct lpark *lp)
{
	struct lparked *e;
	size_t n = lpark_count(lp);

	if (lp->base == NULL)
		return; /* never configured */
	if (lp->reading)
		event_del(&lp->ev_chan);
	lp->reading = 0;
	event_del(&lp->ev_timer);
	if (lp->handing)
		event_del(&lp->ev_out);
	lp->handing = 0;
	while ((e = lp->stalled) != NULL) {
		lp->stalled = e->next_stalled;
		parked_add(&lp->set, &e->node); /* the heap has room: it held them before */
	}
	while (parked_nearest(&lp->set))
		msg_conn_abandon(entry_take(lp, ENTRY(parked_nearest(&lp->set))));
	parked_free(&lp->set);
	log_info("parked %llu connections, %llu spoke again, %llu left, %llu reached their "
	         "keep-alive deadline, %llu closed at the cap; closing %zu still parked",
	    (unsigned long long)lp->parked, (unsigned long long)lp->returned,
	    (unsigned long long)lp->left, (unsigned long long)lp->expired,
	    (unsigned long long)lp->capped, n);
	lp->base = NULL;
}

int lpark_handing(const struct lpark *lp) { return lp->handing; }

/* Stalled ones were about to be returned; handed on, they show as readable to the next one. */
static void unstall_all(struct lpark *lp)
{
	struct lparked *e;

	while ((e = lp->stalled) != NULL) {
		lp->stalled = e->next_stalled;
		parked_add(&lp->set, &e->node); /* the heap has room: it held them before */
		event_add(&e->ev, NULL);
	}
}

/* Parked connections on their way to our replacement, out of the set until sent. */
struct handoff_batch {
	uint32_t n;
	struct lparked *e[MSG_MAXFDS];
	int fds[MSG_MAXFDS];
	struct msg_parks p;
};

/* The nearest deadlines, up to MSG_MAXFDS, out of the set and the loop into b. */
static void batch_take(struct lpark *lp, struct handoff_batch *b)
{
	struct parked *p;

	memset(b, 0, offsetof(struct handoff_batch, p.park));
	while (b->n < MSG_MAXFDS && (p = parked_nearest(&lp->set)) != NULL) {
		struct lparked *e = ENTRY(p);
		struct msg_park *mp = &b->p.park[b->n];

		event_del(&e->ev);
		parked_remove(&lp->set, &e->node);
		memset(mp, 0, sizeof(*mp));
		mp->deadline_ms = e->node.deadline_ms;
		memcpy(&mp->conn.peer, e->peer, e->peerlen);
		mp->conn.peerlen = e->peerlen;
		b->fds[b->n] = event_get_fd(&e->ev);
		b->e[b->n++] = e;
	}
	b->p.count = b->n;
}

/* Sent (our copies closed) or given up on (each closed with a FIN): the entries go. */
static void batch_done(struct handoff_batch *b, int abandon)
{
	for (uint32_t i = 0; i < b->n; i++) {
		if (abandon)
			msg_conn_abandon(b->fds[i]);
		else
			close(b->fds[i]);
		free(b->e[i]);
	}
}

/* Back into the set and the loop, served as before until the channel has room. */
static void batch_put_back(struct lpark *lp, struct handoff_batch *b)
{
	for (uint32_t i = 0; i < b->n; i++) {
		parked_add(&lp->set, &b->e[i]->node); /* the heap has room: it held them before */
		event_add(&b->e[i]->ev, NULL);
	}
}

/*
 * Send the nearest deadlines on as one MSG_PARKS: 0 sent (or closed: no
 * wait would help), -1 wait for room.
 */
static int handoff_batch(struct lpark *lp)
{
	struct handoff_batch b;
	struct timeval tv = clock_tv(MSG_RETRY_MS);

	batch_take(lp, &b);
	if (msg_send(FD_PARK_OUT, MSG_PARKS, &b.p, msg_batch_len(MSG_PARKS, b.n), b.fds,
	        (int)b.n) == 0) {
		lp->handed += b.n;
		lp->handed_msgs++;
		batch_done(&b, 0);
		return 0;
	}
	if (!msg_send_again(errno)) {
		log_warn("handing %u parked connection%s on, closed", b.n, log_s(b.n));
		batch_done(&b, 1);
		return 0;
	}
	if (errno == ETOOMANYREFS)
		evtimer_add(&lp->ev_out, &tv);
	else
		event_add(&lp->ev_out, NULL);
	batch_put_back(lp, &b);
	return -1;
}

static void handoff_some(struct lpark *lp)
{
	unstall_all(lp);
	while (parked_nearest(&lp->set) != NULL)
		if (handoff_batch(lp) == -1)
			return;
	lp->handing = 0;
	log_info("handed %llu parked connection%s to our replacement in %llu message%s",
	    (unsigned long long)lp->handed, log_s(lp->handed), (unsigned long long)lp->handed_msgs,
	    log_s(lp->handed_msgs));
	lp->handed_all(lp->arg);
}

static void out_cb(evutil_socket_t fd, short what, void *arg) { handoff_some(arg); }

void lpark_handoff(struct lpark *lp, void (*done)(void *arg))
{
	if (lp->base == NULL || lp->handing)
		return;
	if (lp->reading)
		event_del(&lp->ev_chan); /* from now on the replacement reads the channel */
	lp->reading = 0;
	lp->handing = 1;
	lp->handed_all = done;
	event_assign(&lp->ev_out, lp->base, FD_PARK_OUT, EV_WRITE, out_cb, lp);
	handoff_some(lp);
}
