/*
 * The access log. The event loop formats a line on its own stack, then
 * copies it into the front buffer under a mutex; the writer thread swaps
 * the buffers and writes the back one with no lock held. So the loop only
 * ever waits for a memcpy, and a full buffer costs a dropped line, not a
 * stalled server.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "clock.h"
#include "accesslog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define GATHER_MS 100  /* how long lines may wait in memory */
#define REPORT_MS 1000 /* at most one drop warning per this */
#define ELLIPSIS "..."

/* Worst case of every field at its limit, so a line fits one atomic write. */
_Static_assert(INET6_ADDRSTRLEN + sizeof(" - - [dd/Mon/yyyy:hh:mm:ss +hhmm] \"") +
            ACCESSLOG_MAX_METHOD + 1 + ACCESSLOG_MAX_TARGET + sizeof(" HTTP/1.2147483647\" ") + 10 +
            1 + 20 + 2 + ACCESSLOG_MAX_REFERER + 3 + ACCESSLOG_MAX_UA + 2 + 20 + 1 <=
        ACCESSLOG_LINE_MAX,
    "access log fields exceed ACCESSLOG_LINE_MAX");
_Static_assert(ACCESSLOG_LINE_MAX <= PIPE_BUF, "access log line above PIPE_BUF");

struct alog {
	pthread_mutex_t mu;
	pthread_cond_t wake; /* lines to write, or stop */
	pthread_t thread;
	int fd;
	size_t chunk;   /* most bytes in one write(2) */
	size_t cap;     /* of each buffer */
	size_t wake_at; /* front this full: write now */
	char *front, *back;
	size_t flen; /* bytes in front */
	uint64_t dropped;
	int stop;
};

/* What the writer thread alone knows about trouble to report. */
struct report {
	uint64_t reported; /* drops already warned about */
	uint64_t lost;     /* lines a failed write(2) took */
	int lost_errno;
	uint64_t last_ms; /* of the last warning, 0: none */
};

struct out {
	char *p, *end;
};

static struct alog alog;
static int alog_active;

/* ---- formatting ---- */

static const char months[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static void put(struct out *o, const char *s, size_t n)
{
	if (n > (size_t)(o->end - o->p))
		n = (size_t)(o->end - o->p);
	memcpy(o->p, s, n);
	o->p += n;
}

static void put_str(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void put_u64(struct out *o, uint64_t v)
{
	char buf[24], *p = buf + sizeof(buf);

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	put(o, p, (size_t)(buf + sizeof(buf) - p));
}

static size_t esc_len(unsigned char c)
{
	if (c == '"' || c == '\\')
		return 2;
	return c < 0x20 || c >= 0x7f ? 4 : 1;
}

static void put_esc_char(struct out *o, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char buf[4] = {'\\', (char)c, 0, 0};

	switch (esc_len(c)) {
	case 1:
		put(o, buf + 1, 1);
		break;
	case 2:
		put(o, buf, 2);
		break;
	default:
		buf[1] = 'x';
		buf[2] = hex[c >> 4];
		buf[3] = hex[c & 0xf];
		put(o, buf, 4);
	}
}

/* s escaped in at most max bytes; a cut one ends in "..." within max. */
static void put_escaped(struct out *o, const char *s, size_t n, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, need = 0, room;

	if (s == NULL)
		n = 0;
	for (i = 0; i < n && need <= max; i++)
		need += esc_len(u[i]);
	room = need <= max ? max : max - (sizeof(ELLIPSIS) - 1);
	for (i = 0, need = 0; i < n; i++) {
		need += esc_len(u[i]);
		if (need > room)
			break;
		put_esc_char(o, u[i]);
	}
	if (i < n)
		put_str(o, ELLIPSIS);
}

/* A quoted header value: "-" when the client sent none. */
static void put_field(struct out *o, const char *s, size_t n, size_t max)
{
	put_str(o, "\"");
	if (s == NULL)
		put_str(o, "-");
	else
		put_escaped(o, s, n, max);
	put_str(o, "\"");
}

static void put_peer(struct out *o, const struct sockaddr *sa)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	char buf[INET6_ADDRSTRLEN];
	const char *p = NULL;

	if (sa == NULL) {
		put_str(o, "-");
		return;
	}
	if (sa->sa_family == AF_INET)
		p = inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
	else if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		p = inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf, sizeof(buf));
	else if (sa->sa_family == AF_INET6)
		p = inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
	put_str(o, p ? p : "-");
}

static void put_2d(struct out *o, int v)
{
	char buf[2] = {(char)('0' + v / 10 % 10), (char)('0' + v % 10)};

	put(o, buf, 2);
}

/*
 * "10/Oct/2000:13:55:36 +0200", formatted once a second per thread. By
 * hand: strftime's %b follows the locale, and %z is not in C11.
 */
static const char *date_cached(time_t t)
{
	static _Thread_local time_t cached_t;
	static _Thread_local char cached[32];
	struct out o = {cached, cached + sizeof(cached) - 1};
	struct tm tm;
	int off;

	if (cached[0] != '\0' && t == cached_t)
		return cached;
	if (localtime_r(&t, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		memset(&tm, 0, sizeof(tm)); /* absurd: 00/Jan/1900 */
	off = (int)(tm.tm_gmtoff / 60);
	put_2d(&o, tm.tm_mday);
	put_str(&o, "/");
	put_str(&o, months[tm.tm_mon % 12]);
	put_str(&o, "/");
	put_2d(&o, (tm.tm_year + 1900) / 100);
	put_2d(&o, (tm.tm_year + 1900) % 100);
	put_str(&o, ":");
	put_2d(&o, tm.tm_hour);
	put_str(&o, ":");
	put_2d(&o, tm.tm_min);
	put_str(&o, ":");
	put_2d(&o, tm.tm_sec);
	put_str(&o, off < 0 ? " -" : " +");
	put_2d(&o, abs(off) / 60);
	put_2d(&o, abs(off) % 60);
	*o.p = '\0';
	cached_t = t;
	return cached;
}

size_t accesslog_format(const struct accesslog_entry *e, char *line)
{
	struct out o = {line, line + ACCESSLOG_LINE_MAX - 1};

	put_peer(&o, e->peer);
	put_str(&o, " - - [");
	put_str(&o, date_cached(e->when));
	put_str(&o, "] \"");
	if (e->minor < 0)
		put_str(&o, "-");
	else {
		put_escaped(&o, e->method, e->method_len, ACCESSLOG_MAX_METHOD);
		put_str(&o, " ");
		put_escaped(&o, e->target, e->target_len, ACCESSLOG_MAX_TARGET);
		put_str(&o, " ");
		if (e->version != NULL)
			put_escaped(&o, e->version, e->version_len, ACCESSLOG_MAX_VERSION);
		else {
			put_str(&o, "HTTP/1.");
			put_u64(&o, (uint64_t)e->minor);
		}
	}
	put_str(&o, "\" ");
	put_u64(&o, e->status > 0 ? (uint64_t)e->status : 0);
	put_str(&o, " ");
	if (e->bytes == 0)
		put_str(&o, "-");
	else
		put_u64(&o, e->bytes);
	put_str(&o, " ");
	put_field(&o, e->referer, e->referer_len, ACCESSLOG_MAX_REFERER);
	put_str(&o, " ");
	put_field(&o, e->user_agent, e->user_agent_len, ACCESSLOG_MAX_UA);
	put_str(&o, " ");
	put_u64(&o, e->usec);
	*o.p++ = '\n'; /* end leaves room for it */
	return (size_t)(o.p - line);
}

/* ---- the event loop's side ---- */

void accesslog_write(const struct accesslog_entry *e)
{
	char line[ACCESSLOG_LINE_MAX];
	size_t n, was;

	if (!alog_active)
		return;
	n = accesslog_format(e, line);
	pthread_mutex_lock(&alog.mu);
	if (alog.cap - alog.flen < n) {
		alog.dropped++;
		pthread_mutex_unlock(&alog.mu);
		return;
	}
	memcpy(alog.front + alog.flen, line, n);
	was = alog.flen;
	alog.flen += n;
	pthread_mutex_unlock(&alog.mu);
	/* Wake the writer when it may be idle, and once when half full. */
	if (was == 0 || (was < alog.wake_at && was + n >= alog.wake_at))
		pthread_cond_signal(&alog.wake);
}

uint64_t accesslog_dropped(void)
{
	uint64_t n;

	if (!alog_active)
		return alog.dropped; /* no thread to race with */
	pthread_mutex_lock(&alog.mu);
	n = alog.dropped;
	pthread_mutex_unlock(&alog.mu);
	return n;
}

int accesslog_active(void) { return alog_active; }

/* ---- the writer thread ---- */

static int report_due(const struct report *r, uint64_t dropped, uint64_t now)
{
	return (dropped > r->reported || r->lost > 0) &&
	    (r->last_ms == 0 || now >= r->last_ms + REPORT_MS);
}

/* Warn about drops and failed writes; force: now, whatever the rate. */
static void report(struct report *r, uint64_t dropped, int force)
{
	uint64_t now = clock_now_ms();

	if (!force && !report_due(r, dropped, now))
		return;
	if (dropped > r->reported) {
		log_warnx("access log: %llu line%s dropped (disk too slow)",
		    (unsigned long long)(dropped - r->reported), log_s(dropped - r->reported));
		r->reported = dropped;
		r->last_ms = now;
	}
	if (r->lost > 0) {
		errno = r->lost_errno;
		log_warn(
		    "access log: %llu line%s lost", (unsigned long long)r->lost, log_s(r->lost));
		r->lost = 0;
		r->last_ms = now;
	}
}

/* Called and returns with the lock held: wait until there is work. */
static void wait_for_lines(struct report *r)
{
	struct timespec ts;
	uint64_t due;

	/* Idle: sleep until a line comes, or a warning falls due. */
	while (alog.flen == 0 && !alog.stop) {
		if (alog.dropped > r->reported || r->lost > 0) {
			due = r->last_ms + REPORT_MS;
			ts = clock_ts(due);
			if (pthread_cond_timedwait(&alog.wake, &alog.mu, &ts) == ETIMEDOUT)
				return;
		} else
			pthread_cond_wait(&alog.wake, &alog.mu);
	}
	/* Let more lines gather, so a busy server writes in big pieces. */
	ts = clock_ts(clock_now_ms() + GATHER_MS);
	while (!alog.stop && alog.flen < alog.wake_at)
		if (pthread_cond_timedwait(&alog.wake, &alog.mu, &ts) == ETIMEDOUT)
			break;
}

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t lines = 0;
	const char *nl;

	while (n > 0 && (nl = memchr(p, '\n', n)) != NULL) {
		lines++;
		n -= (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	return lines;
}

static int write_all(const char *p, size_t n)
{
	struct pollfd pfd = {.fd = alog.fd, .events = POLLOUT};
	ssize_t w;

	while (n > 0) {
		if ((w = write(alog.fd, p, n)) == -1) {
			if (errno == EAGAIN) /* someone made it non-blocking */
				(void)poll(&pfd, 1, -1);
			else if (errno != EINTR)
				return -1;
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write whole lines, at most alog.chunk bytes a time. */
static void write_lines(const char *p, size_t n, struct report *r)
{
	const char *nl;
	size_t len;

	while (n > 0) {
		len = n;
		if (len > alog.chunk) {
			nl = memrchr(p, '\n', alog.chunk);
			len = (size_t)(nl + 1 - p); /* lines <= chunk */
		}
		if (write_all(p, len) == -1) {
			r->lost += count_lines(p, n);
			r->lost_errno = errno;
			return;
		}
		p += len;
		n -= len;
	}
}

static void *writer_main(void *arg)
{
	struct report r = {0};
	uint64_t dropped;
	size_t n;
	char *tmp;
	int done;

	(void)arg;
	pthread_mutex_lock(&alog.mu);
	do {
		wait_for_lines(&r);
		done = alog.stop && alog.flen == 0;
		n = alog.flen;
		tmp = alog.back;
		alog.back = alog.front;
		alog.front = tmp;
		alog.flen = 0;
		dropped = alog.dropped;
		pthread_mutex_unlock(&alog.mu);
		write_lines(alog.back, n, &r);
		report(&r, dropped, done);
		pthread_mutex_lock(&alog.mu);
	} while (!done);
	pthread_mutex_unlock(&alog.mu);
	return NULL;
}

/* ---- life ---- */

static void alog_free(void)
{
	free(alog.front);
	free(alog.back);
	alog.front = alog.back = NULL;
}

static int alog_sync_init(void)
{
	pthread_condattr_t ca;
	int rc;

	if ((rc = pthread_condattr_init(&ca)) != 0)
		return rc;
	if ((rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) == 0 &&
	    (rc = pthread_cond_init(&alog.wake, &ca)) == 0 &&
	    (rc = pthread_mutex_init(&alog.mu, NULL)) != 0)
		pthread_cond_destroy(&alog.wake);
	pthread_condattr_destroy(&ca);
	return rc;
}

/* The thread takes no signals: they stay with the event loop. */
static int alog_start_thread(void)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&alog.thread, NULL, writer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int accesslog_open(int fd, size_t bufsize)
{
	struct stat st;
	int rc;

	if (alog_active) {
		errno = EBUSY;
		log_warnx("access log: already open");
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("access log: fd %d", fd);
		return -1;
	}
	if (bufsize == 0)
		bufsize = ACCESSLOG_BUFSIZE;
	memset(&alog, 0, sizeof(alog));
	alog.fd = fd;
	alog.chunk = S_ISREG(st.st_mode) ? SIZE_MAX : PIPE_BUF;
	alog.cap = bufsize;
	alog.wake_at = bufsize / 2;
	if ((alog.front = malloc(bufsize)) == NULL || (alog.back = malloc(bufsize)) == NULL) {
		log_warn("access log: buffers");
		alog_free();
		return -1;
	}
	tzset(); /* before any chroot can hide the zone file */
	if ((rc = alog_sync_init()) != 0) {
		alog_free();
		errno = rc;
		log_warn("access log: lock");
		return -1;
	}
	if ((rc = alog_start_thread()) != 0) {
		pthread_cond_destroy(&alog.wake);
		pthread_mutex_destroy(&alog.mu);
		alog_free();
		errno = rc;
		log_warn("access log: thread");
		return -1;
	}
	alog_active = 1;
	return 0;
}

void accesslog_close(void)
{
	if (!alog_active)
		return;
	pthread_mutex_lock(&alog.mu);
	alog.stop = 1;
	pthread_mutex_unlock(&alog.mu);
	pthread_cond_signal(&alog.wake);
	pthread_join(alog.thread, NULL);
	pthread_cond_destroy(&alog.wake);
	pthread_mutex_destroy(&alog.mu);
	alog_free();
	alog_active = 0;
}
