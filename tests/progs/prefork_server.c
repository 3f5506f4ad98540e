/* SPDX-License-Identifier: MIT */
/*
 * A pre-forking server: prefork_server PORT [REQUESTS]
 *
 * The parent listens on 127.0.0.1:PORT, then forks NWORKERS workers that
 * accept() on the shared listening socket. Each request line gets the reply
 * "LINE COUNTER PID\n", where COUNTER is a counter in a MAP_SHARED page that
 * the workers increment with a plain read-modify-write, no lock and no
 * atomic: an update may be lost when both workers handle a request at once,
 * and a replay must lose the same ones. The request "quit" gets "bye\n": the
 * worker sets the stop flag in the shared page and exits; the other one sees
 * the flag within POLL_MS, as it waits for a connection or a request with a
 * timeout. The parent reaps both and prints, in a fixed order, each worker's
 * pid, the requests it handled and its exit status, then the counter.
 *
 * Bounded: a worker handles at most REQUESTS requests (default 100000) and
 * gives up after RUN_LIMIT_S seconds (exit 2); the parent kills what is left
 * RUN_LIMIT_S + 15 seconds after the fork. Exits 1 if a worker failed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "progs.h"

#define NWORKERS 2
#define POLL_MS 100
#define RUN_LIMIT_S 60
#define LINE_MAX_LEN 256
#define DEFAULT_REQUESTS 100000

/* Worker exit statuses. */
#define WORKER_OK 0
#define WORKER_TIMEOUT 2

struct shared {
	/* Racy on purpose: plain read-modify-write from both workers. */
	volatile long counter;
	atomic_int stop;
	/* handled[i] is written by worker i only. */
	volatile long handled[NWORKERS];
};

/* What serve() makes of a connection. */
enum serve_result {
	SERVE_MORE,    /* the complete lines are handled: read more */
	SERVE_CLOSED,  /* the client closed it, or it failed: accept the next */
	SERVE_STOP,    /* "quit" came, or another worker set the stop flag */
	SERVE_TIMEOUT, /* RUN_LIMIT_S ran out */
};

/* Read by the SIGALRM handler. */
static volatile pid_t g_workers[NWORKERS];

static time_t
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* send(2) all of @buf; MSG_NOSIGNAL, as a client that went away must not
 * kill the worker with SIGPIPE. Returns 0, or -1 if the connection failed. */
static int
send_all(int fd, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += n;
	}
	return 0;
}

/* Handles the complete lines in @buf[0..*have): replies to each and moves
 * what is left to the front. */
static enum serve_result
handle_lines(int id, int fd, struct shared *sh, long max_requests, char *buf, size_t *have)
{
	char *nl;

	while ((nl = memchr(buf, '\n', *have))) {
		size_t len = nl - buf, used = len + 1;
		char reply[LINE_MAX_LEN + 64];
		long value;
		int n;

		if (len > 0 && buf[len - 1] == '\r')
			len--;
		if (len == 4 && memcmp(buf, "quit", 4) == 0) {
			atomic_store(&sh->stop, 1);
			send_all(fd, "bye\n", 4);
			return SERVE_STOP;
		}
		if (sh->handled[id] >= max_requests) {
			send_all(fd, "limit\n", 6);
			return SERVE_CLOSED;
		}
		value = sh->counter;
		value++;
		sh->counter = value;
		sh->handled[id]++;
		n = snprintf(reply, sizeof(reply), "%.*s %ld %d\n", (int)len, buf, value, getpid());
		if (send_all(fd, reply, n) < 0)
			return SERVE_CLOSED;
		memmove(buf, buf + used, *have - used);
		*have -= used;
	}
	return SERVE_MORE;
}

/* Serves one connection until the client closes it, "quit", the stop flag
 * or the deadline. */
static enum serve_result
serve(int id, int fd, struct shared *sh, long max_requests, time_t deadline)
{
	char buf[4 * LINE_MAX_LEN];
	size_t have = 0;

	while (now_s() < deadline) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		enum serve_result r;
		ssize_t n;
		int p;

		p = poll(&pfd, 1, POLL_MS);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			die("prefork_server: poll: %s", strerror(errno));
		if (p == 0) {
			if (atomic_load(&sh->stop))
				return SERVE_STOP;
			continue;
		}
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return SERVE_CLOSED; /* end of file, or a reset connection */
		have += n;
		r = handle_lines(id, fd, sh, max_requests, buf, &have);
		if (r != SERVE_MORE)
			return r;
		if (have == sizeof(buf)) {
			send_all(fd, "too long\n", 9);
			return SERVE_CLOSED;
		}
	}
	return SERVE_TIMEOUT;
}

static int
worker_main(int id, int lfd, struct shared *sh, long max_requests, time_t deadline)
{
	say("worker pid %d ppid %d\n", getpid(), getppid());
	while (!atomic_load(&sh->stop)) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		enum serve_result r;
		int p, fd;

		if (now_s() >= deadline)
			return WORKER_TIMEOUT;
		p = poll(&pfd, 1, POLL_MS);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			die("prefork_server: poll: %s", strerror(errno));
		if (p == 0)
			continue;
		/* Both workers wake for one connection: the listening socket is
		 * non-blocking, and the one that loses the race gets EAGAIN. */
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED)
				continue;
			die("prefork_server: accept: %s", strerror(errno));
		}
		r = serve(id, fd, sh, max_requests, deadline);
		close(fd);
		if (r == SERVE_TIMEOUT)
			return WORKER_TIMEOUT;
	}
	return WORKER_OK;
}

static void
on_alarm(int sig)
{
	(void)sig;
	for (int i = 0; i < NWORKERS; i++)
		if (g_workers[i] > 0)
			kill(g_workers[i], SIGKILL);
}

static int
listen_on(int port)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("prefork_server: socket: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		die("prefork_server: SO_REUSEADDR: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("prefork_server: bind 127.0.0.1:%d: %s", port, strerror(errno));
	if (listen(fd, 64) < 0)
		die("prefork_server: listen: %s", strerror(errno));
	return fd;
}

int
main(int argc, char **argv)
{
	long max_requests = DEFAULT_REQUESTS, total = 0;
	struct sigaction sa = { .sa_handler = on_alarm };
	pid_t workers[NWORKERS];
	struct shared *sh;
	int port, lfd, ok = 1;
	time_t deadline;

	if (argc < 2 || argc > 3)
		die("usage: prefork_server PORT [REQUESTS]");
	port = atoi(argv[1]);
	if (argc == 3)
		max_requests = atol(argv[2]);
	if (port <= 0 || port > 65535 || max_requests <= 0)
		die("prefork_server: bad PORT or REQUESTS");

	say("parent pid %d\n", getpid());
	lfd = listen_on(port);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("prefork_server: mmap: %s", strerror(errno));
	say("listening on 127.0.0.1:%d\n", port);

	deadline = now_s() + RUN_LIMIT_S;
	for (int i = 0; i < NWORKERS; i++) {
		pid_t pid;

		/* say() does not buffer; stdio might, and a buffer would be
		 * printed once by each process. */
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			die("prefork_server: fork: %s", strerror(errno));
		if (pid == 0)
			_exit(worker_main(i, lfd, sh, max_requests, deadline));
		workers[i] = g_workers[i] = pid;
	}
	/* The workers hold the listening socket; once they are gone the port
	 * is closed. */
	close(lfd);

	sigaction(SIGALRM, &sa, NULL);
	alarm(RUN_LIMIT_S + 15);
	for (int i = 0; i < NWORKERS; i++) {
		const char *how = "exit";
		int status, code;
		pid_t r;

		while ((r = waitpid(workers[i], &status, 0)) < 0 && errno == EINTR)
			;
		if (r != workers[i])
			die("prefork_server: waitpid: %s", strerror(errno));
		/* Reaped: its pid may be reused, the alarm must not kill it. */
		g_workers[i] = 0;
		if (WIFEXITED(status)) {
			code = WEXITSTATUS(status);
		} else {
			how = "killed by signal";
			code = WTERMSIG(status);
		}
		ok &= WIFEXITED(status) && code == WORKER_OK;
		say("worker %d pid %d: %ld requests, %s %d\n", i, workers[i], sh->handled[i],
		    how, code);
		total += sh->handled[i];
	}
	alarm(0);
	say("counter %ld, %ld requests, %ld lost updates\n", sh->counter, total,
	    total - sh->counter);
	say("prefork_server: %s\n", ok ? "ok" : "A WORKER FAILED");
	return ok ? 0 : 1;
}
