/*
 * The pool policy (pool.h). Grow when connections have waited a whole
 * tick, when the workers are busy, or when their loops run late;
 * doubling per consecutive tick up to pool.spawn_rate_max. Shrink one
 * worker per tick, only after a quiet pool.idle_timeout and only while the
 * rest would hold the connections and stay below pool.scale_up_at: the gap
 * between the two thresholds and that projection keep it from flapping.
 */
#include <stdio.h>
#include <string.h>

#include "pool.h"

/* What the running workers add up to. */
struct load {
	uint64_t held;     /* connections */
	uint64_t busy_sum; /* ppm, summed */
	uint64_t room;     /* connections they may still take under max_workload */
	uint32_t busy;     /* mean ppm */
	uint32_t lag_us;   /* worst */
};

static void load_of(const struct pool_params *p, const struct pool_input *in, struct load *l)
{
	memset(l, 0, sizeof(*l));
	for (uint32_t i = 0; i < in->nrunning; i++) {
		const struct pool_worker *w = &in->w[i];

		l->held += w->conns;
		l->busy_sum += w->busy_ppm;
		if (w->conns < p->max_workload)
			l->room += p->max_workload - w->conns;
		if (w->lag_us > l->lag_us)
			l->lag_us = w->lag_us;
	}
	l->busy = in->nrunning ? (uint32_t)(l->busy_sum / in->nrunning) : 0;
}

/* Connections waiting beyond what the starting workers will take. */
static uint64_t queue_demand(const struct pool_params *p, const struct pool_input *in)
{
	uint64_t starting = (uint64_t)in->nstarting * p->max_workload;

	return in->queue > starting ? in->queue - starting : 0;
}

/* Workers to start now: doubling per consecutive growing tick, within the bounds. */
static uint32_t grow_count(const struct pool_state *st, const struct pool_params *p,
    const struct pool_input *in, uint64_t need)
{
	uint32_t size = in->nrunning + in->nstarting;
	uint32_t rate = st->streak >= 3 ? 16 : 2u << st->streak;
	uint32_t n = rate;

	if (n > p->spawn_rate_max)
		n = p->spawn_rate_max;
	if (need > 0 && need < n)
		n = (uint32_t)need;
	if (size >= p->max)
		return 0;
	return n < p->max - size ? n : p->max - size;
}

static void say(struct pool_decision *d, const char *why, uint64_t queue)
{
	char b[POOL_REASON];
	int n = snprintf(b, sizeof(b), "%s (queue %llu, busy %u.%02u, lag %u ms)", why,
	    (unsigned long long)queue, d->busy_ppm / POOL_PPM, d->busy_ppm % POOL_PPM / 10000,
	    d->lag_us / 1000);

	if (n < 0)
		b[0] = '\0';
	memcpy(d->reason, b, sizeof(d->reason));
}

/* Why the pool should grow now, or NULL. */
static const char *grow_why(const struct pool_state *st, const struct pool_params *p,
    const struct pool_input *in, const struct load *l, int full_tick)
{
	uint64_t demand = queue_demand(p, in);

	if (demand > 0 && st->queue_since_ms && in->now_ms - st->queue_since_ms >= POOL_TICK_MS)
		return l->room == 0 ? "connections waited a whole tick, no worker has room" :
		                      "connections waited a whole tick";
	if (!full_tick)
		return NULL;
	if (in->nstarting > 0 || in->nrunning == 0)
		return NULL; /* their share shows once they run */
	if (l->busy > p->scale_up_ppm)
		return "workers busy";
	if (st->lag_ticks >= POOL_LAG_TICKS)
		return "event loops late";
	return NULL;
}

/* The worker with the fewest connections, to drain. */
static uint32_t victim_of(const struct pool_input *in)
{
	uint32_t v = 0;

	for (uint32_t i = 1; i < in->nrunning; i++)
		if (in->w[i].conns < in->w[v].conns)
			v = i;
	return v;
}

/* May one worker go? Only when quiet long enough and the rest would cope. */
static int may_shrink(const struct pool_state *st, const struct pool_params *p,
    const struct pool_input *in, const struct load *l)
{
	uint32_t rest = in->nrunning - 1;

	if (in->nstarting > 0 || in->nrunning + in->nstarting <= p->min || in->nrunning < 2)
		return 0;
	if (st->quiet_since_ms == 0 || in->now_ms - st->quiet_since_ms < p->idle_timeout_ms)
		return 0;
	if (l->held > (uint64_t)rest * p->max_workload)
		return 0;
	return l->busy_sum / rest < p->scale_up_ppm; /* no grow at the next tick */
}

/* The streaks and since-times a full tick keeps. */
static void remember(struct pool_state *st, const struct pool_params *p,
    const struct pool_input *in, const struct load *l)
{
	int quiet = in->queue == 0 && l->busy < p->scale_down_ppm;
	/* Late loops in idle workers: the machine stalled, more workers would not help. */
	int late = l->lag_us >= POOL_LAG_BOUND_US && l->busy >= p->scale_down_ppm;

	st->last_ms = in->now_ms;
	st->lag_ticks = late ? st->lag_ticks + 1 : 0;
	if (!quiet)
		st->quiet_since_ms = 0;
	else if (st->quiet_since_ms == 0)
		st->quiet_since_ms = in->now_ms;
}

enum pool_action pool_decide(struct pool_state *st, const struct pool_params *p,
    const struct pool_input *in, struct pool_decision *d)
{
	int full_tick = st->last_ms == 0 || in->now_ms - st->last_ms >= POOL_TICK_MS * 9 / 10;
	const char *why;
	struct load l;

	memset(d, 0, sizeof(*d));
	load_of(p, in, &l);
	d->from = d->to = in->nrunning + in->nstarting;
	d->busy_ppm = l.busy;
	d->lag_us = l.lag_us;
	if (in->queue == 0)
		st->queue_since_ms = 0;
	else if (st->queue_since_ms == 0 || in->emptied)
		st->queue_since_ms = in->now_ms; /* empty in between: the wait starts again */
	if (full_tick)
		remember(st, p, in, &l);
	if ((why = grow_why(st, p, in, &l, full_tick)) != NULL) {
		uint64_t need = in->queue ?
		    (queue_demand(p, in) + p->max_workload - 1) / p->max_workload :
		    0;
		uint32_t n = grow_count(st, p, in, need);

		if (full_tick)
			st->streak = n ? st->streak + 1 : 0;
		if (n == 0)
			return d->action = POOL_KEEP;
		d->to = d->from + n;
		say(d, why, in->queue);
		return d->action = POOL_GROW;
	}
	if (full_tick)
		st->streak = 0;
	if (!full_tick || !may_shrink(st, p, in, &l))
		return d->action = POOL_KEEP;
	d->victim = victim_of(in);
	d->to = d->from - 1;
	say(d, "quiet for pool.idle_timeout", 0);
	return d->action = POOL_SHRINK;
}

int pool_parse_share(const char *s, uint32_t *ppm)
{
	uint32_t v = 0, scale = POOL_PPM;
	const char *c = s;

	if (*c == '0' || *c == '1')
		v = (uint32_t)(*c++ - '0') * POOL_PPM;
	else if (*c != '.')
		return -1;
	if (*c == '.') {
		if (*++c == '\0')
			return -1;
		for (; *c >= '0' && *c <= '9' && scale > 1; c++) {
			scale /= 10;
			v += (uint32_t)(*c - '0') * scale;
		}
	}
	if (*c != '\0' || v > POOL_PPM)
		return -1;
	*ppm = v;
	return 0;
}
