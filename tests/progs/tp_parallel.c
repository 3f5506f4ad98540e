/* SPDX-License-Identifier: MIT */
/*
 * tp_parallel [NTHREADS [CALLS [WORK [fork]]]]: NTHREADS threads (2) each
 * compute on their own, CALLS (50) rounds of WORK million (200) steps of a
 * xorshift, and make exactly one pwrite64(2) to /dev/null per round, a
 * call no other code of the program makes, so a log of the run can be
 * checked to hold CALLS of them per thread. With "fork", a child process
 * does the same first and the parent reports its exit status.
 *
 * stdout is the same in every run: each thread's result, which depends on
 * its number only. stderr says how parallel the threads ran: "cpu/wall R",
 * the process's CPU time over the wall time of the threads' lives
 * (clock_gettime(2) CLOCK_PROCESS_CPUTIME_ID, CLOCK_MONOTONIC); about
 * NTHREADS where they have the CPUs, 1 where they run one at a time;
 * and "cpus: LIST", the CPUs the kernel lets its threads use
 * (Cpus_allowed_list of /proc/self/status, proc(5)), which a recorder that
 * pins them changes.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>

#include "progs.h"

#define MAX_THREADS 16

static int g_null = -1;
static long g_calls = 50, g_work = 200;
static uint64_t g_result[MAX_THREADS];

static void *
thread_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);

	for (long c = 0; c < g_calls; c++) {
		for (long i = 0; i < g_work * 1000000 / g_calls; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		if (pwrite(g_null, &x, sizeof(x), 0) != (ssize_t)sizeof(x))
			die("pwrite: %s", strerror(errno));
	}
	g_result[id] = x;
	return NULL;
}

static double
seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
say_cpus(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "Cpus_allowed_list:", 18) == 0)
			fprintf(stderr, "cpus: %s", line + 18 + strspn(line + 18, " \t"));
	if (f)
		fclose(f);
}

static void
run(const char *who, int n)
{
	pthread_t th[MAX_THREADS];
	double wall, cpu;

	wall = seconds(CLOCK_MONOTONIC);
	cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i) != 0)
			die("pthread_create");
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	wall = seconds(CLOCK_MONOTONIC) - wall;
	cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu;
	for (int i = 0; i < n; i++)
		say("%s: thread %d: %ld calls, result %016llx\n", who, i, g_calls,
		    (unsigned long long)g_result[i]);
	fprintf(stderr, "%s: cpu/wall %.2f\n", who, wall > 0 ? cpu / wall : 0.0);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2;
	int status;
	pid_t pid;

	if (argc > 2)
		g_calls = atol(argv[2]);
	if (argc > 3)
		g_work = atol(argv[3]);
	if (n < 1 || n > MAX_THREADS || g_calls < 1 || g_work < 1)
		die("usage: tp_parallel [NTHREADS [CALLS [WORK [fork]]]]");
	g_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (g_null < 0)
		die("/dev/null: %s", strerror(errno));
	if (argc > 4 && strcmp(argv[4], "fork") == 0) {
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			run("child", n);
			_exit(3);
		}
		if (waitpid(pid, &status, 0) != pid)
			die("waitpid: %s", strerror(errno));
		say("child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	run("parent", n);
	say_cpus();
	say("tp_parallel: ok\n");
	return 0;
}
