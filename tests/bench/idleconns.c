/*
 * idleconns: hold N idle keep-alive connections to 127.0.0.1:PORT, for the
 * memory-per-idle-connection figure (tests/bench/idle_mem.sh).
 *
 *   idleconns PORT N PATH
 *
 * Opens N connections, one keep-alive GET each, then prints "held N" and
 * waits for a line on stdin; then sends one more GET on every connection
 * and prints "answered A of N, closed by the server C", and exits 0 when
 * every one was answered and none closed. Raise RLIMIT_NOFILE first.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_S 10

static int dial(uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {TIMEOUT_S, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One request, its whole response read (Content-Length): 1 kept alive, 0 closed, -1 failed. */
static int ask(int fd, const char *req)
{
	char buf[65536], *p;
	size_t have = 0;
	long clen = -1;
	ssize_t n;

	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		return -1;
	for (;;) {
		if ((n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0)) <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		if ((p = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		if (clen < 0) {
			char *c = strcasestr(buf, "\r\nContent-Length:");
			clen = c ? strtol(c + 17, NULL, 10) : 0;
		}
		if ((long)(have - (size_t)(p + 4 - buf)) >= clen)
			break;
	}
	return strcasestr(buf, "\r\nConnection: close") ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	char req[512], line[16];
	int *fds, n, answered = 0, closed = 0;
	uint16_t port;

	if (argc != 4) {
		fprintf(stderr, "usage: idleconns PORT N PATH\n");
		return 2;
	}
	port = (uint16_t)atoi(argv[1]);
	n = atoi(argv[2]);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", argv[3]);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (n <= 0 || (fds = calloc((size_t)n, sizeof(*fds))) == NULL)
		return 2;
	for (int i = 0; i < n; i++)
		if ((fds[i] = dial(port)) == -1 || ask(fds[i], req) != 1) {
			fprintf(stderr, "idleconns: connection %d: %s\n", i, strerror(errno));
			return 1;
		}
	printf("held %d\n", n);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 0;
	for (int i = 0; i < n; i++) {
		int rc = ask(fds[i], req);

		answered += rc >= 0;
		closed += rc <= 0;
	}
	printf("answered %d of %d, closed by the server %d\n", answered, n, closed);
	return answered == n && closed == 0 ? 0 : 1;
}
