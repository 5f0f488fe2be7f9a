/*
 * The manager stopping: draining its workers, the drain deadline, and
 * what is left in the queue and the listener channel.
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

/* ---- draining ---- */

/*
 * Draining, every worker is told to stop once the queue is empty and
 * nothing more can come: the listener channel, final once the daemon has
 * told us the listeners are gone, has been read to the end.
 */
void manager_maybe_exit(struct manager *m)
{
	int alive = 0;

	if (!m->draining || (m->qlen > 0 && !m->deadline_passed))
		return;
	if (m->taking) {
		/* Room again after fd_room said no: read on, even if no new message wakes us. */
		if (may_take(m))
			event_active(&m->ev_listener, EV_READ, 1);
		return;
	}
	FOREACH_SLOT (m, s) {
		if (s->e.sv.state == SV_STOPPED) {
			svt_free(&s->e); /* was waiting to be restarted */
			continue;
		}
		if ((s->e.sv.state == SV_RUNNING || s->e.sv.state == SV_STARTING) &&
		    m->retire_workers)
			slot_retire(s);
		else if (s->e.sv.state == SV_RUNNING || s->e.sv.state == SV_STARTING)
			svt_stop(&s->e);
		alive |= s->e.sv.state != SV_FREE;
	}
	if (!alive)
		event_base_loopexit(m->base, NULL);
}

/*
 * Kill the workers still running; they are reaped by sigchld_cb as usual,
 * and we exit when the last one is (never blocking the loop in waitpid).
 * Their connections are counted as cut, and so is what still waits here.
 */
void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;
	unsigned n = 0;

	FOREACH_SLOT (m, s)
		if (s->e.sv.pid > 0)
			svt_read(&s->e); /* connections they closed themselves */
	m->deadline_passed = 1;
	m->cut += m->qlen;
	queue_abandon(m);
	m->cut += channel_abandon(m);
	m->taking = 0; /* nothing more is read: exit once the workers are reaped */
	FOREACH_SLOT (m, s) {
		if (s->e.sv.pid <= 0)
			continue;
		kill(s->e.sv.pid, SIGKILL);
		m->cut += s->conns;
		s->conns = 0;
		n++;
	}
	if (n)
		log_warnx("drain deadline passed: killed %u worker%s still running", n, log_s(n));
	manager_maybe_exit(m);
}

/*
 * The drain deadline only ever comes closer: set at the stop's start, it
 * holds when the listeners are gone; the daemon's death shortens it.
 */
static void deadline_within(struct manager *m, uint32_t ms)
{
	uint64_t at = clock_now_ms() + ms;
	struct timeval tv = clock_tv(ms);

	if (evtimer_pending(&m->ev_deadline, NULL) && m->deadline_ms <= at)
		return;
	m->deadline_ms = at;
	evtimer_add(&m->ev_deadline, &tv);
}

/*
 * The whole server stops (the daemon tells us as it tells the listener):
 * take all the listener sends, queue it and give it out as workers have
 * room, so the listener can empty the kernel backlog. The deadline runs
 * from now.
 */
void manager_stopping(struct manager *m)
{
	if (!m->configured || m->taking || m->draining)
		return;
	log_info("server stopping: taking all the listener sends");
	m->taking = 1;
	deadline_within(m, m->cfg.shutdown_timeout_ms + DEADLINE_MARGIN_MS);
	listener_interest(m);
}

/*
 * Stop reading the listener channel (on a graceful restart the replacement
 * reads it; on a full stop we first take what the listener left there),
 * give every queued connection to a worker, then let the workers drain.
 */
void manager_drain(struct manager *m, uint32_t grace_ms, int take_channel)
{
	deadline_within(m, grace_ms); /* already draining: only ever closer (the daemon gone) */
	if (m->draining)
		return;
	op_abort(m, "the manager is stopping");
	log_info("draining %u worker%s%s", pool_size(m), log_s(pool_size(m)),
	    take_channel ? ", taking what waits in the listener channel" : "");
	m->draining = 1;
	m->retire_workers = !take_channel && !m->taking; /* the server goes on */
	/* The whole server stops: serve all the listener left in the channel. */
	if (m->configured && take_channel) {
		m->taking = 1;
		listener_cb(FD_FROM_LISTENER, EV_READ, m);
	} else if (m->configured)
		dispatch(m);
	else
		event_base_loopexit(m->base, NULL);
}

void sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct manager *m = arg;

	if (getppid() != m->ppid) {
		log_warnx("daemon is gone, finishing in-flight requests");
		manager_drain(m, ORPHAN_GRACE_MS, 1);
		return;
	}
	/* Told to stop by pid: the daemon starts our replacement now. */
	if (!m->draining && msg_send(FD_PARENT, MSG_DRAINING, NULL, 0, NULL, 0) == -1)
		log_warn("draining notice to daemon");
	/* The replacement reads the channel. */
	manager_drain(m, m->cfg.shutdown_timeout_ms + DEADLINE_MARGIN_MS, 0);
}
