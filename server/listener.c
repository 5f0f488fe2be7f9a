/*
 * The listener: accepts TCP connections on the socket the daemon bound and
 * passes each one to the manager (SCM_RIGHTS). When that channel is full it
 * stops accepting, so excess connections wait in the kernel backlog rather
 * than in a buffer of ours. When the whole server stops it empties that
 * backlog into the manager before it exits, since the daemon's close of
 * the listening socket would reset whatever was left there.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "clock.h"
#include "heartbeat.h"
#include "listener_park.h"
#include "log.h"
#include "msg.h"
#include "proc.h"
#include "roles.h"

#define ACCEPT_BATCH 64
#define EMFILE_PAUSE_MS 100
#define PAUSE_SUMMARY_MS 10000
#define BACKLOG_TAKE_MAX 65536 /* when the kernel cannot say how many wait */

/* Connections for the manager, sent as one MSG_CONN or MSG_CONNS. */
struct batch {
	int n, held; /* held: the channel could not take them; nothing is added until sent */
	int fds[MSG_MAXFDS];
	struct msg_conns c;
};

struct listener {
	struct event_base *base;
	struct event ev_accept, ev_channel, ev_retry, ev_parent, ev_term, ev_pause, ev_deadline;
	int accepting, draining;
	long backlog_left; /* stopping: connections still to take from the backlog */
	struct batch out;  /* accepted, to hand over (held: waiting for room in the channel) */
	uint64_t accepted;
	uint64_t sent_msgs;      /* messages that carried them to the manager */
	uint64_t pauses;         /* EMFILE pauses not yet summed up in the log */
	uint64_t paused_said_ms; /* when they last were */
	uint64_t full_waits;     /* manager channel full: waits for room */
	uint64_t refs_waits;     /* ETOOMANYREFS: retries on the timer */
	struct msg_config cfg;
	struct heartbeat hb;
	struct lpark park; /* idle keep-alive connections the workers handed us */
	pid_t ppid;
	int configured;
};

static void accept_interest(struct listener *l, int on)
{
	on = on && (!l->draining || l->backlog_left > 0);
	if (on && !l->accepting)
		event_add(&l->ev_accept, NULL);
	else if (!on && l->accepting)
		event_del(&l->ev_accept);
	l->accepting = on;
}

/* Draining: exit once nothing is held, the backlog we took on is empty, the parked handed on. */
static void listener_maybe_exit(struct listener *l)
{
	if (l->draining && l->out.n == 0 && l->backlog_left == 0 && !lpark_handing(&l->park))
		event_base_loopexit(l->base, NULL);
}

static void park_handed(void *arg) { listener_maybe_exit(arg); }

/*
 * Hold the batch until the channel takes it: a full channel wakes us when
 * writable; too many descriptors in flight (ETOOMANYREFS) gives no
 * wake-up, so that one is retried on a timer.
 */
static void hold(struct listener *l, int err)
{
	struct timeval tv = clock_tv(MSG_RETRY_MS);

	l->out.held = 1;
	accept_interest(l, 0);
	if (err == ETOOMANYREFS) {
		l->refs_waits++;
		evtimer_add(&l->ev_retry, &tv);
	} else {
		l->full_waits++;
		event_add(&l->ev_channel, NULL);
	}
}

/* The batch to the manager in one message: one connection as MSG_CONN, more as MSG_CONNS. */
static int batch_send(struct batch *b)
{
	if (b->n == 1)
		return msg_send(
		    FD_MANAGER, MSG_CONN, &b->c.conn[0], sizeof(b->c.conn[0]), b->fds, 1);
	b->c.count = (uint32_t)b->n;
	return msg_send(
	    FD_MANAGER, MSG_CONNS, &b->c, msg_batch_len(MSG_CONNS, (uint32_t)b->n), b->fds, b->n);
}

/* Close our copies (sent), or each connection (FIN, not RST: dropped). */
static void batch_clear(struct batch *b, int abandon)
{
	if (abandon)
		for (int i = 0; i < b->n; i++)
			msg_conn_abandon(b->fds[i]);
	else
		msg_close_sent(b->fds, b->n);
	b->n = 0;
	b->held = 0;
}

/* Hand the batch over: 0 sent (our copies closed) or empty, -1 held until the channel takes it. */
static int hand_over(struct listener *l)
{
	struct batch *b = &l->out;

	if (b->n == 0)
		return 0;
	if (batch_send(b) == -1) {
		if (!msg_send_again(errno)) {
			/* No wait would mend it: drop these rather than spin. */
			log_warn("%d connection%s to manager dropped", b->n, log_s(b->n));
			batch_clear(b, 1);
			return 0;
		}
		hold(l, errno);
		return -1;
	}
	l->sent_msgs++;
	batch_clear(b, 0);
	return 0;
}

/* Add one to the batch, sent once full: 0, or -1 held (full channel). */
static int batch_add(struct listener *l, int fd, const struct msg_conn *mc)
{
	l->out.fds[l->out.n] = fd;
	l->out.c.conn[l->out.n++] = *mc;
	return l->out.n == MSG_MAXFDS ? hand_over(l) : 0;
}

/* Room in the manager channel again (or time to retry): hand over the held batch. */
static void channel_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	l->out.held = 0;
	if (hand_over(l) == -1)
		return;
	accept_interest(l, 1);
	lpark_resume(&l->park);
	listener_maybe_exit(l);
}

/* A parked connection spoke again: to the manager like a new one (or held, channel full). */
static void park_give(void *arg, int fd, const struct msg_conn *mc)
{
	if (batch_add(arg, fd, mc) == 0)
		hand_over(arg);
}

static int park_full(void *arg) { return ((struct listener *)arg)->out.held; }

static void pause_cb(evutil_socket_t fd, short what, void *arg) { accept_interest(arg, 1); }

/*
 * Out of descriptors: pause accepting for a moment instead of spinning.
 * Said once; when accepting works again, a summary - at most every 10 s,
 * so a limit hit again and again is counted, not logged each time.
 */
static void accept_pause(struct listener *l)
{
	struct timeval tv = clock_tv(EMFILE_PAUSE_MS);

	if (l->pauses++ == 0 && clock_now_ms() - l->paused_said_ms >= PAUSE_SUMMARY_MS)
		log_warn("accept paused, retrying every %d ms", EMFILE_PAUSE_MS);
	accept_interest(l, 0);
	evtimer_add(&l->ev_pause, &tv);
}

static void accept_resumed(struct listener *l)
{
	uint64_t now;

	if (l->pauses == 0 || (now = clock_now_ms()) - l->paused_said_ms < PAUSE_SUMMARY_MS)
		return;
	log_info(
	    "accepting again after %llu pause%s", (unsigned long long)l->pauses, log_s(l->pauses));
	l->pauses = 0;
	l->paused_said_ms = now;
}

/* accept4 failed: 1 if the backlog is empty now. */
static int accept_failed(struct listener *l)
{
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
		accept_pause(l);
	else if (errno == EAGAIN)
		return 1;
	else if (errno != EINTR && errno != ECONNABORTED)
		log_warn("accept");
	return 0;
}

/*
 * Accept up to max connections and hand them over, MSG_MAXFDS a message:
 * what one round finds ready travels together.
 */
static void accept_some(struct listener *l, int lfd, int max)
{
	struct msg_conn mc;
	socklen_t slen;
	int fd;

	for (int i = 0; i < max && !l->out.held && l->accepting; i++) {
		memset(&mc, 0, sizeof(mc));
		slen = sizeof(mc.peer);
		fd = accept4(lfd, (struct sockaddr *)&mc.peer, &slen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (accept_failed(l) && l->draining)
				l->backlog_left = 0; /* all taken */
			break;
		}
		accept_resumed(l);
		mc.peerlen = slen;
		l->accepted++;
		l->backlog_left -= l->backlog_left > 0;
		if (batch_add(l, fd, &mc) == -1)
			break;
		accept_interest(l, 1);
	}
	if (!l->out.held)
		hand_over(l); /* what this round accepted; held: accepting stops until it is sent */
	listener_maybe_exit(l);
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	accept_some(arg, lfd, ACCEPT_BATCH);
}

/* How many connections wait in the backlog now (Linux reports it for a listening socket). */
static long backlog_waiting(int lfd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 || len < sizeof(ti)) {
		log_warn("backlog length unknown, taking until it is empty");
		return BACKLOG_TAKE_MAX;
	}
	return (long)ti.tcpi_unacked;
}

/*
 * shutdown_timeout passed with connections still to take: close each one
 * cleanly (a FIN, not the reset the daemon's close of the socket would give).
 */
static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	long n = 0;
	int cfd;

	n += l->out.n;
	batch_clear(&l->out, 1);
	for (; l->backlog_left > 0; l->backlog_left--, n++) {
		if ((cfd = accept4(FD_LISTEN, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
			break;
		msg_conn_abandon(cfd);
	}
	log_warnx("shutdown_timeout passed: closed %ld connections the manager did not take", n);
	l->backlog_left = 0;
	event_base_loopexit(l->base, NULL);
}

/*
 * Stop accepting. When the whole server stops (take_backlog), first take
 * what already waits in the kernel backlog - those clients have sent their
 * requests, and closing the socket would reset them - as fast as the
 * manager, which takes everything during a stop, reads them. On a graceful
 * restart the replacement accepts them instead, and takes the parked
 * connections we hand on (handoff); otherwise those are closed.
 */
static void listener_drain(struct listener *l, int take_backlog, int handoff)
{
	struct timeval tv = clock_tv(l->cfg.shutdown_timeout_ms);

	if (l->draining)
		return;
	l->draining = 1;
	if (handoff && l->configured) {
		evtimer_add(&l->ev_deadline, &tv); /* what is not handed on by then is closed */
		lpark_handoff(&l->park, park_handed);
	} else
		lpark_stop(&l->park);
	if (take_backlog && l->configured) {
		l->backlog_left = backlog_waiting(FD_LISTEN);
		evtimer_add(&l->ev_deadline, &tv);
	}
	log_info("stopped accepting after %llu connection%s, taking %ld waiting in the backlog",
	    (unsigned long long)l->accepted, log_s(l->accepted), l->backlog_left);
	accept_interest(l, !l->out.held);
	if (l->accepting)
		accept_some(l, FD_LISTEN, ACCEPT_BATCH);
	listener_maybe_exit(l);
	/* else channel_cb and accept_cb finish the job */
}

static void heartbeat_fill(void *arg, struct msg_heartbeat *hb)
{
	struct listener *l = arg;

	hb->accepted = l->accepted;
	hb->held = (uint64_t)l->out.n + lpark_count(&l->park);
}

/* A newer generation (a reload): the log level and the heartbeat period. */
static void listener_reconfigure(struct listener *l, const struct msg_config *cfg)
{
	if (cfg->generation <= l->cfg.generation)
		return; /* a replacement may find its predecessor's copy queued too */
	log_info("configuration generation %u", cfg->generation);
	l->cfg = *cfg;
	log_setlevel((enum log_level)cfg->log_level);
	heartbeat_interval(&l->hb, cfg->heartbeat_interval_ms);
	if (!l->draining)
		lpark_set_max(&l->park, cfg->park_max);
}

static void listener_configure(struct listener *l, const struct msg_config *cfg)
{
	if (l->configured) {
		listener_reconfigure(l, cfg);
		return;
	}
	l->configured = 1;
	l->cfg = *cfg;
	log_setlevel((enum log_level)cfg->log_level);
	accept_interest(l, 1);
	lpark_start(&l->park, l->base, cfg->park_max, park_give, park_full, l);
	if (msg_send(FD_PARENT, MSG_READY, NULL, 0, NULL, 0) == -1)
		log_warn("ready to daemon");
	heartbeat_start(&l->hb, l->base, FD_PARENT, cfg->heartbeat_interval_ms, heartbeat_fill, l);
}

static void parent_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct msg m;
	int rc;

	while ((rc = msg_recv(fd, &m)) == 1) {
		if (m.hdr.type == MSG_CONFIG)
			listener_configure(l, &m.u.config);
		else if (m.hdr.type == MSG_SHUTDOWN)
			listener_drain(l, 1, 0);
		else if (m.hdr.type == MSG_RETIRE)
			listener_drain(l, 0, 1); /* the replacement accepts the backlog */
		else if (m.hdr.type == MSG_LOG_ERROR || m.hdr.type == MSG_LOG_ACCESS)
			proc_adopt_log(m.hdr.type, m.fds[0]);
		else {
			log_warnx("unexpected %s message from daemon", msg_type_name(m.hdr.type));
			msg_close_fds(&m);
		}
	}
	if (msg_peer_gone(rc)) {
		event_del(&l->ev_parent);
		log_warnx("daemon channel closed");
		listener_drain(l, 0, 0);
	} else if (errno == EBADMSG)
		log_warnx("malformed message from daemon, dropped");
}

/* SIGTERM to our pid: the daemon starts a replacement while we hand over. */
static void sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct listener *l = arg;
	int ours = getppid() == l->ppid; /* else the daemon is gone: nobody takes over */

	if (!l->draining && ours && msg_send(FD_PARENT, MSG_DRAINING, NULL, 0, NULL, 0) == -1)
		log_warn("draining notice to daemon");
	listener_drain(l, 0, ours);
}

int listener_main(void)
{
	struct listener l = {0};

	proc_child_init("listener");
	l.ppid = getppid();
	if ((l.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	heartbeat_base_init(l.base);
	event_assign(&l.ev_accept, l.base, FD_LISTEN, EV_READ | EV_PERSIST, accept_cb, &l);
	event_assign(&l.ev_channel, l.base, FD_MANAGER, EV_WRITE, channel_cb, &l);
	evtimer_assign(&l.ev_retry, l.base, channel_cb, &l);
	evtimer_assign(&l.ev_deadline, l.base, deadline_cb, &l);
	evtimer_assign(&l.ev_pause, l.base, pause_cb, &l);
	event_assign(&l.ev_parent, l.base, FD_PARENT, EV_READ | EV_PERSIST, parent_cb, &l);
	event_add(&l.ev_parent, NULL);
	evsignal_assign(&l.ev_term, l.base, SIGTERM, sigterm_cb, &l);
	evsignal_add(&l.ev_term, NULL);
	event_base_dispatch(l.base);
	lpark_stop(&l.park); /* a deadline passed: what was not handed on is closed */
	log_info("exiting after %llu connection%s in %llu message%s to the manager; waited %llu "
	         "time%s for room in the channel, %llu for descriptors in flight",
	    (unsigned long long)l.accepted, log_s(l.accepted), (unsigned long long)l.sent_msgs,
	    log_s(l.sent_msgs), (unsigned long long)l.full_waits, log_s(l.full_waits),
	    (unsigned long long)l.refs_waits);
	event_base_free(l.base);
	return 0;
}
