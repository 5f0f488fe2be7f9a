/*
 * The daemon's side of the pool operations (daemon.h): scale, restart of
 * one worker or of every worker, drain. The manager runs the pool, so
 * each is a MSG_REQUEST to the manager now serving, answered by MSG_REPLY
 * with the same id; a manager that exits first fails what it owes
 * (poolreq.c). The pool bounds in effect are held here, so a manager
 * started later is configured with them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon_int.h"
#include "jsonrpc.h"
#include "log.h"

/* The manager that may be asked: started (its config is queued before our request) or running. */
static struct kid *manager_now(struct daemon *d)
{
	struct kid *k = d->cur[ROLE_MANAGER];

	if (k == NULL || k->e.sv.pid <= 0 ||
	    (k->e.sv.state != SV_RUNNING && k->e.sv.state != SV_STARTING))
		return NULL;
	return k;
}

/* Register and send; -1 with err when it cannot be sent. */
static int pool_send(struct daemon *d, struct kid *k, struct msg_request *rq, daemon_pool_fn done,
    void *arg, char *err, size_t errlen)
{
	if ((rq->id = poolreq_add(&d->preqs, k, done, arg)) == 0) {
		snprintf(err, errlen, "too many requests waiting for the manager");
		return -1;
	}
	if (msg_send(k->e.chan, MSG_REQUEST, rq, sizeof(*rq), NULL, 0) == -1) {
		snprintf(
		    err, errlen, "request to manager %d: %s", (int)k->e.sv.pid, strerror(errno));
		log_warnx("%s", err);
		poolreq_cancel(&d->preqs, rq->id);
		return -1;
	}
	return 0;
}

int daemon_pool_op(struct daemon *d, enum msg_op op, uint32_t pid, uint32_t timeout_ms,
    daemon_pool_fn done, void *arg, char *err, size_t errlen)
{
	struct kid *k = manager_now(d);
	struct msg_request rq = {.op = (uint32_t)op,
	    .args = {pid, timeout_ms ? timeout_ms : d->cfg.shutdown_timeout_ms}};

	if (d->stopping)
		return snprintf(err, errlen, "the server is stopping"), -1;
	if (k == NULL)
		return snprintf(err, errlen, "the manager is not running"), -1;
	return pool_send(d, k, &rq, done, arg, err, errlen);
}

static int scale_check(const struct daemon *d, const struct daemon_bounds *b, char *err, size_t n)
{
	if (b->min < 1 || b->min > b->max)
		return snprintf(err, n, "min (%u) must be from 1 to max (%u)", b->min, b->max), -1;
	if (b->max > d->cfg.pool_limit)
		return snprintf(
		           err, n, "max (%u) exceeds pool.limit (%u)", b->max, d->cfg.pool_limit),
		       -1;
	return 0;
}

int daemon_scale(struct daemon *d, uint32_t min, uint32_t max, struct daemon_bounds *old,
    struct daemon_bounds *now, daemon_pool_fn done, void *arg, char *err, size_t errlen)
{
	struct msg_request rq = {.op = MSG_OP_SCALE};
	struct kid *k = manager_now(d);

	*old = (struct daemon_bounds){d->eff_min, d->eff_max};
	*now = (struct daemon_bounds){min ? min : d->eff_min, max ? max : d->eff_max};
	if (d->stopping)
		return snprintf(err, errlen, "the server is stopping"), -1;
	if (scale_check(d, now, err, errlen) == -1)
		return -1;
	rq.args[0] = now->min;
	rq.args[1] = now->max;
	if (k != NULL && pool_send(d, k, &rq, done, arg, err, errlen) == -1)
		return -1;
	/* Held here: the manager configured next (a restart, a crash) gets these. */
	d->eff_min = d->mc.pool_min = now->min;
	d->eff_max = d->mc.pool_max = now->max;
	log_info("pool scaled from %u..%u to %u..%u", old->min, old->max, now->min, now->max);
	elog_add(d->events, "scale", "daemon", getpid(), "%u..%u -> %u..%u", old->min, old->max,
	    now->min, now->max);
	return k == NULL;
}

void daemon_pool_reply(struct daemon *d, struct kid *k, const struct msg_reply *r)
{
	if (poolreq_reply(&d->preqs, k, r) == 0)
		log_debug("reply %u from manager %d matches no request, dropped", r->id,
		    (int)k->e.sv.pid);
}

void daemon_pool_gone(struct daemon *d, struct kid *k, pid_t pid)
{
	unsigned n = poolreq_fail(
	    &d->preqs, k, RPC_FAILED, "the manager exited before it answered");

	if (n)
		log_warnx("manager %d exited with %u request%s unanswered", (int)pid, n, log_s(n));
}
