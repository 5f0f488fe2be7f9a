/*
 * A real Prometheus (the Debian package's /usr/bin/prometheus) scrapes a
 * real wsd on loopback: its own API must say the target is up and hold a
 * wsd counter with the value we served. Skipped (77) when Prometheus is
 * absent; leaves no process behind.
 */
#include <check.h>

#include "check_run.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"

#define PROMETHEUS "/usr/bin/prometheus"
#define SKIP 77

static struct wsd w;
static pid_t prom;
static uint16_t prom_port;

/* A port free now on 127.0.0.1 (a small race until Prometheus binds it; fine on loopback). */
static uint16_t free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static uint16_t metrics_port(void) { return h_metrics_port(&w); }

static void prom_start(uint16_t target)
{
	char conf[PATH_MAX + 32], yml[512], cfg[PATH_MAX + 64], tsdb[PATH_MAX + 64], web[64],
	    logp[PATH_MAX + 32];
	int fd;

	snprintf(conf, sizeof(conf), "%s/prometheus.yml", w.dir);
	snprintf(yml, sizeof(yml),
	    "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
	    "scrape_configs:\n  - job_name: wsd\n    static_configs:\n"
	    "      - targets: ['127.0.0.1:%u']\n",
	    target);
	h_write_text(conf, yml);
	snprintf(cfg, sizeof(cfg), "--config.file=%s", conf);
	snprintf(tsdb, sizeof(tsdb), "--storage.tsdb.path=%s/tsdb", w.dir);
	prom_port = free_port();
	snprintf(web, sizeof(web), "--web.listen-address=127.0.0.1:%u", prom_port);
	snprintf(logp, sizeof(logp), "%s/prometheus.log", w.dir);
	pid_t parent = getpid();

	if ((prom = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) /* the test died before the prctl: no orphan Prometheus */
			_exit(127);
		fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(PROMETHEUS, "prometheus", cfg, tsdb, web, "--log.level=warn", (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(prom, 0);
}

static int prom_exited(void *arg) { return waitpid(prom, NULL, WNOHANG) == prom; }

static void prom_stop(void)
{
	if (prom <= 0)
		return;
	kill(prom, SIGTERM);
	if (!h_wait_until(prom_exited, NULL, h_bound_ms(15000))) {
		kill(prom, SIGKILL);
		waitpid(prom, NULL, 0);
		ck_abort_msg("prometheus did not exit within 15 s of SIGTERM");
	}
	ck_assert_int_eq(kill(prom, 0), -1); /* reaped: no such process any more */
	prom = 0;
}

/* GET path from Prometheus (HTTP/1.0: no chunks); the body, malloc'd, or NULL. */
static char *prom_get(const char *path)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(prom_port)};
	struct timeval tv = {5, 0};
	char req[1024], *buf = malloc(1 << 20), *body = NULL;
	size_t n = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
		while (n < (1 << 20) - 1 && (r = read(fd, buf + n, (1 << 20) - 1 - n)) > 0)
			n += (size_t)r;
		buf[n] = '\0';
		if (strncmp(buf, "HTTP/1.", 7) == 0 && strstr(buf, " 200 ") &&
		    strstr(buf, "\r\n\r\n"))
			body = strdup(strstr(buf, "\r\n\r\n") + 4);
	}
	close(fd);
	free(buf);
	return body;
}

/* The value of an instant query's first sample, as a string; -1 when none yet. */
static double query(const char *encoded)
{
	char path[512], *body;
	cJSON *j, *res, *v;
	double out = -1;

	snprintf(path, sizeof(path), "/api/v1/query?query=%s", encoded);
	if ((body = prom_get(path)) == NULL)
		return -1;
	j = cJSON_Parse(body);
	res = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "data"), "result");
	v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(res, 0), "value");
	if (cJSON_IsString(cJSON_GetArrayItem(v, 1)))
		out = strtod(cJSON_GetArrayItem(v, 1)->valuestring, NULL);
	cJSON_Delete(j);
	free(body);
	return out;
}

static int scraped(void *arg)
{
	/* up{job="wsd"} == 1 and the requests counter as served. */
	return query("up%7Bjob%3D%22wsd%22%7D") == 1 &&
	    query("wsd_http_requests_total%7Bjob%3D%22wsd%22%7D") == *(double *)arg;
}

START_TEST(test_prometheus_scrapes_wsd)
{
	struct h_response r;
	double served = 4;

	h_init(&w);
	h_write_file(&w, "index.html", "scraped\n", 8);
	h_start(&w, "[metrics]\nlisten = 127.0.0.1:0\n");
	for (int i = 0; i < (int)served; i++) {
		ck_assert_int_eq(h_get(&w, "GET", "/index.html", &r), 0);
		ck_assert_int_eq(r.status, 200);
		h_response_free(&r);
	}
	prom_start(metrics_port());
	if (!h_wait_until(scraped, &served, h_bound_ms(60000))) {
		prom_stop();
		ck_abort_msg(
		    "prometheus never saw wsd up with %g requests (log in %s)", served, w.dir);
	}
	ck_assert_double_eq(query("wsd_build_info%7Bjob%3D%22wsd%22%7D"), 1);
	prom_stop();
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("prometheus");
	TCase *tc = tcase_create("prometheus");

	if (access(PROMETHEUS, X_OK) != 0) {
		printf("SKIP: %s absent (Debian package prometheus): no real scrape tested\n",
		    PROMETHEUS);
		return SKIP;
	}
	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_prometheus_scrapes_wsd);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
