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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "clock.h"
#include "ctlops.h"
#include "daemon_int.h"
#include "log.h"
#include "metricsd.h"
#include "notify.h"
#include "proxyproto.h"
#include "supervise.h"

const char *const daemon_role_names[NROLES] = {"listener", "manager"};

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

/* server.proxy_from, checked when it was read: parsed again into the roles' copy. */
static void daemon_fill_proxy_from(struct msg_config *mc, const struct wsd_config *c)
{
	char why[160];
	int n = proxy_from_parse(
	    c->proxy_from, mc->proxy_from, MSG_PROXY_FROM_MAX, why, sizeof(why));

	if (n < 0)
		fatalx("server.proxy_from: %s", why); /* config_set() checked it */
	mc->proxy_from_n = (uint32_t)n;
}

void daemon_fill_config(struct daemon *d)
{
	struct msg_config *mc = &d->mc;
	const struct wsd_config *c = &d->cfg;

	memset(mc, 0, sizeof(*mc));
	mc->generation = d->generation;
	snprintf(mc->root, sizeof(mc->root), "%s", c->root);
	mc->pool_min = d->eff_min;
	mc->pool_max = d->eff_max;
	mc->pool_limit = c->pool_limit;
	mc->max_workload = c->max_workload;
	mc->pool_idle_timeout_ms = c->pool_idle_timeout_ms;
	mc->pool_scale_up_ppm = c->pool_scale_up_ppm;
	mc->pool_scale_down_ppm = c->pool_scale_down_ppm;
	mc->pool_spawn_rate_max = c->pool_spawn_rate_max;
	mc->pool_max_requests = c->pool_max_requests;
	mc->keepalive_timeout_ms = c->keepalive_timeout_ms;
	mc->header_timeout_ms = c->header_timeout_ms;
	mc->park_after_ms = c->park_after_ms;
	mc->park_max = c->park_max;
	mc->open_file_cache_valid_ms = c->open_file_cache_valid_ms;
	mc->open_file_cache_max = c->open_file_cache_max;
	mc->heartbeat_interval_ms = c->heartbeat_interval_ms;
	mc->heartbeat_misses = c->heartbeat_misses;
	mc->startup_timeout_ms = c->startup_timeout_ms;
	mc->shutdown_timeout_ms = c->shutdown_timeout_ms;
	mc->log_level = (uint32_t)c->log_level;
	mc->has_access_log = d->accessfd >= 0;
	daemon_fill_proxy_from(mc, c);
}

static int make_channel(int sp[2], const char *what)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) == 0)
		return 0;
	log_warn("socketpair %s", what);
	return -1;
}

/* ---- children ---- */

static pid_t kid_spawn(struct sv_entry *e, void *arg)
{
	struct daemon *d = arg;
	struct proc_fdmap lmap[] = {
	    {d->logfd, FD_LOG},
	    {d->accessfd, FD_ACCESS},
	    {e->peer, FD_PARENT},
	    {d->listenfd, FD_LISTEN},
	    {d->lm[0], FD_MANAGER},
	    {d->wl[0], FD_WORKERS},
	    {d->wl[1], FD_PARK_OUT},
	};
	struct proc_fdmap mmap[] = {
	    {d->logfd, FD_LOG},
	    {d->accessfd, FD_ACCESS},
	    {e->peer, FD_PARENT},
	    {d->lm[1], FD_FROM_LISTENER},
	    {d->wl[1], FD_WORKER_LINK},
	    {d->rootfd, FD_ROOT},
	};

	((struct kid *)e)->has_access = d->accessfd >= 0;
	return ((struct kid *)e)->role == ROLE_LISTENER ?
	    proc_spawn("listener", lmap, 7, &d->creds) :
	    proc_spawn("manager", mmap, 6, &d->creds);
}

/*
 * k serves its role from now on. A new manager has a pool of its own, but
 * until its first table comes the old one's says more than an empty one:
 * those workers still serve (retiring, or orphaned and finishing).
 */
void daemon_set_current(struct daemon *d, struct kid *k)
{
	d->cur[k->role] = k;
	if (k->role == ROLE_MANAGER)
		wtable_carry(&d->workers);
}

/* A table entry with a fresh channel. */
struct kid *kid_new(struct daemon *d, int role)
{
	struct kid *k = (struct kid *)svt_alloc(&d->tab, daemon_role_names[role]);

	if (k != NULL)
		k->role = role;
	return k;
}

void kid_start(struct kid *k, struct daemon *d)
{
	if (d->stopping)
		return;
	if (svt_start(&k->e) == -1)
		svt_schedule(&k->e, SV_BACKOFF_MAX_MS);
}

static void kid_restart(struct sv_entry *e, void *arg) { kid_start((struct kid *)e, arg); }

static void kid_ready(struct sv_entry *e, void *arg)
{
	struct daemon *d = arg;

	restart_ready(d, (struct kid *)e);
	if (!d->ready && d->cur[ROLE_LISTENER]->e.sv.state == SV_RUNNING &&
	    d->cur[ROLE_MANAGER]->e.sv.state == SV_RUNNING) {
		d->ready = 1;
		log_info("ready: serving %s at %s", d->cfg.root, d->url);
		daemon_notify_ready(d);
	}
}

/*
 * The child was told to stop (SIGTERM to its pid) and is draining: it
 * keeps its own channel to the end; the replacement starts now on a fresh
 * control channel and the same data channels.
 */
static void kid_draining(struct sv_entry *e, void *arg)
{
	struct daemon *d = arg;
	struct kid *k = (struct kid *)e, *next;

	if (d->stopping)
		return;
	e->sv.state = SV_DRAINING;
	if (d->restart.done != NULL && k == d->restart.old) {
		log_info("%s %d draining; its replacement %d is on its way", e->sv.role,
		    (int)e->sv.pid, (int)d->restart.new_pid);
		return;
	}
	if (d->cur[k->role] != k || (next = kid_new(d, k->role)) == NULL) {
		log_info("%s %d draining", e->sv.role, (int)e->sv.pid);
		return;
	}
	next->e.sv.restarts = e->sv.restarts + 1;
	daemon_set_current(d, next);
	log_info("%s %d draining, starting its replacement", e->sv.role, (int)e->sv.pid);
	kid_start(next, d);
}

/* Only the manager now serving speaks for the pool. */
static void kid_worker_table(struct daemon *d, struct kid *k, const struct msg_worker_page *p)
{
	if (k != d->cur[ROLE_MANAGER])
		return;
	if (wtable_page(&d->workers, p, clock_now_ms()) == -1)
		log_debug("worker table page %u/%u of generation %u out of sequence, dropped",
		    p->page, p->pages, p->generation);
}

/* A worker's event, from a manager: into our log, for wsctl events. */
static void kid_worker_event(struct daemon *d, struct msg_event *ev)
{
	ev->role[sizeof(ev->role) - 1] = ev->kind[sizeof(ev->kind) - 1] = '\0';
	ev->detail[sizeof(ev->detail) - 1] = '\0';
	elog_add(d->events, ev->kind, ev->role, ev->pid, "%s", ev->detail);
	daemon_metrics_event(d, ev->kind, ev->role, ev->pid, ev->detail);
}

static void kid_msg(struct sv_entry *e, struct msg *m, void *arg)
{
	if (m->hdr.type == MSG_WORKER_TABLE)
		kid_worker_table(arg, (struct kid *)e, &m->u.wpage);
	else if (m->hdr.type == MSG_EVENT)
		kid_worker_event(arg, &m->u.event);
	else if (m->hdr.type == MSG_REPLY)
		daemon_pool_reply(arg, (struct kid *)e, &m->u.reply);
	else
		svt_unexpected(e, m);
}

static void kid_event(
    struct sv_entry *e, pid_t pid, const char *kind, const char *detail, void *arg)
{
	struct daemon *d = arg;

	elog_add(d->events, kind, e->sv.role, pid, "%s", detail);
	daemon_metrics_event(d, kind, e->sv.role, pid, detail);
}

/* ", N connections closed at the drain deadline", or nothing when none was. */
static void cut_note(char *buf, size_t len, uint64_t cut)
{
	buf[0] = '\0';
	if (cut)
		snprintf(buf, len, ", %llu connection%s closed at the drain deadline",
		    (unsigned long long)cut, log_s(cut));
}

/* For the reply to a stop asked for on the control socket. */
static void stop_record(struct daemon *d, const char *role, pid_t pid, int killed)
{
	struct daemon_stop_report *r = &d->stop_report;

	if (r->n >= sizeof(r->procs) / sizeof(r->procs[0]))
		return;
	r->procs[r->n].role = role;
	r->procs[r->n].pid = (int)pid;
	r->procs[r->n].killed = killed;
	r->n++;
}

/* How one child ended during a stop, for the outcome. */
static void stop_note(struct daemon *d, struct kid *k, pid_t pid)
{
	static const char *const how[] = {"", "gracefully", "after SIGTERM", "by SIGKILL"};
	struct sv_child *sv = &k->e.sv;
	char cuts[80];

	d->stopped_cut += sv->figures.cut;
	stop_record(
	    d, sv->role, pid, d->stopping != STOP_GRACEFUL || strcmp(sv->last_exit, "exit 0"));
	cut_note(cuts, sizeof(cuts), sv->figures.cut);
	if (strcmp(sv->last_exit, "exit 0") != 0 && d->stopping == STOP_GRACEFUL) {
		d->stopped_error++;
		log_warnx(
		    "%s %d failed while stopping (%s)%s", sv->role, (int)pid, sv->last_exit, cuts);
		return;
	}
	log_info(
	    "%s %d stopped %s (%s)%s", sv->role, (int)pid, how[d->stopping], sv->last_exit, cuts);
	d->stopped_graceful += d->stopping == STOP_GRACEFUL;
	d->stopped_term += d->stopping == STOP_TERM;
	d->stopped_kill += d->stopping == STOP_KILL;
}

/*
 * Stopping: note how it ended, keep the entry. A replaced one finished
 * draining. The one serving is restarted after the back-off.
 */
static enum svt_after kid_exited(struct sv_entry *e, struct svt_exit *x, void *arg)
{
	struct daemon *d = arg;
	struct kid *k = (struct kid *)e;
	enum svt_after what = SVT_RESTART;

	daemon_pool_gone(d, k, x->pid);
	if (restart_exited(d, k, &what)) {
		sv_retire_figures(&e->sv, &d->retired[k->role]);
		return what;
	}
	if (d->stopping) {
		stop_note(d, k, x->pid);
		what = SVT_HOLD;
	} else if (d->cur[k->role] != k) {
		cut_note(x->note, sizeof(x->note), e->sv.figures.cut);
		what = SVT_FINISHED;
	}
	sv_retire_figures(&e->sv, &d->retired[k->role]);
	return what;
}

static const struct svt_hooks kid_hooks = {
    .event = kid_event,
    .spawn = kid_spawn,
    .restart = kid_restart,
    .ready = kid_ready,
    .draining = kid_draining,
    .msg = kid_msg,
    .exited = kid_exited,
    .checked = daemon_notify_checked,
};

/* SIGUSR1, as for nginx: after logrotate moved the files away. */
static void sigusr1_cb(evutil_socket_t sig, short what, void *arg)
{
	const char *reopened[3];

	daemon_log_reopen(arg, reopened);
}

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

/* Log the supervision table (SIGUSR2): the listener and the manager, then the workers. */
static void log_table(struct daemon *d)
{
	svt_log_rows(&d->tab);
	log_workers(d, clock_now_ms());
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
	SVT_FOREACH (&d->tab, e)
		if (e->sv.pid > 0)
			kill(e->sv.pid, sig);
	if (proc_each_child(signal_one, &sig) == -1)
		log_warn("our children, for SIG%s", sigabbrev_np(sig));
}

static int kids_alive(struct daemon *d)
{
	SVT_FOREACH (&d->tab, e)
		if (e->sv.pid > 0)
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
	d->stop_report.ms = clock_now_ms() - d->stop_started_ms;
	d->stop_report.cut = d->stopped_cut;
	for (unsigned i = 0; i < d->nstop_waiters; i++)
		d->stop_waiters[i].done(d->stop_waiters[i].arg, &d->stop_report);
	d->nstop_waiters = 0;
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

static void tell_shutdown(struct sv_entry *e)
{
	if (e->sv.pid > 0)
		svt_stop(e);
}

static int listeners_alive(struct daemon *d)
{
	FOREACH_KID (d, k)
		if (k->role == ROLE_LISTENER && k->e.sv.pid > 0)
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
	FOREACH_KID (d, k)
		if (k->role == ROLE_MANAGER && k->e.sv.pid > 0 && k->e.sv.state != SV_DRAINING)
			tell_shutdown(&k->e);
}

/*
 * The manager takes all the listener sends from now on, even with every
 * worker full, so the listener can empty the kernel backlog before it
 * exits (and we close the listening socket, which would reset the rest).
 */
static void tell_stopping(struct daemon *d)
{
	FOREACH_KID (d, k)
		if (k->role == ROLE_MANAGER && k->e.sv.pid > 0 &&
		    msg_send(k->e.chan, MSG_STOPPING, NULL, 0, NULL, 0) == -1)
			log_warn("stopping notice to manager %d", (int)k->e.sv.pid);
}

/* The stop itself: the listeners first, then the managers, escalating at the timeout. */
static void stop_now(struct daemon *d, const char *why, uint32_t timeout_ms)
{
	uint32_t ms = (timeout_ms ? timeout_ms : d->cfg.shutdown_timeout_ms) + 500;
	struct timeval tv = clock_tv(ms);

	d->draining = 0;
	d->stopping = STOP_GRACEFUL;
	d->stop_started_ms = clock_now_ms();
	log_info("%s: stopping", why);
	notify_stopping();
	elog_add(d->events, "stopping", "daemon", getpid(), "%s", why);
	FOREACH_KID (d, k) {
		evtimer_del(&k->e.ev_restart);
		if (k->role == ROLE_LISTENER)
			tell_shutdown(&k->e);
	}
	tell_stopping(d);
	stop_managers_when_listeners_gone(d);
	evtimer_assign(&d->ev_stop1, d->base, stop_term_cb, d);
	evtimer_add(&d->ev_stop1, &tv);
	daemon_maybe_exit(d);
}

static void drain_end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	log_info("drain delay over");
	stop_now(d, d->drain_why, d->drain_timeout_ms);
}

/*
 * server.drain_delay: the first stop request waits that long, everything
 * serving and accepting while /readyz answers 503, so a load balancer
 * stops sending first. 1: waiting; 0: stop now (no delay, not serving
 * yet, or a second request during the delay: it cuts it short).
 */
static int drain_first(struct daemon *d, const char *why, uint32_t timeout_ms)
{
	uint32_t ms = d->cfg.drain_delay_ms;
	struct timeval tv = clock_tv(ms);

	if (d->draining) {
		log_info("%s during the drain delay: stopping now", why);
		evtimer_del(&d->ev_drain);
		return 0;
	}
	if (ms == 0 || !d->ready)
		return 0;
	d->draining = 1;
	d->drain_timeout_ms = timeout_ms;
	snprintf(d->drain_why, sizeof(d->drain_why), "%s", why);
	log_info(
	    "%s: draining for %u ms (server.drain_delay) before stopping: /readyz answers 503, "
	    "serving on",
	    why, ms);
	notify_stopping();
	elog_add(d->events, "draining", "daemon", getpid(), "%s: stopping in %u ms", why, ms);
	evtimer_assign(&d->ev_drain, d->base, drain_end_cb, d);
	evtimer_add(&d->ev_drain, &tv);
	return 1;
}

void daemon_stop(struct daemon *d, const char *why, uint32_t timeout_ms)
{
	if (d->stopping || drain_first(d, why, timeout_ms))
		return;
	stop_now(d, why, timeout_ms ? timeout_ms : d->drain_timeout_ms);
}

static void sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	daemon_stop(arg, sig == SIGINT ? "SIGINT" : sig == SIGQUIT ? "SIGQUIT" : "SIGTERM", 0);
}

/* SIGHUP: reload, as the control method does (and taking its turn when there is a socket). */
static void sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	if (daemon_stopping(d))
		return;
	if (d->ctl != NULL)
		ctlops_reload_signal(d->ctl);
	else if (daemon_reload(d, "SIGHUP", NULL, NULL) == -1)
		log_warnx("SIGHUP: reload refused: a restart is in progress");
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (!svt_reaped(&d->tab, pid, status))
			log_debug("reaped orphan %d", (int)pid); /* a worker whose manager died */
	stop_managers_when_listeners_gone(d);
	daemon_maybe_exit(d);
}

/* ---- main ---- */

static int64_t wall_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	int rc;

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
	daemon_fill_config(d);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if ((d->base = event_base_new()) == NULL || event_base_priority_init(d->base, 2) == -1 ||
	    make_channel(d->lm, "listener-manager") == -1 ||
	    make_channel(d->wl, "workers-listener") == -1)
		return 3;
	svt_init(&d->tab, d->base, d->kids, sizeof(d->kids[0]), MAX_KIDS, &kid_hooks, d, &d->mc);
	if ((d->events = malloc(sizeof(*d->events))) == NULL)
		return 3;
	elog_init(d->events);
	if ((rc = daemon_metrics_open(d)) != 0)
		return rc;
	if ((rc = ctlops_open(d, &d->ctl)) != 0)
		return rc;
	if ((d->cur[ROLE_LISTENER] = kid_new(d, ROLE_LISTENER)) == NULL ||
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

/* What the loop leaves: the control socket goes first (its path is unlinked). */
static void daemon_free(struct daemon *d)
{
	if (d->ctl)
		ctlops_free(d->ctl);
	metricsd_free(d->metrics);
	if (d->base)
		event_base_free(d->base);
	wtable_free(&d->workers);
	free(d->events);
}

int daemon_run(const struct wsd_config *cfg, const struct config_source *src)
{
	struct daemon d = {.listenfd = -1};
	struct sv_limits lim = {
	    cfg->heartbeat_interval_ms, cfg->heartbeat_misses, cfg->startup_timeout_ms};
	int rc;

	d.cfg = *cfg;
	d.eff_min = cfg->pool_min;
	d.eff_max = cfg->pool_max;
	reload_init(&d, src);
	d.started_ms = clock_now_ms();
	d.started_wall_ms = wall_now_ms();
	log_setrole("daemon");
	if ((rc = daemon_setup(&d)) != 0) {
		daemon_free(&d);
		return rc;
	}
	daemon_signals(&d);
	daemon_notify_init(&d);
	log_info("wsd starting: root %s, pool %u..%u", d.cfg.root, d.cfg.pool_min, d.cfg.pool_max);
	kid_start(d.cur[ROLE_LISTENER], &d);
	kid_start(d.cur[ROLE_MANAGER], &d);
	svt_watch(&d.tab, &lim);
	event_base_dispatch(d.base);
	log_info("stopped");
	daemon_free(&d);
	return 0;
}
