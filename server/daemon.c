/*
 * The daemon: root of the process tree. It binds the listening socket and
 * keeps it for its whole life, creates every channel and keeps its own ends,
 * starts the listener and the manager, restarts them when they die, and
 * stops everything - gracefully first - on SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "msg.h"
#include "proc.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STABLE_MS 60000
#define KILL_GRACE_MS 1000

enum child_state { S_STOPPED, S_STARTING, S_RUNNING, S_DRAINING };
static const char *const state_names[] = {"stopped", "starting", "running", "draining"};

struct child {
	const char *role;
	enum child_state state;
	pid_t pid;
	int chan, peer;            /* our end, and the child's end we keep for restarts */
	struct event ev_read, ev_restart;
	uint64_t started_ms;
	uint32_t backoff_ms;
	unsigned restarts;
	char last_exit[64];
	struct daemon *d;
};

struct daemon {
	struct event_base *base;
	struct wsd_config cfg;
	struct msg_config mc;
	struct proc_creds creds;
	int listenfd, logfd, accessfd, rootfd;
	int lm[2];                 /* listener -> manager */
	int wl[2];                 /* workers -> listener */
	struct child listener, manager;
	int stopping, ready;
	struct event ev_term, ev_int, ev_chld, ev_stop1, ev_stop2;
	char url[300];
};

static void child_start(struct child *c);

/* ---- start-up ---- */

static int open_log(const char *path, int fallback)
{
	int fd;

	if (path[0] == '\0')
		return fcntl(fallback, F_DUPFD_CLOEXEC, 10);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		fprintf(stderr, "wsd: cannot open log %s: %s\n", path, strerror(errno));
	return fd;
}

static int bind_listen(struct daemon *d)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res;
	char port[8], host[NI_MAXHOST];
	struct sockaddr_storage ss;
	socklen_t slen = sizeof(ss);
	int fd, one = 1, rc;

	snprintf(port, sizeof(port), "%u", d->cfg.listen_port);
	if ((rc = getaddrinfo(d->cfg.listen_host, port, &hints, &res)) != 0) {
		log_error("listen %s: %s", d->cfg.listen_host, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, d->cfg.backlog) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &slen) == -1) {
		log_warn("cannot listen on %s:%s", d->cfg.listen_host, port);
		freeaddrinfo(res);
		if (fd != -1)
			close(fd);
		return -1;
	}
	freeaddrinfo(res);
	getnameinfo((struct sockaddr *)&ss, slen, host, sizeof(host), port,
	    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(d->url, sizeof(d->url), ss.ss_family == AF_INET6 ?
	    "http://[%s]:%s/" : "http://%s:%s/", host, port);
	d->listenfd = fd;
	return 0;
}

/* Started as root: children run as server.user (default nobody). */
static int resolve_user(struct daemon *d)
{
	const char *name = d->cfg.user[0] ? d->cfg.user : "nobody";
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(name)) == NULL) {
		log_error("server.user: no such user '%s'", name);
		return -1;
	}
	d->creds = (struct proc_creds){1, pw->pw_uid, pw->pw_gid};
	return 0;
}

static void fill_msg_config(struct daemon *d)
{
	struct msg_config *mc = &d->mc;
	const struct wsd_config *c = &d->cfg;

	memset(mc, 0, sizeof(*mc));
	snprintf(mc->root, sizeof(mc->root), "%s", c->root);
	mc->pool_min = c->pool_min;
	mc->pool_max = c->pool_max;
	mc->pool_limit = c->pool_limit;
	mc->max_workload = c->max_workload;
	mc->keepalive_timeout_ms = c->keepalive_timeout_ms;
	mc->header_timeout_ms = c->header_timeout_ms;
	mc->heartbeat_interval_ms = c->heartbeat_interval_ms;
	mc->heartbeat_misses = c->heartbeat_misses;
	mc->shutdown_timeout_ms = c->shutdown_timeout_ms;
	mc->log_level = (uint32_t)c->log_level;
	mc->has_access_log = d->accessfd >= 0;
}

static int make_channel(int sp[2], const char *what)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) == 0)
		return 0;
	log_warn("socketpair %s", what);
	return -1;
}

/* ---- children ---- */

static int child_spawn(struct child *c)
{
	struct daemon *d = c->d;
	int is_listener = c == &d->listener;
	struct proc_fdmap lmap[] = {
		{d->logfd, FD_LOG}, {d->accessfd, FD_ACCESS}, {c->peer, FD_PARENT},
		{d->listenfd, FD_LISTEN}, {d->lm[0], FD_MANAGER}, {d->wl[0], FD_WORKERS},
	};
	struct proc_fdmap mmap[] = {
		{d->logfd, FD_LOG}, {d->accessfd, FD_ACCESS}, {c->peer, FD_PARENT},
		{d->lm[1], FD_FROM_LISTENER}, {d->wl[1], FD_WORKER_LINK},
		{d->rootfd, FD_ROOT},
	};

	c->pid = is_listener ? proc_spawn(c->role, lmap, 6, &d->creds) :
	    proc_spawn(c->role, mmap, 6, &d->creds);
	return c->pid == -1 ? -1 : 0;
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	child_start(arg);
}

static void child_start(struct child *c)
{
	struct daemon *d = c->d;
	struct timeval tv;

	if (d->stopping)
		return;
	if (child_spawn(c) == -1) {
		c->backoff_ms = c->backoff_ms ? c->backoff_ms : BACKOFF_MIN_MS;
		tv = (struct timeval){c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
		evtimer_add(&c->ev_restart, &tv);
		return;
	}
	c->state = S_STARTING;
	c->started_ms = proc_now_ms();
	if (msg_send(c->chan, MSG_CONFIG, &d->mc, sizeof(d->mc), NULL, 0) == -1)
		log_warn("config to %s", c->role);
	log_info("started %s, pid %d", c->role, (int)c->pid);
}

static void child_ready(struct child *c)
{
	struct daemon *d = c->d;

	c->state = S_RUNNING;
	if (!d->ready && d->listener.state == S_RUNNING && d->manager.state == S_RUNNING) {
		d->ready = 1;
		log_info("ready: serving %s at %s", d->cfg.root, d->url);
	}
}

static void child_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	struct msg m;
	int rc;

	while ((rc = msg_recv(fd, &m)) == 1) {
		if (m.hdr.type == MSG_READY)
			child_ready(c);
		else {
			log_warnx("unexpected %s message from %s",
			    msg_type_name(m.hdr.type), c->role);
			msg_close_fds(&m);
		}
	}
	if (rc == -1 && errno == EBADMSG)
		log_warnx("malformed message from %s, dropped", c->role);
}

/* Crash loops back off: 100 ms doubling to 5 s, reset after a minute of stable running. */
static void child_schedule_restart(struct child *c)
{
	uint64_t ran = proc_now_ms() - c->started_ms;
	struct timeval tv;

	if (ran >= STABLE_MS || c->backoff_ms == 0)
		c->backoff_ms = BACKOFF_MIN_MS;
	else if ((c->backoff_ms *= 2) > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	c->restarts++;
	tv = (struct timeval){c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
	evtimer_add(&c->ev_restart, &tv);
	log_info("restarting %s in %u ms (restart %u)", c->role, c->backoff_ms, c->restarts);
}

static void child_exited(struct child *c, int status)
{
	struct daemon *d = c->d;

	proc_describe_status(status, c->last_exit, sizeof(c->last_exit));
	if (d->stopping)
		log_info("%s %d stopped (%s)", c->role, (int)c->pid, c->last_exit);
	else
		log_warnx("lost child: pid %d %s (%s), was %s", (int)c->pid,
		    c->role, c->last_exit, state_names[c->state]);
	c->pid = 0;
	c->state = S_STOPPED;
	if (!d->stopping)
		child_schedule_restart(c);
}

static int child_init(struct daemon *d, struct child *c, const char *role)
{
	int sp[2];

	if (make_channel(sp, role) == -1)
		return -1;
	c->d = d;
	c->role = role;
	c->chan = sp[0];
	c->peer = sp[1];
	event_assign(&c->ev_read, d->base, c->chan, EV_READ | EV_PERSIST, child_read_cb, c);
	event_add(&c->ev_read, NULL);
	evtimer_assign(&c->ev_restart, d->base, restart_cb, c);
	return 0;
}

/* ---- stopping ---- */

static int children_left(void)
{
	return waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD;
}

/* Signal every child we have, including workers re-parented to us. */
static void signal_all(struct daemon *d, int sig)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	if (d->listener.pid > 0)
		kill(d->listener.pid, sig);
	if (d->manager.pid > 0)
		kill(d->manager.pid, sig);
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (char *p = buf, *e; *p; p = e) {
		long pid = strtol(p, &e, 10);

		if (e == p)
			break;
		if (pid > 1)
			kill((pid_t)pid, sig);
	}
}

static void daemon_maybe_exit(struct daemon *d)
{
	if (d->stopping && d->listener.pid == 0 && d->manager.pid == 0 && !children_left())
		event_base_loopexit(d->base, NULL);
}

static void stop_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	log_warnx("children still running after SIGTERM: SIGKILL");
	signal_all(d, SIGKILL);
}

static void stop_term_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = {KILL_GRACE_MS / 1000, (KILL_GRACE_MS % 1000) * 1000};

	log_warnx("shutdown_timeout passed: SIGTERM to what is left");
	signal_all(d, SIGTERM);
	evtimer_assign(&d->ev_stop2, d->base, stop_kill_cb, d);
	evtimer_add(&d->ev_stop2, &tv);
}

static void tell(struct child *c, enum msg_type type)
{
	if (c->pid > 0 && msg_send(c->chan, type, NULL, 0, NULL, 0) == -1)
		kill(c->pid, SIGTERM);
	if (c->pid > 0)
		c->state = S_DRAINING;
}

/* The manager drains after the listener has gone, so nothing is left in their channel. */
static void stop_manager_when_listener_gone(struct daemon *d)
{
	if (!d->stopping || d->listener.pid != 0 || d->manager.state == S_DRAINING)
		return;
	if (d->listenfd >= 0) {
		close(d->listenfd);   /* no listener any more: free the port */
		d->listenfd = -1;
	}
	tell(&d->manager, MSG_SHUTDOWN);
}

static void daemon_stop(struct daemon *d, const char *why)
{
	uint32_t ms = d->cfg.shutdown_timeout_ms + 500;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (d->stopping)
		return;
	d->stopping = 1;
	log_info("%s: stopping", why);
	evtimer_del(&d->listener.ev_restart);
	evtimer_del(&d->manager.ev_restart);
	tell(&d->listener, MSG_SHUTDOWN);
	stop_manager_when_listener_gone(d);
	evtimer_assign(&d->ev_stop1, d->base, stop_term_cb, d);
	evtimer_add(&d->ev_stop1, &tv);
	daemon_maybe_exit(d);
}

static void sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	daemon_stop(arg, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == d->listener.pid)
			child_exited(&d->listener, status);
		else if (pid == d->manager.pid)
			child_exited(&d->manager, status);
		else
			log_debug("reaped orphan %d", (int)pid);   /* a worker whose manager died */
	}
	stop_manager_when_listener_gone(d);
	daemon_maybe_exit(d);
}

/* ---- main ---- */

static int daemon_setup(struct daemon *d)
{
	if (resolve_user(d) == -1)
		return 1;
	if ((d->logfd = open_log(d->cfg.log_file, 2)) == -1)
		return 3;
	d->accessfd = -1;
	if (d->cfg.access_log[0] && (d->accessfd = open_log(d->cfg.access_log, 2)) == -1)
		return 3;
	log_init(d->logfd, d->cfg.log_level);
	if (proc_init_self(0) == -1) {
		log_warn("cannot open our own binary");
		return 3;
	}
	if ((d->rootfd = open(d->cfg.root, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("server.root %s", d->cfg.root);
		return 1;
	}
	if (bind_listen(d) == -1)
		return 3;
	fill_msg_config(d);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if ((d->base = event_base_new()) == NULL ||
	    make_channel(d->lm, "listener-manager") == -1 ||
	    make_channel(d->wl, "workers-listener") == -1 ||
	    child_init(d, &d->listener, "listener") == -1 ||
	    child_init(d, &d->manager, "manager") == -1)
		return 3;
	return 0;
}

static void daemon_signals(struct daemon *d)
{
	signal(SIGPIPE, SIG_IGN);
	evsignal_assign(&d->ev_term, d->base, SIGTERM, sigterm_cb, d);
	evsignal_assign(&d->ev_int, d->base, SIGINT, sigterm_cb, d);
	evsignal_assign(&d->ev_chld, d->base, SIGCHLD, sigchld_cb, d);
	evsignal_add(&d->ev_term, NULL);
	evsignal_add(&d->ev_int, NULL);
	evsignal_add(&d->ev_chld, NULL);
}

int daemon_run(const struct wsd_config *cfg)
{
	struct daemon d = {.listenfd = -1};
	int rc;

	d.cfg = *cfg;
	log_setrole("daemon");
	if ((rc = daemon_setup(&d)) != 0)
		return rc;
	daemon_signals(&d);
	log_info("wsd starting: root %s, pool %u..%u", d.cfg.root, d.cfg.pool_min, d.cfg.pool_max);
	child_start(&d.listener);
	child_start(&d.manager);
	event_base_dispatch(d.base);
	log_info("stopped");
	event_base_free(d.base);
	return 0;
}
