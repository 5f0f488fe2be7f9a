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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "clock.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "msg.h"
#include "proc.h"
#include "supervise.h"
#include "wtable.h"

#define MAX_KIDS 8 /* current listener and manager, plus draining ones */

enum { ROLE_LISTENER, ROLE_MANAGER, NROLES };
static const char *const role_names[NROLES] = {"listener", "manager"};

/* One supervised process: its table entry and the channel we talk to it on. */
struct kid {
	struct sv_child sv;
	int role;
	int chan, peer; /* our end, and the child's end we keep for restarts */
	struct event ev_read;
	struct daemon *d;
};

enum stop_phase { STOP_NONE, STOP_GRACEFUL, STOP_TERM, STOP_KILL };

struct daemon {
	struct event_base *base;
	struct wsd_config cfg;
	struct msg_config mc;
	struct proc_creds creds;
	int listenfd, logfd, accessfd, rootfd;
	int lm[2]; /* listener -> manager */
	int wl[2]; /* workers -> listener */
	struct kid kids[MAX_KIDS];
	struct kid *cur[NROLES]; /* the listener and the manager now serving */
	struct wtable workers;   /* the current manager's pool, as it last reported it */
	struct msg_heartbeat retired[NROLES]; /* figures of roles that have exited */
	struct event ev_restart[NROLES];
	enum stop_phase stopping;
	unsigned stopped_graceful, stopped_term, stopped_kill, stopped_error;
	uint64_t stopped_cut; /* connections closed at a drain deadline during the stop */
	int ready;
	uint64_t last_check_ms; /* to notice that we ourselves were stalled */
	struct event ev_term, ev_int, ev_quit, ev_hup, ev_chld, ev_usr1, ev_usr2;
	struct event ev_check, ev_stop1, ev_stop2;
	char url[300];
};

static void kid_start(struct kid *k);

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
	                    .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
	                *res;
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
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1 || listen(fd, d->cfg.backlog) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &slen) == -1) {
		log_error("cannot listen on %s:%s: %s, exiting", d->cfg.listen_host, port,
		    strerror(errno));
		freeaddrinfo(res);
		if (fd != -1)
			close(fd);
		return -1;
	}
	freeaddrinfo(res);
	getnameinfo((struct sockaddr *)&ss, slen, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(d->url, sizeof(d->url),
	    ss.ss_family == AF_INET6 ? "http://[%s]:%s/" : "http://%s:%s/", host, port);
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
	mc->pool_idle_timeout_ms = c->pool_idle_timeout_ms;
	mc->keepalive_timeout_ms = c->keepalive_timeout_ms;
	mc->header_timeout_ms = c->header_timeout_ms;
	mc->heartbeat_interval_ms = c->heartbeat_interval_ms;
	mc->heartbeat_misses = c->heartbeat_misses;
	mc->startup_timeout_ms = c->startup_timeout_ms;
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

static uint32_t hb_interval(struct daemon *d) { return d->cfg.heartbeat_interval_ms; }

static int kid_spawn(struct kid *k)
{
	struct daemon *d = k->d;
	struct proc_fdmap lmap[] = {
	    {d->logfd, FD_LOG},
	    {d->accessfd, FD_ACCESS},
	    {k->peer, FD_PARENT},
	    {d->listenfd, FD_LISTEN},
	    {d->lm[0], FD_MANAGER},
	    {d->wl[0], FD_WORKERS},
	};
	struct proc_fdmap mmap[] = {
	    {d->logfd, FD_LOG},
	    {d->accessfd, FD_ACCESS},
	    {k->peer, FD_PARENT},
	    {d->lm[1], FD_FROM_LISTENER},
	    {d->wl[1], FD_WORKER_LINK},
	    {d->rootfd, FD_ROOT},
	};
	pid_t pid = k->role == ROLE_LISTENER ? proc_spawn("listener", lmap, 6, &d->creds) :
	                                       proc_spawn("manager", mmap, 6, &d->creds);

	if (pid == -1)
		return -1;
	sv_started(&k->sv, pid, clock_now_ms());
	return 0;
}

static void kid_read_cb(evutil_socket_t fd, short what, void *arg);
static void restart_cb(evutil_socket_t fd, short what, void *arg);

/* A table entry with a fresh channel. */
static struct kid *kid_new(struct daemon *d, int role)
{
	struct kid *k = NULL;
	int sp[2];

	for (int i = 0; i < MAX_KIDS && !k; i++)
		if (d->kids[i].sv.state == SV_FREE)
			k = &d->kids[i];
	if (k == NULL || make_channel(sp, role_names[role]) == -1)
		return NULL;
	memset(&k->sv, 0, sizeof(k->sv));
	k->sv.role = role_names[role];
	k->sv.state = SV_STOPPED;
	k->role = role;
	k->d = d;
	k->chan = sp[0];
	k->peer = sp[1];
	event_assign(&k->ev_read, d->base, k->chan, EV_READ | EV_PERSIST, kid_read_cb, k);
	event_add(&k->ev_read, NULL);
	if (d->cur[role] == NULL)
		evtimer_assign(&d->ev_restart[role], d->base, restart_cb, k);
	return k;
}

static void kid_free(struct kid *k)
{
	event_del(&k->ev_read);
	close(k->chan);
	close(k->peer);
	k->sv.state = SV_FREE;
}

static void restart_cb(evutil_socket_t fd, short what, void *arg) { kid_start(arg); }

static void kid_schedule(struct kid *k, uint32_t delay_ms)
{
	struct timeval tv = clock_tv(delay_ms);

	evtimer_del(&k->d->ev_restart[k->role]);
	evtimer_assign(&k->d->ev_restart[k->role], k->d->base, restart_cb, k);
	evtimer_add(&k->d->ev_restart[k->role], &tv);
}

static void kid_start(struct kid *k)
{
	struct daemon *d = k->d;

	if (d->stopping)
		return;
	if (kid_spawn(k) == -1) {
		kid_schedule(k, SV_BACKOFF_MAX_MS);
		return;
	}
	if (msg_send(k->chan, MSG_CONFIG, &d->mc, sizeof(d->mc), NULL, 0) == -1)
		log_warn("config to %s", k->sv.role);
	log_info("started %s, pid %d", k->sv.role, (int)k->sv.pid);
}

static void kid_ready(struct kid *k)
{
	struct daemon *d = k->d;

	sv_ready(&k->sv, clock_now_ms());
	if (!d->ready && d->cur[ROLE_LISTENER]->sv.state == SV_RUNNING &&
	    d->cur[ROLE_MANAGER]->sv.state == SV_RUNNING) {
		d->ready = 1;
		log_info("ready: serving %s at %s", d->cfg.root, d->url);
	}
}

/*
 * The child was told to stop (SIGTERM to its pid) and is draining: it
 * keeps its own channel to the end; the replacement starts now on a fresh
 * control channel and the same data channels.
 */
static void kid_draining(struct kid *k)
{
	struct daemon *d = k->d;
	struct kid *next;

	if (k->sv.state == SV_DRAINING || d->stopping)
		return;
	k->sv.state = SV_DRAINING;
	if (d->cur[k->role] != k || (next = kid_new(d, k->role)) == NULL) {
		log_info("%s %d draining", k->sv.role, (int)k->sv.pid);
		return;
	}
	next->sv.restarts = k->sv.restarts + 1;
	d->cur[k->role] = next;
	log_info("%s %d draining, starting its replacement", k->sv.role, (int)k->sv.pid);
	kid_start(next);
}

/* Only the manager now serving speaks for the pool. */
static void kid_worker_table(struct kid *k, const struct msg_worker_page *p)
{
	struct daemon *d = k->d;

	if (k != d->cur[ROLE_MANAGER])
		return;
	if (wtable_page(&d->workers, p, clock_now_ms()) == -1)
		log_debug("worker table page %u/%u of generation %u out of sequence, dropped",
		    p->page, p->pages, p->generation);
}

static void kid_msg(struct kid *k, struct msg *m)
{
	switch (m->hdr.type) {
	case MSG_HEARTBEAT:
		sv_heartbeat(&k->sv, &m->u.heartbeat, clock_now_ms());
		break;
	case MSG_READY:
		kid_ready(k);
		break;
	case MSG_WORKER_TABLE:
		kid_worker_table(k, &m->u.wpage);
		break;
	case MSG_DRAINING:
		kid_draining(k);
		break;
	default:
		log_warnx("unexpected %s message from %s", msg_type_name(m->hdr.type), k->sv.role);
		msg_close_fds(m);
	}
}

static void kid_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kid *k = arg;
	struct msg m;
	int rc;

	while ((rc = msg_recv(fd, &m)) == 1)
		kid_msg(k, &m);
	if (rc == -1 && errno == EBADMSG)
		log_warnx("malformed message from %s, dropped", k->sv.role);
}

/* A verdict of sv_check: say why, and kill (SIGTERM cannot reach a stopped or wedged process). */
static void kid_kill_silent(struct kid *k, enum sv_verdict v)
{
	if (v == SV_DID_NOT_START)
		log_warnx("lost child: pid %d %s (did not start: no heartbeat %u ms after the "
		          "fork), killing it",
		    (int)k->sv.pid, k->sv.role, k->sv.hung_ms);
	else
		log_warnx("lost child: pid %d %s (hung: no heartbeat for %u ms), killing it",
		    (int)k->sv.pid, k->sv.role, k->sv.hung_ms);
	kill(k->sv.pid, SIGKILL);
}

/* Every heartbeat.interval: a child silent for heartbeat.misses intervals is hung. */
static void check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct sv_limits lim = {hb_interval(d), d->cfg.heartbeat_misses, d->cfg.startup_timeout_ms};
	enum sv_verdict v;
	uint64_t now, late;

	/*
	 * This timer runs before channel reads: take the heartbeats already
	 * waiting first, or a daemon that was itself short of CPU would blame
	 * its children for its own delay.
	 */
	for (int i = 0; i < MAX_KIDS; i++)
		if (d->kids[i].sv.state != SV_FREE)
			kid_read_cb(d->kids[i].chan, EV_READ, &d->kids[i]);
	now = clock_now_ms();
	late = now - d->last_check_ms;
	d->last_check_ms = now;
	if (late > hb_interval(d))
		log_debug("checked %llu ms late: we were stalled, so were they",
		    (unsigned long long)late);
	for (int i = 0; i < MAX_KIDS; i++) {
		struct kid *k = &d->kids[i];

		if (late > hb_interval(d))
			sv_forgive(&k->sv, late - hb_interval(d) / 2, now);
		if ((v = sv_check(&k->sv, now, &lim)) != SV_FINE)
			kid_kill_silent(k, v);
	}
}

/* ", N connections closed at the drain deadline", or nothing when none was. */
static void cut_note(char *buf, size_t len, uint64_t cut)
{
	buf[0] = '\0';
	if (cut)
		snprintf(buf, len, ", %llu connection%s closed at the drain deadline",
		    (unsigned long long)cut, log_s(cut));
}

/* How one child ended during a stop, for the outcome. */
static void stop_note(struct daemon *d, struct kid *k, pid_t pid)
{
	static const char *const how[] = {"", "gracefully", "after SIGTERM", "by SIGKILL"};
	char cuts[80];

	d->stopped_cut += k->sv.figures.cut;
	cut_note(cuts, sizeof(cuts), k->sv.figures.cut);
	if (strcmp(k->sv.last_exit, "exit 0") != 0 && d->stopping == STOP_GRACEFUL) {
		d->stopped_error++;
		log_warnx("%s %d failed while stopping (%s)%s", k->sv.role, (int)pid,
		    k->sv.last_exit, cuts);
		return;
	}
	log_info("%s %d stopped %s (%s)%s", k->sv.role, (int)pid, how[d->stopping], k->sv.last_exit,
	    cuts);
	d->stopped_graceful += d->stopping == STOP_GRACEFUL;
	d->stopped_term += d->stopping == STOP_TERM;
	d->stopped_kill += d->stopping == STOP_KILL;
}

static void kid_exited(struct kid *k, int status)
{
	struct daemon *d = k->d;
	pid_t pid = k->sv.pid;
	enum sv_state was = k->sv.state;
	uint32_t delay;
	char cuts[80];

	kid_read_cb(k->chan, EV_READ, k); /* its last heartbeat: what it cut at its deadline */
	delay = sv_exited(&k->sv, status, clock_now_ms());
	if (d->stopping) {
		stop_note(d, k, pid);
	} else if (d->cur[k->role] != k) {
		cut_note(cuts, sizeof(cuts), k->sv.figures.cut);
		log_info(
		    "%s %d finished draining (%s)%s", k->sv.role, (int)pid, k->sv.last_exit, cuts);
		kid_free(k);
	} else {
		if (!k->sv.hung_ms)
			log_warnx("lost child: pid %d %s (%s), was %s", (int)pid, k->sv.role,
			    k->sv.last_exit, sv_state_name(was));
		k->sv.restarts++;
		log_info("restarting %s in %u ms (restart %u)", k->sv.role, delay, k->sv.restarts);
		kid_schedule(k, delay);
	}
	sv_retire_figures(&k->sv, &d->retired[k->role]);
}

/* Reopen one log file onto the descriptor we hold and hand it to our children. */
static void reopen_one(struct daemon *d, const char *path, int fd, enum msg_type type)
{
	int nfd;

	if (path[0] == '\0' || fd < 0)
		return;
	if ((nfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) == -1) {
		log_warn("reopen %s, keeping the old file", path);
		return;
	}
	dup2(nfd, fd);
	close(nfd);
	for (int i = 0; i < MAX_KIDS; i++)
		if (d->kids[i].sv.pid > 0 && msg_send(d->kids[i].chan, type, NULL, 0, &fd, 1) == -1)
			log_warn(
			    "reopened log to %s %d", d->kids[i].sv.role, (int)d->kids[i].sv.pid);
}

/* SIGUSR1, as for nginx: after logrotate moved the files away. */
static void sigusr1_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	reopen_one(d, d->cfg.log_file, d->logfd, MSG_LOG_ERROR);
	reopen_one(d, d->cfg.access_log, d->accessfd, MSG_LOG_ACCESS);
	log_info("logs reopened");
}

/* Log the supervision table (SIGUSR2). */
/* The workers, as the manager last reported them. */
static void log_workers(struct daemon *d, uint64_t now)
{
	if (!d->workers.valid) {
		log_info("worker     (no table from the manager yet)");
		return;
	}
	for (uint32_t i = 0; i < d->workers.ncur; i++) {
		const struct msg_worker_entry *e = &d->workers.cur[i];

		log_info("%-9s %6d  %-8s %6llu  %11llu  %6u  %8u  %s", "worker", (int)e->pid,
		    sv_state_name((enum sv_state)e->state),
		    (unsigned long long)(e->uptime_ms / 1000), (unsigned long long)e->hb_age_ms,
		    e->missed, e->restarts, e->last_exit[0] ? e->last_exit : "-");
	}
	log_info("worker table: %u %s, as of %llu ms ago", d->workers.ncur,
	    d->workers.ncur == 1 ? "worker" : "workers",
	    (unsigned long long)(now - d->workers.at_ms));
}

static void log_table(struct daemon *d)
{
	uint64_t now = clock_now_ms();

	log_info("role       pid     state     up(s)  last-hb(ms)  missed  restarts  last-exit");
	for (int i = 0; i < MAX_KIDS; i++) {
		struct sv_child *s = &d->kids[i].sv;

		if (s->state == SV_FREE)
			continue;
		log_info("%-9s %6d  %-8s %6llu  %11llu  %6u  %8u  %s", s->role, (int)s->pid,
		    sv_state_name(s->state), (unsigned long long)(now - s->started_ms) / 1000,
		    (unsigned long long)(now - s->last_hb_ms), sv_missed(s, now, hb_interval(d)),
		    s->restarts, s->last_exit[0] ? s->last_exit : "-");
	}
	log_workers(d, now);
}

static void sigusr2_cb(evutil_socket_t sig, short what, void *arg) { log_table(arg); }

/* ---- stopping ---- */

static void signal_one(pid_t pid, void *arg) { kill(pid, *(int *)arg); }

/*
 * Signal every child we have, including workers re-parented to us: the
 * table's pids, then every pid the kernel lists as our child (never a
 * process group, never a pid that is not our unreaped child).
 */
static void signal_all(struct daemon *d, int sig)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (d->kids[i].sv.pid > 0)
			kill(d->kids[i].sv.pid, sig);
	if (proc_each_child(signal_one, &sig) == -1)
		log_warn("our children, for SIG%s", sigabbrev_np(sig));
}

static int kids_alive(struct daemon *d)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (d->kids[i].sv.pid > 0)
			return 1;
	return 0;
}

static void daemon_maybe_exit(struct daemon *d)
{
	if (!d->stopping || kids_alive(d) || proc_has_children())
		return;
	log_info("stop outcome: %u stopped gracefully, %u after SIGTERM, %u killed, %u failed; "
	         "%llu connection%s closed at the drain deadline",
	    d->stopped_graceful, d->stopped_term, d->stopped_kill, d->stopped_error,
	    (unsigned long long)d->stopped_cut, log_s(d->stopped_cut));
	event_base_loopexit(d->base, NULL);
}

static void stop_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	struct timeval tv = {1, 0};

	log_warnx("children still running after SIGTERM: SIGKILL");
	d->stopping = STOP_KILL;
	signal_all(d, SIGKILL);
	/* Again each second: a worker re-parented to us after this round is caught by the next. */
	evtimer_add(&d->ev_stop2, &tv);
}

static void stop_term_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = {1, 0};

	log_warnx("shutdown_timeout passed: SIGTERM to what is left");
	d->stopping = STOP_TERM;
	signal_all(d, SIGTERM);
	evtimer_assign(&d->ev_stop2, d->base, stop_kill_cb, d);
	evtimer_add(&d->ev_stop2, &tv);
}

static void tell_shutdown(struct kid *k)
{
	if (k->sv.pid <= 0)
		return;
	if (msg_send(k->chan, MSG_SHUTDOWN, NULL, 0, NULL, 0) == -1)
		kill(k->sv.pid, SIGTERM);
	k->sv.state = SV_DRAINING;
}

static int listeners_alive(struct daemon *d)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (d->kids[i].role == ROLE_LISTENER && d->kids[i].sv.pid > 0)
			return 1;
	return 0;
}

/* The manager drains after the listeners have gone, so nothing is left in their channel. */
static void stop_managers_when_listeners_gone(struct daemon *d)
{
	if (!d->stopping || listeners_alive(d))
		return;
	if (d->listenfd >= 0) {
		close(d->listenfd); /* no listener any more: free the port */
		d->listenfd = -1;
	}
	for (int i = 0; i < MAX_KIDS; i++)
		if (d->kids[i].role == ROLE_MANAGER && d->kids[i].sv.pid > 0 &&
		    d->kids[i].sv.state != SV_DRAINING)
			tell_shutdown(&d->kids[i]);
}

/*
 * The manager takes all the listener sends from now on, even with every
 * worker full, so the listener can empty the kernel backlog before it
 * exits (and we close the listening socket, which would reset the rest).
 */
static void tell_stopping(struct daemon *d)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (d->kids[i].role == ROLE_MANAGER && d->kids[i].sv.pid > 0 &&
		    msg_send(d->kids[i].chan, MSG_STOPPING, NULL, 0, NULL, 0) == -1)
			log_warn("stopping notice to manager %d", (int)d->kids[i].sv.pid);
}

static void daemon_stop(struct daemon *d, const char *why)
{
	uint32_t ms = d->cfg.shutdown_timeout_ms + 500;
	struct timeval tv = clock_tv(ms);

	if (d->stopping)
		return;
	d->stopping = STOP_GRACEFUL;
	log_info("%s: stopping", why);
	for (int r = 0; r < NROLES; r++)
		evtimer_del(&d->ev_restart[r]);
	for (int i = 0; i < MAX_KIDS; i++)
		if (d->kids[i].role == ROLE_LISTENER)
			tell_shutdown(&d->kids[i]);
	tell_stopping(d);
	stop_managers_when_listeners_gone(d);
	evtimer_assign(&d->ev_stop1, d->base, stop_term_cb, d);
	evtimer_add(&d->ev_stop1, &tv);
	daemon_maybe_exit(d);
}

static void sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	daemon_stop(arg, sig == SIGINT ? "SIGINT" : sig == SIGQUIT ? "SIGQUIT" : "SIGTERM");
}

/* No configuration reload yet: say so rather than die as SIGHUP's default would. */
static void sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	log_warnx("SIGHUP ignored: configuration reload is not supported; "
	          "SIGUSR1 reopens the logs, SIGTERM stops");
}

static struct kid *kid_by_pid(struct daemon *d, pid_t pid)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (d->kids[i].sv.state != SV_FREE && d->kids[i].sv.pid == pid)
			return &d->kids[i];
	return NULL;
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct kid *k;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((k = kid_by_pid(d, pid)) != NULL)
			kid_exited(k, status);
		else
			log_debug("reaped orphan %d", (int)pid); /* a worker whose manager died */
	}
	stop_managers_when_listeners_gone(d);
	daemon_maybe_exit(d);
}

/* ---- main ---- */

/*
 * Every connection is a descriptor in some process, and descriptors in
 * flight between ours count against the sender's limit: raise the soft
 * RLIMIT_NOFILE to the hard one (children inherit it). Only the soft one,
 * so a hard limit set from outside is kept.
 */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit RLIMIT_NOFILE");
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			log_warn("raising RLIMIT_NOFILE from %llu", (unsigned long long)was);
			return;
		}
	}
	log_info("descriptor limit %llu", (unsigned long long)rl.rlim_cur);
}

static int daemon_setup(struct daemon *d)
{
	if (resolve_user(d) == -1)
		return 1;
	if ((d->logfd = open_log(d->cfg.log_file, 2)) == -1)
		return 3;
	d->accessfd = -1;
	if (d->cfg.access_log_on && (d->accessfd = open_log(d->cfg.access_log, 2)) == -1)
		return 3;
	log_init(d->logfd, d->cfg.log_level);
	raise_nofile();
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
	if ((d->base = event_base_new()) == NULL || event_base_priority_init(d->base, 2) == -1 ||
	    make_channel(d->lm, "listener-manager") == -1 ||
	    make_channel(d->wl, "workers-listener") == -1 ||
	    (d->cur[ROLE_LISTENER] = kid_new(d, ROLE_LISTENER)) == NULL ||
	    (d->cur[ROLE_MANAGER] = kid_new(d, ROLE_MANAGER)) == NULL)
		return 3;
	return 0;
}

static void daemon_signals(struct daemon *d)
{
	signal(SIGPIPE, SIG_IGN);
	evsignal_assign(&d->ev_term, d->base, SIGTERM, sigterm_cb, d);
	evsignal_assign(&d->ev_int, d->base, SIGINT, sigterm_cb, d);
	evsignal_assign(&d->ev_chld, d->base, SIGCHLD, sigchld_cb, d);
	evsignal_assign(&d->ev_usr1, d->base, SIGUSR1, sigusr1_cb, d);
	evsignal_add(&d->ev_usr1, NULL);
	evsignal_assign(&d->ev_usr2, d->base, SIGUSR2, sigusr2_cb, d);
	evsignal_add(&d->ev_usr2, NULL);
	evsignal_assign(&d->ev_quit, d->base, SIGQUIT, sigterm_cb, d);
	evsignal_add(&d->ev_quit, NULL);
	evsignal_assign(&d->ev_hup, d->base, SIGHUP, sighup_cb, d);
	evsignal_add(&d->ev_hup, NULL);
	evsignal_add(&d->ev_term, NULL);
	evsignal_add(&d->ev_int, NULL);
	evsignal_add(&d->ev_chld, NULL);
}

int daemon_run(const struct wsd_config *cfg)
{
	struct daemon d = {.listenfd = -1};
	struct timeval check_tv;
	int rc;

	d.cfg = *cfg;
	log_setrole("daemon");
	if ((rc = daemon_setup(&d)) != 0)
		return rc;
	daemon_signals(&d);
	log_info("wsd starting: root %s, pool %u..%u", d.cfg.root, d.cfg.pool_min, d.cfg.pool_max);
	kid_start(d.cur[ROLE_LISTENER]);
	kid_start(d.cur[ROLE_MANAGER]);
	/* Checked twice an interval, so a hang is seen at most half an interval late. */
	event_assign(&d.ev_check, d.base, -1, EV_PERSIST, check_cb, &d);
	event_priority_set(&d.ev_check, 0);
	d.last_check_ms = clock_now_ms();
	check_tv = clock_tv(hb_interval(&d) / 2);
	event_add(&d.ev_check, &check_tv);
	event_base_dispatch(d.base);
	log_info("stopped");
	event_base_free(d.base);
	wtable_free(&d.workers);
	return 0;
}
