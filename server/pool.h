/*
 * The pool policy: how many workers the load calls for. A pure function
 * of what the manager sees each tick - per running worker its connections,
 * busy share and loop lag; the connections waiting for a worker; the time -
 * and a little state of its own (streaks, since-when), so every rule is
 * unit-tested without processes. The manager acts on the decision.
 */
#ifndef WSD_POOL_H
#define WSD_POOL_H

#include <stdint.h>

#define POOL_TICK_MS 1000        /* a decision at most this often (and when the queue grows) */
#define POOL_PPM 1000000u        /* busy shares are in parts per million */
#define POOL_LAG_BOUND_US 50000u /* a busy loop this late, two ticks running, is overloaded */
#define POOL_LAG_TICKS 2
#define POOL_REASON 128

/* The settings the policy judges by ([pool] in the configuration). */
struct pool_params {
	uint32_t min, max;        /* the effective bounds the daemon sends */
	uint32_t max_workload;    /* connections a worker holds at most */
	uint32_t scale_up_ppm;    /* pool.scale_up_at */
	uint32_t scale_down_ppm;  /* pool.scale_down_at */
	uint32_t spawn_rate_max;  /* workers started in one tick at most */
	uint32_t idle_timeout_ms; /* quiet this long before the first shrink */
};

/* One running worker, from its latest heartbeat and our count. */
struct pool_worker {
	uint32_t conns;    /* connections given and not yet done */
	uint32_t busy_ppm; /* share of its last interval spent in callbacks */
	uint32_t lag_us;   /* how late its last timer fired */
};

/* What the manager sees now. */
struct pool_input {
	const struct pool_worker *w; /* the running workers */
	uint32_t nrunning;
	uint32_t nstarting; /* started, not yet READY */
	uint32_t queue;     /* connections waiting: listener channel + our queue */
	int emptied;        /* the queue was seen empty since the last decision */
	uint64_t now_ms;
};

/* What the policy remembers between ticks; zero it to start. */
struct pool_state {
	uint64_t last_ms;        /* the last tick judged */
	uint64_t queue_since_ms; /* the queue non-empty, not seen empty, since (0: empty) */
	uint64_t quiet_since_ms; /* idle and empty since (0: not quiet) */
	uint32_t streak;         /* consecutive ticks that grew */
	uint32_t lag_ticks;      /* consecutive ticks with a late loop */
};

enum pool_action { POOL_KEEP, POOL_GROW, POOL_SHRINK };

struct pool_decision {
	enum pool_action action;
	uint32_t from, to;        /* pool size (running + starting) before and after */
	uint32_t victim;          /* POOL_SHRINK: the index in input.w to drain */
	uint32_t busy_ppm;        /* the mean busy share judged */
	uint32_t lag_us;          /* the worst lag judged */
	char reason[POOL_REASON]; /* "queue 37, busy 0.91, lag 3 ms" */
};

/*
 * Judge one tick. Returns the action (also in d->action). A call sooner
 * than POOL_TICK_MS after the last judged one (the manager's "at once when
 * the queue grows" path) only starts the queue's clock, or grows for a
 * queue that has been non-empty a whole tick: one sample of a queue is no
 * load (a batch in flight, a report of room not yet read).
 */
enum pool_action pool_decide(struct pool_state *st, const struct pool_params *p,
    const struct pool_input *in, struct pool_decision *d);

/* "0.75" (at most 6 decimals, 0..1) as parts per million; -1 if malformed. */
int pool_parse_share(const char *s, uint32_t *ppm);

#endif
