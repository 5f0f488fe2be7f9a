/*
 * Reload (the control method and SIGHUP): re-read the file with the flags
 * given at start into a copy; refuse on any error; otherwise apply each
 * changed key live (a new MSG_CONFIG generation, the root, the log files,
 * the backlog), replace the manager gracefully for what it cannot take
 * live, and leave what only a restart of wsd changes. How each key is
 * applied is decided by reload.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon_int.h"
#include "log.h"
#include "notify.h"
#include "reload.h"

static void keep_string(char *dst, size_t len, const char **ptr)
{
	if (*ptr == NULL)
		return;
	snprintf(dst, len, "%s", *ptr);
	*ptr = dst;
}

/* The file alone, no flags, no cross-checks: what the file says, to compare with the next. */
static void file_view(const struct config_source *src, struct wsd_config *out)
{
	char err[CONFIG_ERRLIST];

	config_defaults(out);
	if (src->file)
		config_load(out, src->file, err, sizeof(err));
}

void reload_init(struct daemon *d, const struct config_source *src)
{
	d->src = *src;
	keep_string(d->src_file, sizeof(d->src_file), &d->src.file);
	for (int i = 0; i < 3; i++)
		keep_string(d->src_value[i], sizeof(d->src_value[i]), &d->src.value[i]);
	file_view(&d->src, &d->filecfg);
	d->generation = 1;
}

/* ---- what changed ---- */

static struct daemon_reload_change *add_change(struct daemon_reload_report *rep)
{
	if (rep->n == CONFIG_MAXKEYS)
		return NULL;
	return &rep->changes[rep->n++];
}

static int listed(const struct daemon_reload_report *rep, const char *key)
{
	for (int i = 0; i < rep->n; i++)
		if (strcmp(rep->changes[i].c.key, key) == 0)
			return 1;
	return 0;
}

/* Keys changed in the file that a flag keeps as they are (and not listed yet): reported. */
static void add_overridden(struct daemon_reload_report *rep, const struct wsd_config *next,
    const struct wsd_config *oldfile, const struct wsd_config *newfile)
{
	struct config_change fc[CONFIG_MAXKEYS];
	int n = config_diff(oldfile, newfile, fc, CONFIG_MAXKEYS);
	char where[PATH_MAX + 64], sec[16];
	struct daemon_reload_change *c;

	for (int i = 0; i < n && i < CONFIG_MAXKEYS; i++) {
		const char *dot = strchr(fc[i].key, '.');

		snprintf(sec, sizeof(sec), "%.*s", (int)(dot - fc[i].key), fc[i].key);
		if (config_where(next, sec, dot + 1, where, sizeof(where)) != 1 ||
		    where[0] != '-' || listed(rep, fc[i].key) || (c = add_change(rep)) == NULL)
			continue;
		c->c = fc[i];
		snprintf(c->applied, sizeof(c->applied), "no: %.2s overrides it", where);
	}
}

/* ---- applying ---- */

#define WHY_LEN sizeof(((struct daemon_reload_change *)0)->applied)

/* why: a change's "applied" (WHY_LEN bytes). -1. */
static int fail_open(char *why, const char *path)
{
	snprintf(why, WHY_LEN, "failed: cannot open %.110s: %.50s", path, strerror(errno));
	return -1;
}

static int open_path(const char *path)
{
	if (path[0] == '\0')
		return fcntl(2, F_DUPFD_CLOEXEC, 10);
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* A log at its new path, onto the descriptor we hold, handed to every child. */
static int move_log(struct daemon *d, const char *path, int fd, enum msg_type type, char *why)
{
	int nfd = open_path(path);

	if (nfd == -1)
		return fail_open(why, path);
	dup2(nfd, fd);
	close(nfd);
	daemon_send_log(d, type, fd);
	return 0;
}

/* The new root onto the descriptor we hold, handed to the managers (they pass it on). */
static int move_root(struct daemon *d, const char *root, char *why)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1)
		return fail_open(why, root);
	dup2(fd, d->rootfd);
	close(fd);
	FOREACH_KID (d, k)
		if (k->role == ROLE_MANAGER && k->e.sv.pid > 0 &&
		    msg_send(k->e.chan, MSG_ROOT, NULL, 0, &d->rootfd, 1) == -1)
			log_warn("new root to manager %d", (int)k->e.sv.pid);
	return 0;
}

/* The access log switched on or off: the next manager's workers write it, or not. */
static int switch_access(struct daemon *d, const struct wsd_config *next, char *why)
{
	if (!next->access_log_on) {
		if (d->accessfd >= 0)
			close(d->accessfd);
		d->accessfd = -1;
		return 0;
	}
	if (d->accessfd < 0 && (d->accessfd = open_path(next->access_log)) == -1)
		return fail_open(why, next->access_log);
	return 0;
}

/* A failed change: the value in effect stays (n bytes of the field at off). */
static int keep_old(struct wsd_config *next, const struct wsd_config *cur, size_t off, size_t n)
{
	memcpy((char *)next + off, (const char *)cur + off, n);
	return -1;
}

#define KEEP(field) keep_old(next, &d->cfg, offsetof(struct wsd_config, field), sizeof(next->field))

/* One change; on failure the old value is put back into next and why says so. */
static int apply_one(
    struct daemon *d, enum reload_how how, const char *key, struct wsd_config *next, char *why)
{
	switch (how) {
	case RELOAD_ROOT:
		return move_root(d, next->root, why) == -1 ? KEEP(root) : 0;
	case RELOAD_LOG:
		return move_log(d, next->log_file, d->logfd, MSG_LOG_ERROR, why) == -1 ?
		    KEEP(log_file) :
		    0;
	case RELOAD_ACCESS:
		return move_log(d, next->access_log, d->accessfd, MSG_LOG_ACCESS, why) == -1 ?
		    KEEP(access_log) :
		    0;
	case RELOAD_BACKLOG:
		if (d->listenfd >= 0 && listen(d->listenfd, next->backlog) == -1)
			return snprintf(why, WHY_LEN, "failed: listen: %s", strerror(errno)),
			       KEEP(backlog);
		return 0;
	case RELOAD_MANAGER:
		/* The access log on or off: the descriptor the next manager gets. */
		if (strcmp(key, "log.access_log") == 0 && switch_access(d, next, why) == -1)
			return KEEP(access_log_on);
		return 0;
	default:
		return 0;
	}
}

/* The pool bounds in effect follow the file only when its own [pool] min/max changed. */
static void pool_bounds(
    struct daemon *d, const struct wsd_config *next, const struct wsd_config *newfile)
{
	if (newfile->pool_min == d->filecfg.pool_min && newfile->pool_max == d->filecfg.pool_max)
		return;
	d->eff_min = next->pool_min;
	d->eff_max = next->pool_max;
}

/* Everything but the manager's replacement; 1 when some change failed. */
static int apply_all(struct daemon *d, struct daemon_reload_report *rep, int nchanged,
    const struct reload_plan *plan, struct wsd_config *next)
{
	int failed = 0;

	for (int i = 0; i < nchanged; i++) {
		struct daemon_reload_change *c = &rep->changes[i];

		snprintf(c->applied, sizeof(c->applied), "%s", reload_how_text(plan->how[i]));
		if (apply_one(d, plan->how[i], c->c.key, next, c->applied) == -1)
			failed = 1;
	}
	return failed;
}

/* The new generation to every child; the daemon's own checks and log level follow. */
static void send_generation(struct daemon *d)
{
	struct sv_limits lim = {
	    d->cfg.heartbeat_interval_ms, d->cfg.heartbeat_misses, d->cfg.startup_timeout_ms};

	d->generation++;
	daemon_fill_config(d);
	log_setlevel(d->cfg.log_level);
	svt_relimit(&d->tab, &lim);
	SVT_FOREACH (&d->tab, e)
		if (e->sv.pid > 0 &&
		    msg_send(e->chan, MSG_CONFIG, &d->mc, sizeof(d->mc), NULL, 0) == -1)
			log_warn("configuration to %s %d", e->sv.role, (int)e->sv.pid);
}

/* ---- the outcome ---- */

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Log it, record it for status and the event log, answer. */
static void reload_end(struct daemon *d, struct daemon_reload_report *rep, daemon_reload_fn done,
    void *arg, const char *why)
{
	int refused = strcmp(rep->result, "refused") == 0;

	rep->generation = d->generation;
	d->reload_time_ms = wall_ms();
	snprintf(d->reload_result, sizeof(d->reload_result), "%s", rep->result);
	if (refused)
		snprintf(d->reload_message, sizeof(d->reload_message), "%d error%s", rep->nerrors,
		    log_s(rep->nerrors));
	else
		snprintf(d->reload_message, sizeof(d->reload_message), "%d key%s changed", rep->n,
		    log_s(rep->n));
	for (int i = 0; i < rep->n; i++)
		log_info("reload: %s %s -> %s: %s", rep->changes[i].c.key, rep->changes[i].c.from,
		    rep->changes[i].c.to, rep->changes[i].applied);
	(refused ? log_warnx : log_info)("reload (%s) %s, generation %u: %s", why, rep->result,
	    d->generation, d->reload_message);
	if (refused)
		for (char *l = rep->errors, *nl; *l && (nl = strchr(l, '\n')) != NULL; l = nl + 1)
			log_warnx("reload refused: %.*s", (int)(nl - l), l);
	elog_add(d->events, refused ? "reload refused" : "reload applied", "daemon", getpid(),
	    "%s, generation %u: %s", rep->result, d->generation, d->reload_message);
	if (d->ready) /* the end of RELOADING=1 (none was said before the first READY) */
		daemon_notify_ready(d);
	if (done)
		done(arg, rep);
}

/* The manager's replacement is over: ready (applied) or failed (the old one serves on). */
static void manager_replaced(void *arg, const struct daemon_restart_report *rr)
{
	struct daemon *d = arg;
	struct daemon_reload_report *rep = d->reload;

	d->reload = NULL;
	for (int i = 0; i < rep->n; i++)
		if (rr->failed && strcmp(rep->changes[i].applied, "restarted manager") == 0) {
			snprintf(rep->changes[i].applied, sizeof(rep->changes[i].applied),
			    "failed: %.160s", rr->cause);
			rep->result = "partial";
		}
	reload_end(d, rep, d->reload_done, d->reload_arg, d->reload_why);
	free(rep);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; (s = strchr(s, '\n')) != NULL; s++)
		n++;
	return n;
}

/* The changes applied by this reload: the effective configuration, old and next. */
static int reload_changes(struct daemon *d, struct daemon_reload_report *rep,
    const struct wsd_config *next, struct reload_plan *plan)
{
	struct config_change ch[CONFIG_MAXKEYS];
	int n = config_diff(&d->cfg, next, ch, CONFIG_MAXKEYS);

	n = n > CONFIG_MAXKEYS ? CONFIG_MAXKEYS : n;
	for (int i = 0; i < n; i++)
		rep->changes[i].c = ch[i];
	rep->n = n;
	reload_plan(ch, n, plan);
	return n;
}

/* Keys the file changed that only a restart of wsd changes: reported as left. */
static void add_fixed(
    struct daemon *d, struct daemon_reload_report *rep, const struct wsd_config *asked)
{
	struct config_change ch[CONFIG_MAXKEYS];
	int n = config_diff(&d->cfg, asked, ch, CONFIG_MAXKEYS);
	struct daemon_reload_change *c;

	for (int i = 0; i < n && i < CONFIG_MAXKEYS; i++)
		if (ch[i].apply == CONFIG_RESTART && (c = add_change(rep)) != NULL) {
			c->c = ch[i];
			snprintf(
			    c->applied, sizeof(c->applied), "%s", reload_how_text(RELOAD_KEEP));
		}
}

/* Apply the nchanged changes planned; the result, unless a new manager is still to come. */
static const char *reload_apply(struct daemon *d, struct daemon_reload_report *rep, int nchanged,
    const struct reload_plan *plan, struct wsd_config *next, const struct wsd_config *newfile)
{
	int failed = apply_all(d, rep, nchanged, plan, next);

	pool_bounds(d, next, newfile);
	d->filecfg = *newfile;
	d->cfg = *next;
	if (nchanged > 0)
		send_generation(d);
	return failed ? "partial" : nchanged > 0 ? "applied" : "unchanged";
}

/* The manager could not even be started again: those changes failed, the old one serves. */
static void manager_not_replaced(
    struct daemon_reload_report *rep, const struct reload_plan *plan, int nchanged, const char *err)
{
	for (int i = 0; i < nchanged; i++)
		if (plan->how[i] == RELOAD_MANAGER) {
			snprintf(rep->changes[i].applied, sizeof(rep->changes[i].applied),
			    "failed: %.150s", err);
			rep->result = "partial";
		}
}

/* cfgs: room for three configurations (next, the file alone, the file as asked). */
static int reload_run(struct daemon *d, struct daemon_reload_report *rep, struct wsd_config *cfgs,
    daemon_reload_fn done, void *arg)
{
	struct wsd_config *next = &cfgs[0], *newfile = &cfgs[1], *asked = &cfgs[2];
	struct reload_plan plan;
	char err[160];
	int nchanged;

	if (config_read(next, &d->src, rep->errors, sizeof(rep->errors)) != 0) {
		rep->result = "refused";
		rep->nerrors = count_lines(rep->errors);
		return 0;
	}
	file_view(&d->src, newfile);
	*asked = *next;
	reload_keep_fixed(next, &d->cfg);
	nchanged = reload_changes(d, rep, next, &plan);
	add_fixed(d, rep, asked);
	add_overridden(rep, next, &d->filecfg, newfile);
	rep->result = reload_apply(d, rep, nchanged, &plan, next, newfile);
	if (!plan.restart_manager)
		return 0;
	if (daemon_restart_role(d, "manager", 0, manager_replaced, d, err, sizeof(err)) == -1) {
		manager_not_replaced(rep, &plan, nchanged, err);
		return 0;
	}
	d->reload = rep, d->reload_done = done, d->reload_arg = arg;
	return 1;
}

int daemon_reload(struct daemon *d, const char *why, daemon_reload_fn done, void *arg)
{
	struct daemon_reload_report *rep;
	struct wsd_config *cfgs;

	if (d->reload != NULL || d->restart.done != NULL)
		return -1;
	rep = calloc(1, sizeof(*rep));
	cfgs = malloc(3 * sizeof(*cfgs));
	if (rep == NULL || cfgs == NULL) {
		free(rep), free(cfgs);
		log_warnx("reload (%s): out of memory", why);
		return -1;
	}
	snprintf(d->reload_why, sizeof(d->reload_why), "%s", why);
	if (d->ready)
		notify_reloading();
	if (reload_run(d, rep, cfgs, done, arg) == 0) {
		reload_end(d, rep, done, arg, why);
		free(rep);
	}
	free(cfgs);
	return 0;
}
