/*
 * The daemon's own state, shared by its files and no one else's:
 * daemon.c (start-up, signals, supervision hooks, the stop sequence) and
 * daemon_ops.c (the narrow API the control plane calls, daemon.h).
 */
#ifndef WSD_DAEMON_INT_H
#define WSD_DAEMON_INT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "config.h"
#include "daemon.h"
#include "eventlog.h"
#include "metrics.h"
#include "msg.h"
#include "poolreq.h"
#include "proc.h"
#include "svtable.h"
#include "wtable.h"

#define MAX_KIDS 8         /* current listener and manager, plus draining ones */
#define STOP_WAITERS_MAX 8 /* stop requests answered when the stop is done */

enum { ROLE_LISTENER, ROLE_MANAGER, NROLES };
extern const char *const daemon_role_names[NROLES];

/* One supervised process: its table entry (first) and its role. */
struct kid {
	struct sv_entry e;
	int role;
	int has_access; /* started with the access log on FD_ACCESS (else that number is free) */
};
_Static_assert(offsetof(struct kid, e) == 0, "svtable entries come first");

enum stop_phase { STOP_NONE, STOP_GRACEFUL, STOP_TERM, STOP_KILL };

/* A restart of the listener or the manager asked for by the control plane. */
struct role_restart {
	struct kid *old, *next; /* next: the replacement, until it is READY */
	pid_t old_pid, new_pid;
	int role;
	uint64_t start_ms;
	int killed;
	struct event ev_timeout;
	daemon_restart_fn done; /* NULL: no restart in progress */
	void *arg;
};

struct daemon {
	struct event_base *base;
	struct wsd_config cfg;
	struct msg_config mc;
	struct proc_creds creds;
	int listenfd, logfd, accessfd, rootfd;
	int lm[2]; /* listener -> manager */
	int wl[2]; /* workers -> listener */
	struct kid kids[MAX_KIDS];
	struct svtable tab;      /* over kids */
	struct kid *cur[NROLES]; /* the listener and the manager now serving */
	struct wtable workers;   /* the current manager's pool, as it last reported it */
	struct msg_heartbeat retired[NROLES]; /* figures of roles that have exited */
	struct elog *events;                  /* what happened, for wsctl events */
	struct ctlops *ctl;                   /* the control socket, NULL when off */
	uint64_t started_ms;                  /* monotonic, for uptime */
	int64_t started_wall_ms;              /* the same moment by the wall clock */
	struct metricsd *metrics;             /* [metrics] listen, NULL when off */
	struct metrics_restarts restarts;     /* by role and cause, from the events */
	struct role_restart restart;
	/*
	 * The pool bounds in effect: the file's (or -w's), until a scale
	 * changes them; a reload whose file changed [pool] min/max resets them.
	 * The manager is configured with these, so a restarted one keeps them.
	 */
	uint32_t eff_min, eff_max;
	struct poolreqs preqs; /* requests to the manager waiting for its reply */
	/* Reload (daemon_reload.c): where the configuration came from, and how it went. */
	struct config_source src; /* points into the copies below */
	char src_file[PATH_MAX], src_value[3][PATH_MAX];
	struct wsd_config filecfg; /* the file alone, no flags: to see what a flag overrides */
	uint32_t generation;       /* of the configuration in effect, in MSG_CONFIG */
	int64_t reload_time_ms;    /* wall clock of the last reload; 0: none yet */
	char reload_result[16], reload_message[200];
	struct daemon_reload_report *reload; /* waiting for a new manager, else NULL */
	daemon_reload_fn reload_done;
	char reload_why[64];
	void *reload_arg;
	/*
	 * server.drain_delay: a stop waits this long first, serving on while
	 * /readyz answers 503; a second stop request skips the rest.
	 */
	int draining;
	uint32_t drain_timeout_ms;
	char drain_why[64];
	struct event ev_drain;
	enum stop_phase stopping;
	uint64_t stop_started_ms;
	unsigned stopped_graceful, stopped_term, stopped_kill, stopped_error;
	uint64_t stopped_cut; /* connections closed at a drain deadline during the stop */
	struct daemon_stop_report stop_report;
	struct {
		daemon_stop_fn done;
		void *arg;
	} stop_waiters[STOP_WAITERS_MAX];
	unsigned nstop_waiters;
	int ready;
	/* daemon_notify.c: the last STATUS= line, and the request count at that time. */
	uint64_t notify_at_ms, notify_requests;
	char notify_status[200];
	struct event ev_term, ev_int, ev_quit, ev_hup, ev_chld, ev_usr1, ev_usr2;
	struct event ev_stop1, ev_stop2;
	char url[300];
};

/* Over the table's entries (free ones included), as kids. */
#define FOREACH_KID(d, k) \
	for (__typeof__(&(d)->kids[0]) k = (d)->kids; k < (d)->kids + (d)->tab.end; k++)

/* daemon.c */
struct kid *kid_new(struct daemon *d, int role);
void kid_start(struct kid *k, struct daemon *d);
void daemon_set_current(struct daemon *d, struct kid *k);
void daemon_stop(struct daemon *d, const char *why, uint32_t timeout_ms);
/* d->mc from d->cfg, the pool bounds in effect and the generation. */
void daemon_fill_config(struct daemon *d);

/* daemon_notify.c: the service manager's READY, STATUS and watchdog (notify.h). */
void daemon_notify_init(struct daemon *d);
void daemon_notify_ready(struct daemon *d);
void daemon_notify_checked(uint64_t now, void *arg);

/* daemon_metrics.c: the metrics endpoint, the restart counters, readiness. */
int daemon_metrics_open(struct daemon *d);
void daemon_metrics_event(
    struct daemon *d, const char *kind, const char *role, pid_t pid, const char *detail);

/* daemon_reload.c: keep the configuration's source for later reloads. */
void reload_init(struct daemon *d, const struct config_source *src);

/* daemon_ops.c: a reopened log to the children that hold that log (MSG_LOG_ERROR / _ACCESS). */
void daemon_send_log(struct daemon *d, enum msg_type type, int fd);

/* daemon_ops.c: the restart in progress, told what happened to its processes. */
void restart_ready(struct daemon *d, struct kid *k);
/* 1 when k was part of the restart (the caller does what the returned after says). */
int restart_exited(struct daemon *d, struct kid *k, enum svt_after *after);

/* daemon_pool.c: the manager's replies, and its exit (its pending requests fail). */
void daemon_pool_reply(struct daemon *d, struct kid *k, const struct msg_reply *r);
void daemon_pool_gone(struct daemon *d, struct kid *k, pid_t pid);

#endif
