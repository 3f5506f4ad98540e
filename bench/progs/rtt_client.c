/* SPDX-License-Identifier: MIT */
/*
 * Benchmark client (bench/bench14.sh "servers"): ONE connection to a server
 * on 127.0.0.1, N sequential round trips (send a request, read the whole
 * reply, check it), each timed; prints the latency percentiles. With one
 * client the server idles between requests, so this is the time a server
 * takes to notice a request that arrives while it is blocked.
 *   redis PORT N   SET k v once, then N times GET k (RESP, 11-byte reply)
 *   echo PORT N    N times 64 bytes, echoed back whole
 *
 * usage: rtt_client redis|echo PORT N
 * Prints one line: "n=N p50_us=.. p90_us=.. p99_us=.. max_us=.. rps=..".
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ECHO_SIZE 64

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends @req and reads exactly strlen(@want) bytes; 0 if they are @want. */
static int
round_trip(int fd, const char *req, size_t req_len, const char *want, size_t want_len)
{
	char buf[256];
	size_t got = 0;

	if (send_all(fd, req, req_len))
		return -1;
	while (got < want_len) {
		ssize_t n = recv(fd, buf + got, want_len - got, 0);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return memcmp(buf, want, want_len) ? -1 : 0;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double
percentile_us(const int64_t *sorted, long n, double p)
{
	long i = (long)(p * (double)(n - 1) + 0.5);

	return (double)sorted[i] / 1000.0;
}

int
main(int argc, char **argv)
{
	static const char set[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
	static const char get[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
	static const char got[] = "$5\r\nhello\r\n";
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char echo[ECHO_SIZE];
	const char *req, *want;
	size_t req_len, want_len;
	int64_t *lat, t0, t1;
	int fd, one = 1;
	long n;

	if (argc != 4 || (strcmp(argv[1], "redis") && strcmp(argv[1], "echo")) ||
	    (n = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: rtt_client redis|echo PORT N\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("rtt_client: connect");
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!strcmp(argv[1], "redis")) {
		if (round_trip(fd, set, sizeof(set) - 1, "+OK\r\n", 5)) {
			fprintf(stderr, "rtt_client: SET failed\n");
			return 1;
		}
		req = get, req_len = sizeof(get) - 1;
		want = got, want_len = sizeof(got) - 1;
	} else {
		for (int i = 0; i < ECHO_SIZE; i++)
			echo[i] = (char)('a' + i % 26);
		req = want = echo;
		req_len = want_len = ECHO_SIZE;
	}
	lat = calloc((size_t)n, sizeof(*lat));
	if (!lat)
		return 1;
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		int64_t a = now_ns();

		if (round_trip(fd, req, req_len, want, want_len)) {
			fprintf(stderr, "rtt_client: request %ld: no reply or a wrong one\n", i);
			return 1;
		}
		lat[i] = now_ns() - a;
	}
	t1 = now_ns();
	close(fd);
	qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
	printf("n=%ld p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f rps=%.0f\n", n,
	       percentile_us(lat, n, 0.50), percentile_us(lat, n, 0.90), percentile_us(lat, n, 0.99),
	       (double)lat[n - 1] / 1000.0, (double)n * 1e9 / (double)(t1 - t0));
	free(lat);
	return 0;
}
