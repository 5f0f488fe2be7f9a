/*
 * The listener: accepts TCP connections on the socket the daemon bound and
 * passes each one to the manager (SCM_RIGHTS). When that channel is full it
 * stops accepting, so excess connections wait in the kernel backlog rather
 * than in a buffer of ours.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "clock.h"
#include "heartbeat.h"
#include "log.h"
#include "msg.h"
#include "proc.h"
#include "roles.h"

#define ACCEPT_BATCH 64
#define EMFILE_PAUSE_MS 100
#define BACKLOG_TAKE_MAX 65536

struct listener {
	struct event_base *base;
	struct event ev_accept, ev_channel, ev_parent, ev_term, ev_pause;
	int accepting, draining;
	int pending_fd; /* accepted, waiting for room in the channel */
	struct msg_conn pending;
	uint64_t accepted;
	struct msg_config cfg;
	struct heartbeat hb;
	pid_t ppid;
	int configured;
};

static void accept_interest(struct listener *l, int on)
{
	if (on && !l->accepting && !l->draining)
		event_add(&l->ev_accept, NULL);
	else if (!on && l->accepting)
		event_del(&l->ev_accept);
	l->accepting = on && !l->draining;
}

/* 0 sent (our copy closed), -1 channel full: hold it and wait. */
static int hand_over(struct listener *l, int fd, const struct msg_conn *mc)
{
	if (msg_send(FD_MANAGER, MSG_CONN, mc, sizeof(*mc), &fd, 1) == -1) {
		if (errno != EAGAIN && errno != ENOBUFS) {
			/* No wait would mend it: drop this one rather than spin. */
			log_warn("connection to manager dropped");
			close(fd);
			return 0;
		}
		l->pending_fd = fd;
		l->pending = *mc;
		accept_interest(l, 0);
		event_add(&l->ev_channel, NULL);
		return -1;
	}
	close(fd);
	return 0;
}

/* The manager channel has room again: hand over the held connection, then accept again (or exit).
 */
static void channel_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	int cfd = l->pending_fd;

	l->pending_fd = -1;
	if (hand_over(l, cfd, &l->pending) == -1)
		return;
	if (l->draining)
		event_base_loopexit(l->base, NULL);
	else
		accept_interest(l, 1);
}

static void pause_cb(evutil_socket_t fd, short what, void *arg) { accept_interest(arg, 1); }

/* Out of descriptors: pause accepting for a moment instead of spinning. */
static void accept_pause(struct listener *l)
{
	struct timeval tv = clock_tv(EMFILE_PAUSE_MS);

	log_warn("accept paused for %d ms", EMFILE_PAUSE_MS);
	accept_interest(l, 0);
	evtimer_add(&l->ev_pause, &tv);
}

/* Accept up to max connections and hand each over. */
static void accept_some(struct listener *l, int lfd, int max)
{
	struct msg_conn mc;
	socklen_t slen;
	int fd;

	for (int i = 0; i < max && l->pending_fd < 0; i++) {
		memset(&mc, 0, sizeof(mc));
		slen = sizeof(mc.peer);
		fd = accept4(lfd, (struct sockaddr *)&mc.peer, &slen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				accept_pause(l);
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		mc.peerlen = slen;
		l->accepted++;
		if (hand_over(l, fd, &mc) == -1)
			return;
	}
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	accept_some(arg, lfd, ACCEPT_BATCH);
}

/*
 * Stop accepting. When the whole server stops (take_backlog), first take
 * what already waits in the kernel backlog - those clients have sent their
 * requests, and closing the socket would reset them. On a graceful restart
 * the replacement accepts them instead.
 */
static void listener_drain(struct listener *l, int take_backlog)
{
	if (l->draining)
		return;
	if (take_backlog && l->configured)
		accept_some(l, FD_LISTEN, BACKLOG_TAKE_MAX);
	accept_interest(l, 0);
	l->draining = 1;
	log_info("stopped accepting after %llu connections", (unsigned long long)l->accepted);
	if (l->pending_fd < 0)
		event_base_loopexit(l->base, NULL);
	/* else channel_cb hands the last one over first */
}

static void heartbeat_fill(void *arg, struct msg_heartbeat *hb)
{
	struct listener *l = arg;

	hb->accepted = l->accepted;
	hb->held = l->pending_fd >= 0;
}

static void listener_configure(struct listener *l, const struct msg_config *cfg)
{
	if (l->configured)
		return; /* a replacement may find its predecessor's copy queued too */
	l->configured = 1;
	l->cfg = *cfg;
	log_setlevel((enum log_level)cfg->log_level);
	accept_interest(l, 1);
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
			listener_drain(l, 1);
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
		listener_drain(l, 0);
	} else if (errno == EBADMSG)
		log_warnx("malformed message from daemon, dropped");
}

/* SIGTERM to our pid: the daemon starts a replacement while we hand over. */
static void sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct listener *l = arg;

	if (!l->draining && getppid() == l->ppid &&
	    msg_send(FD_PARENT, MSG_DRAINING, NULL, 0, NULL, 0) == -1)
		log_warn("draining notice to daemon");
	listener_drain(l, 0);
}

int listener_main(void)
{
	struct listener l = {.pending_fd = -1};

	proc_child_init("listener");
	l.ppid = getppid();
	if ((l.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	heartbeat_base_init(l.base);
	event_assign(&l.ev_accept, l.base, FD_LISTEN, EV_READ | EV_PERSIST, accept_cb, &l);
	event_assign(&l.ev_channel, l.base, FD_MANAGER, EV_WRITE, channel_cb, &l);
	evtimer_assign(&l.ev_pause, l.base, pause_cb, &l);
	event_assign(&l.ev_parent, l.base, FD_PARENT, EV_READ | EV_PERSIST, parent_cb, &l);
	event_add(&l.ev_parent, NULL);
	evsignal_assign(&l.ev_term, l.base, SIGTERM, sigterm_cb, &l);
	evsignal_add(&l.ev_term, NULL);
	event_base_dispatch(l.base);
	log_info("exiting");
	event_base_free(l.base);
	return 0;
}
