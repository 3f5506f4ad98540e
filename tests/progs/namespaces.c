/* SPDX-License-Identifier: MIT */
/*
 * Namespaces: unshare(CLONE_NEWUTS), sethostname and uname; setns(2) back
 * into the first UTS namespace through /proc/self/ns/uts; a child made by
 * clone(2) with CLONE_NEWUTS | CLONE_NEWNET names its own host and sees only
 * a loopback interface; unshare of CLONE_FILES | CLONE_FS | CLONE_SYSVSEM;
 * unshare(CLONE_NEWUSER | CLONE_NEWUTS) and unshare(CLONE_NEWNET) with
 * if_nameindex(3). Every line but the "nonce" one is the same natively,
 * recorded and replayed (run as root: CAP_SYS_ADMIN).
 * `namespaces newpid`: a child in a new PID namespace (unshare, then clone
 * with CLONE_NEWPID) sees itself as pid 1, raises signals with the ids glibc
 * keeps (CLONE_CHILD_SETTID, CLONE_PARENT_SETTID), forks pid 3 and reaps it.
 */
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "progs.h"

static void
print_uname(const char *when)
{
	struct utsname u;

	if (uname(&u) < 0)
		die("uname: %s", strerror(errno));
	say("%s: nodename %s domainname %s\n", when, u.nodename, u.domainname);
}

static void
print_interfaces(const char *when)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	char line[256];
	size_t off = 0;

	if (!ifs)
		die("if_nameindex: %s", strerror(errno));
	for (i = ifs; i->if_index && off < sizeof(line) - 32; i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %u:%s", i->if_index,
					i->if_name);
	line[off] = '\0';
	say("%s: interfaces%s\n", when, line);
	if_freenameindex(ifs);
}

static char stack[64 * 1024] __attribute__((aligned(16)));

static int
child_main(void *arg)
{
	(void)arg;
	if (sethostname("uprr-clone", 10) < 0)
		_exit(2);
	print_uname("clone child");
	print_interfaces("clone child");
	return 0;
}

/* ---- newpid mode: PID namespaces ---- */

static volatile sig_atomic_t nusr1, nusr2;

static void
on_usr(int sig)
{
	if (sig == SIGUSR1)
		nusr1++;
	else
		nusr2++;
}

static void *
ns_thread(void *arg)
{
	(void)arg;
	say("ns thread: gettid %ld\n", syscall(SYS_gettid));
	/* tgkill(getpid(), its tid as glibc keeps it: CLONE_PARENT_SETTID) */
	pthread_kill(pthread_self(), SIGUSR2);
	say("ns thread: SIGUSR2 handled %d\n", (int)nusr2);
	return NULL;
}

static int
ns_init(void *arg)
{
	pthread_t th;
	int status;
	pid_t pid;

	(void)arg;
	say("ns init: getpid %d getppid %d\n", getpid(), getppid());
	signal(SIGUSR1, on_usr);
	signal(SIGUSR2, on_usr);
	/* raise(3): tgkill with the tid glibc keeps (CLONE_CHILD_SETTID) */
	raise(SIGUSR1);
	say("ns init: SIGUSR1 handled %d\n", (int)nusr1);
	if (pthread_create(&th, NULL, ns_thread, NULL) != 0 || pthread_join(th, NULL) != 0)
		_exit(2);
	pid = fork();
	if (pid == 0) {
		say("ns grandchild: getpid %d getppid %d\n", getpid(), getppid());
		_exit(7);
	}
	say("ns init: fork returned %d, waitpid returned %d", pid, waitpid(pid, &status, 0));
	say(", status %d\n", WEXITSTATUS(status));
	return 5;
}

static int
newpid(void)
{
	static char init_stack[256 * 1024] __attribute__((aligned(16)));
	int status;
	long r;
	pid_t pid;

	say("nonce: %llu\n", (unsigned long long)random_seed());
	/* clone(2) with CLONE_NEWPID (before the unshare: a second namespace
	 * for children would be EINVAL) */
	pid = clone(ns_init, init_stack + sizeof(init_stack), CLONE_NEWPID | SIGCHLD, NULL);
	if (pid < 0)
		die("clone: %s", strerror(errno));
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	say("cloned ns init exited with %d\n", WEXITSTATUS(status));
	r = unshare(CLONE_NEWPID);
	say("unshare(CLONE_NEWPID): %ld %s\n", r, r < 0 ? strerror(errno) : "");
	if (r < 0)
		die("unshare: %s", strerror(errno));
	say("getpid is still ours: %d\n", getpid() > 1);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(ns_init(NULL));
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	say("ns init (pid > 1 here: %d) exited with %d\n", pid > 1, WEXITSTATUS(status));
	say("namespaces: done\n");
	return 0;
}

int
main(int argc, char **argv)
{
	struct utsname first;
	int uts_fd, status;
	long r;
	pid_t pid;

	if (argc == 2 && strcmp(argv[1], "newpid") == 0)
		return newpid();
	say("nonce: %llu\n", (unsigned long long)random_seed());
	if (uname(&first) < 0)
		die("uname: %s", strerror(errno));
	uts_fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	if (uts_fd < 0)
		die("open /proc/self/ns/uts: %s", strerror(errno));

	r = unshare(CLONE_NEWUTS);
	say("unshare(CLONE_NEWUTS): %ld %s\n", r, r < 0 ? strerror(errno) : "");
	if (r < 0)
		return 77;
	r = sethostname("uprr-uts", 8);
	say("sethostname: %ld\n", r);
	r = setdomainname("uprr-domain", 11);
	say("setdomainname: %ld\n", r);
	print_uname("new uts");
	r = setns(uts_fd, CLONE_NEWUTS);
	say("setns(uts fd, CLONE_NEWUTS): %ld %s\n", r, r < 0 ? strerror(errno) : "");
	{
		struct utsname u;

		uname(&u);
		say("back in the first uts: nodename is the first one: %d\n",
		    strcmp(u.nodename, first.nodename) == 0);
	}
	r = setns(uts_fd, CLONE_NEWNET);
	say("setns(uts fd, CLONE_NEWNET): %ld %s\n", r, r < 0 ? strerror(errno) : "");

	pid = clone(child_main, stack + sizeof(stack), CLONE_NEWUTS | CLONE_NEWNET | SIGCHLD, NULL);
	if (pid < 0)
		die("clone: %s", strerror(errno));
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	say("clone child status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

	r = unshare(CLONE_FILES | CLONE_FS | CLONE_SYSVSEM);
	say("unshare(CLONE_FILES | CLONE_FS | CLONE_SYSVSEM): %ld\n", r);

	r = unshare(CLONE_NEWUSER | CLONE_NEWUTS);
	say("unshare(CLONE_NEWUSER | CLONE_NEWUTS): %ld %s\n", r, r < 0 ? strerror(errno) : "");
	if (r == 0) {
		r = sethostname("uprr-userns", 11);
		say("sethostname in the user namespace: %ld %s\n", r, r < 0 ? strerror(errno) : "");
		print_uname("user+uts");
	}
	r = unshare(CLONE_NEWNET);
	say("unshare(CLONE_NEWNET): %ld %s\n", r, r < 0 ? strerror(errno) : "");
	print_interfaces("new net");
	say("namespaces: done\n");
	return 0;
}
