/* Logging: one line per event, carrying time, level, role and pid. */
#ifndef WSD_LOG_H
#define WSD_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_FATAL, LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* fd: where lines go (the daemon opens the log file; children inherit it). */
void log_init(int fd, enum log_level level);
void log_setrole(const char *role);
void log_setlevel(enum log_level level);
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For broken invariants only, in a process its supervisor restarts. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* The plural ending of a counted noun: "%u worker%s", n, log_s(n). */
static inline const char *log_s(unsigned long long n) { return n == 1 ? "" : "s"; }

#endif
