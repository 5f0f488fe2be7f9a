/*
 * Logging. Each line is written with a single write(2) so that lines from
 * several processes sharing one descriptor (O_APPEND) never interleave.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static enum log_level log_max = LOG_LVL_INFO;
static const char *log_role = "wsd";

static const char *const level_names[] = {"fatal", "error", "warn", "info", "debug"};

void log_init(int fd, enum log_level level)
{
	log_fd = fd;
	log_max = level;
}

void log_setrole(const char *role) { log_role = role; }
void log_setlevel(enum log_level level) { log_max = level; }
const char *log_level_name(enum log_level level) { return level_names[level]; }

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = LOG_LVL_ERROR; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void log_vwrite(enum log_level level, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void log_vwrite(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	int r;

	if (level > log_max)
		return;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ld %s %s[%d]: ", (long)(tv.tv_usec / 1000),
	    level_names[level], log_role, (int)getpid());
	n = (r < 0 || (size_t)r >= sizeof(line) - n) ? sizeof(line) - 1 : n + (size_t)r;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = (r < 0 || (size_t)r >= sizeof(line) - n) ? sizeof(line) - 1 : n + (size_t)r;
	if (errnum != 0) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
		n = (r < 0 || (size_t)r >= sizeof(line) - n) ? sizeof(line) - 1 : n + (size_t)r;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(log_fd, line, n);
}

#define LOG_FN(name, level, witherr) \
	void name(const char *fmt, ...) \
	{ \
		int saved = errno; \
		va_list ap; \
		va_start(ap, fmt); \
		log_vwrite(level, witherr ? saved : 0, fmt, ap); \
		va_end(ap); \
		errno = saved; \
	}

LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_error, LOG_LVL_ERROR, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)

void fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_FATAL, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_FATAL, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
