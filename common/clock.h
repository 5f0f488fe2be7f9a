/*
 * The one place wsd reads the monotonic clock and converts durations for
 * libevent. Inline: the worker reads the clock on its hot path.
 */
#ifndef WSD_CLOCK_H
#define WSD_CLOCK_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

/* Monotonic microseconds. */
static inline uint64_t clock_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Monotonic milliseconds. */
static inline uint64_t clock_now_ms(void) { return clock_now_us() / 1000; }

/* A duration in milliseconds as libevent wants it. */
static inline struct timeval clock_tv(uint64_t ms)
{
	return (struct timeval){(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
}

/* A duration in milliseconds as a timespec (relative). */
static inline struct timespec clock_ts(uint64_t ms)
{
	return (struct timespec){(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
}

#endif
