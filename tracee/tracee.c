/* SPDX-License-Identifier: MIT */
#define LOG_PREFIX "tracee"
#include "tracee/tracee.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "common/log.h"

/* The signal dispositions a program starts with, which execve(2) keeps
 * (those ignored; the others are reset): signals in @ign ignored, all
 * others at their default (bit N-1 for signal N). Raw syscalls: glibc
 * refuses its own signals 32 and 33. */
static void
set_signal_dispositions(uint64_t ign)
{
	for (int sig = 1; sig <= 64; sig++) {
		/* struct k_sigaction of the kernel: handler, flags, restorer, mask */
		uint64_t act[4] = { (uint64_t)(uintptr_t)(ign & (1ull << (sig - 1)) ? SIG_IGN : SIG_DFL) };

		if (sig != SIGKILL && sig != SIGSTOP)
			(void)syscall(SYS_rt_sigaction, sig, act, NULL, 8);
	}
}

/* Runs in the forked child: only async-signal-safe calls, then _exit. */
static void __attribute__((noreturn))
child_exec(const struct tracee_spawn_options *opts, int errpipe)
{
	int err;

	int persona = personality(0xffffffff);

	/* keep the persona uprr was started with (setarch), ASLR off */
	if (persona < 0 || personality((unsigned long)persona | ADDR_NO_RANDOMIZE) < 0)
		goto fail;
	if (opts->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(opts->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			goto fail;
	}
	if (opts->trap_tsc && prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0) < 0)
		goto fail;
	if (opts->cwd && chdir(opts->cwd) < 0)
		goto fail;
	/* Wait until the supervisor has seized us (not raise(3): after a raw
	 * clone3(2), glibc's thread still holds the parent's tid) */
	if (kill(getpid(), SIGSTOP) < 0)
		goto fail;
	/* every signal but SIGCONT stays blocked (the parent's mask at the
	 * fork) up to the exec, which keeps it and what is pending: the supervisor sets
	 * the program's mask at the exec's stop (a signal sent to the pid
	 * before, known to a re-run's sender, finds the program, not this
	 * copy of uprr) */
	if (opts->set_signals)
		set_signal_dispositions(opts->sigign);
	/* no_new_privs only where the filter needs it (no CAP_SYS_ADMIN,
	 * seccomp(2)): the program reads PR_GET_NO_NEW_PRIVS as natively */
	if (opts->filter && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, opts->filter) < 0) {
		if (errno != EACCES || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			goto fail;
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, opts->filter) < 0)
			goto fail;
	}
	execve(opts->path, opts->argv, opts->envp);
fail:
	err = errno;
	if (write(errpipe, &err, sizeof(err)) < 0) {
		/* nothing more we can do */
	}
	_exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
}

int
tracee_spawn(const struct tracee_spawn_options *opts, unsigned long ptrace_opts,
	     pid_t *ret_pid, int *ret_exec_errno)
{
	int pipefd[2], status, err = 0;
	pid_t pid;
	ssize_t n;

	sigset_t all, before;
	uint64_t mask;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	/* the child starts with every signal blocked (child_exec()) but
	 * SIGCONT, ours, which wakes it from its stop and is passed over
	 * below, not left pending for the program */
	sigfillset(&all);
	sigdelset(&all, SIGCONT);
	sigprocmask(SIG_BLOCK, &all, &before);
	memcpy(&mask, &before, sizeof(mask));
	if (opts->set_signals)
		mask = opts->sigmask;
	if (opts->pid > 0) {
		/* struct clone_args up to set_tid_size (CLONE_ARGS_SIZE_VER1,
		 * include/uapi/linux/sched.h): a fork(2) with that id */
		uint64_t set_tid = (uint64_t)opts->pid;
		uint64_t ca[10] = { [4] = SIGCHLD, [8] = (uint64_t)(uintptr_t)&set_tid, [9] = 1 };

		pid = (pid_t)syscall(SYS_clone3, ca, sizeof(ca));
	} else {
		pid = fork();
	}
	if (pid == 0) {
		close(pipefd[0]);
		child_exec(opts, pipefd[1]);
	}
	err = pid < 0 ? -errno : 0;
	sigprocmask(SIG_SETMASK, &before, NULL);
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	close(pipefd[1]);
	if (waitpid(pid, &status, WSTOPPED) < 0 || !WIFSTOPPED(status)) {
		err = -ECHILD;
		goto out;
	}
	if (ptrace(PTRACE_SEIZE, pid, 0, ptrace_opts) < 0) {
		err = -errno;
		kill(pid, SIGKILL);
		goto out;
	}
	/* Wake it from its group stop; it reports the SIGCONT and the group
	 * stop to us first, which we pass through, until the exec event. */
	kill(pid, SIGCONT);
	for (;;) {
		if (waitpid(pid, &status, __WALL) < 0) {
			err = -errno;
			goto out;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			int child_errno = 0;

			n = read(pipefd[0], &child_errno, sizeof(child_errno));
			*ret_exec_errno = n == sizeof(child_errno) ? child_errno : 0;
			err = -ENOEXEC;
			goto out;
		}
		if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) {
			/* the program's mask, before its first instruction */
			if (ptrace(PTRACE_SETSIGMASK, pid, sizeof(mask), &mask) < 0) {
				err = -errno;
				goto out;
			}
			break;
		}
		if (status >> 16 == PTRACE_EVENT_STOP) {
			/* group stop or the initial stop of the seized child */
			ptrace(PTRACE_CONT, pid, 0, 0);
			continue;
		}
		if ((status >> 8) == (SIGTRAP | 0x80) || status >> 16 == PTRACE_EVENT_SECCOMP) {
			/* the execve itself */
			ptrace(PTRACE_CONT, pid, 0, 0);
			continue;
		}
		{
			int sig = WSTOPSIG(status);

			ptrace(PTRACE_CONT, pid, 0, sig == SIGSTOP || sig == SIGCONT ? 0 : sig);
		}
	}
	*ret_pid = pid;
out:
	close(pipefd[0]);
	if (err < 0 && err != -ENOEXEC) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, __WALL);
	}
	return err;
}

void
tracee_resume(pid_t tid, enum __ptrace_request how, int sig)
{
	if (ptrace(how, tid, 0, sig) < 0 && errno != ESRCH)
		log_debug("resume %d: %s", tid, strerror(errno));
}

int
tracee_wait(pid_t tid, int *ret_status)
{
	for (;;) {
		if (waitpid(tid, ret_status, __WALL) >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int
tracee_get_regs(pid_t tid, struct user_regs_struct *ret_regs)
{
	if (ptrace(PTRACE_GETREGS, tid, 0, ret_regs) < 0)
		return -errno;
	return 0;
}

int
tracee_set_regs(pid_t tid, const struct user_regs_struct *regs)
{
	if (ptrace(PTRACE_SETREGS, tid, 0, regs) < 0)
		return -errno;
	return 0;
}

int
tracee_set_hw_breakpoint(pid_t tid, uint64_t addr)
{
	/* DR7: bit 0 enables DR0 locally; R/W0 = 00 (execute) and LEN0 = 00 */
	uint64_t dr7 = addr ? 1 : 0;

	if (addr && ptrace(PTRACE_POKEUSER, tid, offsetof(struct user, u_debugreg[0]), addr) < 0)
		return -errno;
	if (ptrace(PTRACE_POKEUSER, tid, offsetof(struct user, u_debugreg[7]), dr7) < 0)
		return -errno;
	return 0;
}

static int mem_xfer(int memfd, bool write, void *buf, size_t len, uint64_t addr);

static int
read_proc_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	char path[64];
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return mem_xfer(fd, false, buf, len, addr);
}

int
tracee_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct iovec local = { (char *)buf + done, len - done };
		struct iovec remote = { (void *)(uintptr_t)(addr + done), len - done };
		ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

		if (n <= 0) {
			if (n < 0 && errno == ESRCH)
				return -ESRCH;
			/* PROT_NONE or read-protected pages: /proc/PID/mem reads
			 * them with FOLL_FORCE (proc(5)). */
			return read_proc_mem(pid, addr + done, (char *)buf + done, len - done);
		}
		done += (size_t)n;
	}
	return 0;
}

int
tracee_open_mem(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* pwrite(2) or pread(2) all of [@addr, +@len) through /proc/PID/mem; a
 * page the kernel cannot reach reads as EIO or a short count: -EFAULT. */
static int
mem_xfer(int memfd, bool write, void *buf, size_t len, uint64_t addr)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write ? pwrite(memfd, (char *)buf + done, len - done, (off_t)(addr + done))
				  : pread(memfd, (char *)buf + done, len - done, (off_t)(addr + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 && errno != EIO ? -errno : -EFAULT;
		done += (size_t)n;
	}
	return 0;
}

int
tracee_write(int memfd, uint64_t addr, const void *buf, size_t len)
{
	return mem_xfer(memfd, true, (void *)buf, len, addr);
}

int
tracee_read_mem(int memfd, uint64_t addr, void *buf, size_t len)
{
	return mem_xfer(memfd, false, buf, len, addr);
}

int
tracee_write_from_file(int memfd, uint64_t addr, int fd, uint64_t off, uint64_t len)
{
	const size_t chunk = 1 << 20;
	_cleanup_free_ char *buf = malloc(chunk);
	uint64_t done = 0;

	if (!buf)
		return -ENOMEM;
	while (done < len) {
		ssize_t n = pread(fd, buf, MIN(len - done, (uint64_t)chunk), (off_t)(off + done));
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		r = tracee_write(memfd, addr + done, buf, (size_t)n);
		if (r < 0)
			return r;
		done += (uint64_t)n;
	}
	return 0;
}

int
tracee_read_string(pid_t pid, uint64_t addr, char *buf, size_t len)
{
	size_t done = 0;

	while (done + 1 < len) {
		/* read up to the end of the page, so we never fault past the string */
		size_t chunk = 4096 - ((addr + done) & 4095);
		char *nul;
		int r;

		chunk = MIN(chunk, len - 1 - done);
		r = tracee_read(pid, addr + done, buf + done, chunk);
		if (r < 0)
			return r;
		nul = memchr(buf + done, 0, chunk);
		if (nul)
			return 0;
		done += chunk;
	}
	buf[len - 1] = '\0';
	return 0;
}

const char *
tracee_signal_name(int sig)
{
	static char buf[32];
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev) {
		snprintf(buf, sizeof(buf), "SIG%s", abbrev);
		return buf;
	}
	snprintf(buf, sizeof(buf), "signal %d", sig);
	return buf;
}

void
tracee_report_killed(int sig, uint64_t rip, pid_t tid)
{
	if (tid == 0)
		log_printf(LOG_LEVEL_ERROR, "", "process killed by %s", tracee_signal_name(sig));
	else
		log_printf(LOG_LEVEL_ERROR, "", "process killed by %s at 0x%" PRIx64 " (thread %d)",
			   tracee_signal_name(sig), rip, tid);
}

int
tracee_pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	return 0;
}

int
tracee_pick_cpu(void)
{
	cpu_set_t set;
	int n, k;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	n = CPU_COUNT(&set);
	if (n == 0)
		return -ENOENT;
	/* the CPU we run on: the scheduler placed this exec on the least
	 * loaded one (sched_exec()), and pinning elsewhere waits for a
	 * migration (0.2 ms on a busy CPU: issue 14's tiny programs) */
	k = sched_getcpu();
	if (k >= 0 && k < CPU_SETSIZE && CPU_ISSET(k, &set))
		return k;
	/* else spread concurrent uprr runs over the CPUs we may use */
	k = getpid() % n;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set) && k-- == 0)
			return i;
	return -ENOENT;
}

enum tracee_stop
tracee_classify(int status, int *ret_sig)
{
	int sig;

	if (WIFEXITED(status) || WIFSIGNALED(status))
		return TRACEE_GONE;
	sig = WSTOPSIG(status);
	*ret_sig = sig;
	switch (status >> 16) {
	case 0:
		if (sig == (SIGTRAP | 0x80))
			return TRACEE_STOP_SYSCALL_EXIT;
		return TRACEE_STOP_SIGNAL;
	case PTRACE_EVENT_SECCOMP:
		return TRACEE_STOP_SECCOMP;
	case PTRACE_EVENT_CLONE:
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
		return TRACEE_STOP_CLONE;
	case PTRACE_EVENT_EXEC:
		return TRACEE_STOP_EXEC;
	case PTRACE_EVENT_EXIT:
		return TRACEE_STOP_EXIT;
	case PTRACE_EVENT_STOP:
		return TRACEE_STOP_GROUP;
	default:
		return TRACEE_STOP_OTHER;
	}
}

bool
tracee_signal_is_sync(const siginfo_t *si)
{
	switch (si->si_signo) {
	case SIGSEGV:
	case SIGBUS:
	case SIGILL:
	case SIGFPE:
	case SIGTRAP:
		return si->si_code > 0;
	case SIGSYS:
		/* a seccomp filter of the program trapped its syscall
		 * (SECCOMP_RET_TRAP, seccomp(2)) */
		return si->si_code == 1; /* SYS_SECCOMP, asm-generic/siginfo.h */
	default:
		return false;
	}
}

int
tracee_maps_layout(pid_t pid, char **ret_layout, uint64_t *ret_stack_end)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t n;
	int r;

	r = tracee_read_maps(pid, &maps, &n);
	if (r < 0)
		return r;
	return tracee_maps_layout_of(maps, n, ret_layout, ret_stack_end);
}

int
tracee_maps_layout_of(const struct tracee_mapping *maps, size_t n, char **ret_layout,
		      uint64_t *ret_stack_end)
{
	uint64_t stack_end = 0;
	char *out, *o;

	/* "start-end perms\n": at most 16 + 1 + 16 + 1 + 7 + 1 bytes a line */
	out = o = malloc(n * 48 + 1);
	if (!out)
		return -ENOMEM;
	*o = '\0';
	for (size_t i = 0; i < n; i++) {
		o += sprintf(o, "%" PRIx64 "-%" PRIx64 " %s\n", maps[i].start, maps[i].end,
			     maps[i].perms);
		if (strcmp(maps[i].path, "[stack]") == 0)
			stack_end = maps[i].end;
	}
	*ret_layout = out;
	*ret_stack_end = stack_end;
	return 0;
}

void
tracee_kill_all(pid_t pid)
{
	tracee_kill_list(&pid, 1);
}

/* Whether process @pid is this process's to reap: its child or its tracee
 * (proc(5), /proc/PID/status: PPid, TracerPid). False once it is gone, or
 * is another's (a pid used again). */
static bool
ours(pid_t pid)
{
	pid_t me = getpid(), id;

	return (tracee_status_id(pid, "PPid", &id) == 0 && id == me) ||
	       (tracee_status_id(pid, "TracerPid", &id) == 0 && id == me);
}

/* Whether none of @pids (@n) is left for this process to reap. */
static bool
all_gone(const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] > 0 && ours(pids[i]))
			return false;
	return true;
}

void
tracee_reap(pid_t tid)
{
	int status;

	for (;;) {
		if (waitpid(tid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return; /* ECHILD: the caller reaped it */
		}
		if (!WIFSTOPPED(status))
			return;
		ptrace(PTRACE_CONT, tid, 0, 0);
	}
}

void
tracee_kill_list(const pid_t *pids, size_t n)
{
	int status;
	pid_t tid;

	for (size_t i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (;;) {
		tid = waitpid(-1, &status, __WALL | WNOHANG);
		if (tid > 0) {
			if (WIFSTOPPED(status))
				ptrace(PTRACE_CONT, tid, 0, 0);
			continue;
		}
		if (tid < 0 && errno == EINTR)
			continue;
		if (tid < 0 || all_gone(pids, n))
			return; /* no child left, or only others that stand still */
		/* a killed thread that has not reported its exit yet */
		(void)poll(NULL, 0, 1);
	}
}

/* Reads the number in base @base at *@p, skipping blanks first as
 * strtoull(3) does; false if there is none. */
static bool
maps_number(const char **p, int base, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;
	int digits = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	for (;; s++, digits++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		v = v * (uint64_t)base + d;
	}
	*p = s;
	*ret = v;
	return digits > 0;
}

/*
 * One line of /proc/PID/maps, "start-end perms offset major:minor inode
 * path" (proc(5)), parsed by hand: sscanf(3) took 0.7 µs a line, two
 * thirds of a read of a small process's maps (issue 14: replay read them
 * once per mapped file). False if the line is not one.
 */
static bool
maps_parse_line(const char *line, struct tracee_mapping *m)
{
	uint64_t major, minor;
	const char *p = line;
	size_t k = 0;

	if (!maps_number(&p, 16, &m->start) || *p++ != '-' || !maps_number(&p, 16, &m->end))
		return false;
	while (*p == ' ')
		p++;
	while (*p && *p != ' ' && *p != '\t' && k < sizeof(m->perms) - 1)
		m->perms[k++] = *p++;
	m->perms[k] = '\0';
	if (k == 0 || !maps_number(&p, 16, &m->offset) || !maps_number(&p, 16, &major) ||
	    *p++ != ':' || !maps_number(&p, 16, &minor) || !maps_number(&p, 10, &m->ino))
		return false;
	m->dev = makedev((unsigned)major, (unsigned)minor);
	while (*p == ' ')
		p++;
	snprintf(m->path, sizeof(m->path), "%s", p);
	return true;
}

int
tracee_read_maps(pid_t pid, struct tracee_mapping **ret_maps, size_t *ret_n)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	struct tracee_mapping *maps = NULL;
	char *line, *save = NULL;
	size_t n = 0, cap = 0, len;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	r = util_read_file(path, &text, &len);
	if (r < 0)
		return r;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct tracee_mapping m = { 0 };

		if (!maps_parse_line(line, &m))
			continue;
		if (UTIL_GROW(maps, cap, n + 1) < 0) {
			free(maps);
			return -ENOMEM;
		}
		maps[n++] = m;
	}
	*ret_maps = maps;
	*ret_n = n;
	return 0;
}

/* Whether [@start, @end) overlaps one of the @n ranges of @ranges (pairs). */
static bool
overlaps_any(uint64_t start, uint64_t end, const uint64_t *ranges, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (start < ranges[2 * i + 1] && end > ranges[2 * i])
			return true;
	return false;
}

int
tracee_find_area_near(pid_t pid, uint64_t code, uint64_t len, uint64_t guard, uint64_t reach,
		      const uint64_t *avoid, size_t navoid, uint64_t *ret_base)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	uint64_t best = 0, prev_end = 0x10000;
	size_t n;
	int r;

	r = tracee_read_maps(pid, &maps, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; prev_end = maps[i].end, i++) {
		uint64_t top = maps[i].start, base;

		if (strcmp(maps[i].path, "[stack]") == 0 || top < prev_end + len + 2 * guard)
			continue;
		base = top - guard - len;
		if (overlaps_any(base - guard, top, avoid, navoid))
			continue;
		if (!tracee_area_reaches(base, len, code, reach))
			continue;
		if (!best || (base > code ? base - code : code - base) <
				     (best > code ? best - code : code - best))
			best = base;
	}
	if (!best)
		return -ENOSPC;
	*ret_base = best;
	return 0;
}

/* The top of a 47-bit address space (x86-64 without 5-level paging's
 * opt-in: TASK_SIZE_MAX, arch/x86/include/asm/page_64_types.h). */
#define TASK_TOP 0x7ffffffff000ull
/* The least gap mmap_base() leaves under the stack (MIN_GAP, 128 MiB)
 * and the stack guard gap's default (stack_guard_gap, 256 pages): Linux
 * 6.1 arch/x86/mm/mmap.c, mm/mmap.c */
#define MMAP_MIN_GAP (128ull << 20)
#define STACK_GUARD_GAP (1ull << 20)

int
tracee_find_area_high(pid_t pid, uint64_t code, uint64_t len, uint64_t guard, uint64_t reach,
		      const uint64_t *avoid, size_t navoid, uint64_t *ret_base)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	uint64_t floor, top, stack_start = 0, stack_end = 0, best = 0, prev_end;
	struct rlimit rl;
	size_t n;
	int r;

	/* a stack limit past the least gap moves mmap_base (unlimited: the
	 * legacy bottom-up layout): no such area is known then */
	if (prlimit(pid, RLIMIT_STACK, NULL, &rl) < 0)
		return -errno;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur + STACK_GUARD_GAP > MMAP_MIN_GAP)
		return -ENOSPC;
	r = tracee_read_maps(pid, &maps, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (strcmp(maps[i].path, "[stack]") == 0) {
			stack_start = maps[i].start;
			stack_end = maps[i].end;
		}
	if (!stack_end || stack_end > TASK_TOP)
		return -ENOSPC;
	/* mmap_base without randomization (with it, lower still); the
	 * lowest the stack grows to, and its guard gap */
	floor = TASK_TOP - MMAP_MIN_GAP;
	top = MIN(stack_end - rl.rlim_cur - STACK_GUARD_GAP, stack_start);
	prev_end = floor;
	for (size_t i = 0; i <= n && prev_end < top; i++) {
		uint64_t end = i < n ? MIN(maps[i].start, top) : top, base;

		if (i < n && maps[i].end <= floor)
			continue;
		if (end > prev_end && end - prev_end >= len + 2 * guard) {
			/* the bottom: the farthest from the stack */
			base = prev_end + guard;
			if (!overlaps_any(base - guard, end, avoid, navoid) &&
			    tracee_area_reaches(base, len, code, reach) &&
			    (!best || (base > code ? base - code : code - base) <
					      (best > code ? best - code : code - best)))
				best = base;
		}
		if (i < n)
			prev_end = MAX(prev_end, maps[i].end);
	}
	if (!best)
		return -ENOSPC;
	*ret_base = best;
	return 0;
}

/* x86-64 `syscall` (0f 05) then `int3` (cc): the code an injection runs. */
static const uint8_t inject_code[3] = { 0x0f, 0x05, 0xcc };

#define SIGBIT(sig) (1ULL << ((sig)-1))
/* Every signal but SIGKILL and SIGSTOP, which cannot be blocked, and those an
 * instruction raises: force_sig() resets the handler of a blocked one to
 * SIG_DFL (force_sig_info_to_task(), kernel/signal.c). */
#define INJECT_SIGMASK                                                                  \
	(~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP) | SIGBIT(SIGTRAP) | SIGBIT(SIGSEGV) |      \
	   SIGBIT(SIGBUS) | SIGBIT(SIGILL) | SIGBIT(SIGFPE) | SIGBIT(SIGSYS)))

int
tracee_get_sigmask(pid_t tid, uint64_t *ret_mask)
{
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(*ret_mask), ret_mask) < 0)
		return -errno;
	return 0;
}

int
tracee_read_status_sigset(pid_t tid, const char *field, uint64_t *ret_mask)
{
	_cleanup_close_ int fd = -1;
	char path[64], buf[4096], key[32];
	unsigned long long mask;
	const char *line;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	snprintf(key, sizeof(key), "\n%s:", field);
	line = strstr(buf, key);
	if (!line || sscanf(line + strlen(key), " %llx", &mask) != 1)
		return -ENOENT;
	*ret_mask = mask;
	return 0;
}

int
tracee_peek_pending(pid_t tid, bool shared, siginfo_t *buf, int max)
{
	struct __ptrace_peeksiginfo_args args = { .off = 0, .flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0,
						.nr = max };
	long n = ptrace(PTRACE_PEEKSIGINFO, tid, &args, buf);

	return n < 0 ? -errno : (int)n;
}

int
tracee_read_sigblk(pid_t tid, uint64_t *ret_mask)
{
	return tracee_read_status_sigset(tid, "SigBlk", ret_mask);
}

int
tracee_set_sigmask(pid_t tid, uint64_t mask)
{
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask) < 0)
		return -errno;
	return 0;
}

/* Put back the code bytes, the registers and the signal mask of an injection. */
static int
inject_restore(pid_t tid, int memfd, const struct user_regs_struct *saved, const uint8_t *code,
	       uint64_t saved_mask)
{
	uint64_t mask;
	int r;

	r = tracee_write(memfd, saved->rip, code, sizeof(inject_code));
	if (r < 0)
		return r;
	r = tracee_set_regs(tid, saved);
	if (r < 0)
		return r;
	/* A thread stopped at the exit of sigsuspend(2), ppoll(2) & co. got the
	 * mask those saved back on its first return to user mode
	 * (restore_saved_sigmask()); that one is the program's, keep it. */
	r = tracee_get_sigmask(tid, &mask);
	if (r < 0)
		return r;
	return mask == INJECT_SIGMASK ? tracee_set_sigmask(tid, saved_mask) : 0;
}

/* Run injected call @c (the code is in place at @saved->rip) to the SIGTRAP
 * of its int3: its result into *ret_result. A signal that stops the thread on
 * the way is added to *requeue. Returns 0, -EFAULT (our code faulted: the
 * thread rests in that stop) or -ESRCH. */
static int
inject_one(pid_t tid, const struct user_regs_struct *saved, const struct tracee_call *c,
	   uint64_t *requeue, int64_t *ret_result)
{
	struct user_regs_struct regs = *saved;
	int r;

	regs.rax = (uint64_t)c->nr;
	regs.orig_rax = (uint64_t)-1;
	regs.rdi = c->args[0];
	regs.rsi = c->args[1];
	regs.rdx = c->args[2];
	regs.r10 = c->args[3];
	regs.r8 = c->args[4];
	regs.r9 = c->args[5];
	r = tracee_set_regs(tid, &regs);
	if (r < 0)
		return r;
	for (;;) {
		int status, sig = 0;
		siginfo_t si;

		tracee_resume(tid, PTRACE_CONT, 0);
		r = tracee_wait(tid, &status);
		if (r < 0)
			return r;
		switch (tracee_classify(status, &sig)) {
		case TRACEE_STOP_EXIT:
			/* killed meanwhile (SIGKILL): expected, nothing left to
			 * restore; let it finish exiting, or its process's leader
			 * is never reported gone */
			tracee_resume(tid, PTRACE_CONT, 0);
			return -ESRCH;
		case TRACEE_GONE:
			return -ESRCH;
		case TRACEE_STOP_SIGNAL:
			break;
		default:
			/* the seccomp stop of the injected syscall, a fork event
			 * (PTRACE_O_TRACEFORK), a group stop: pass over */
			continue;
		}
		r = tracee_get_regs(tid, &regs);
		if (r < 0)
			return r;
		if (sig == SIGTRAP && regs.rip == saved->rip + sizeof(inject_code)) {
			*ret_result = (int64_t)regs.rax;
			return 0;
		}
		if (ptrace(PTRACE_GETSIGINFO, tid, 0, &si) < 0)
			return -errno;
		if (tracee_signal_is_sync(&si)) {
			/* our code faulted, or a seccomp filter of the program
			 * trapped the syscall: rest in this stop, restored */
			log_debug("inject %ld into %d: %s", c->nr, tid, tracee_signal_name(sig));
			return -EFAULT;
		}
		/* not blocked (SIGSTOP, a SIGTRAP from kill(2)...): send it
		 * again once we are done */
		*requeue |= SIGBIT(sig);
	}
}

int
tracee_inject_syscalls(pid_t tid, int memfd, const struct tracee_call *calls, size_t n,
		       int64_t *ret_results, size_t *ret_done)
{
	struct user_regs_struct saved;
	uint8_t code[sizeof(inject_code)];
	uint64_t saved_mask, requeue = 0;
	bool suspended = false;
	size_t done = 0;
	int r, err = 0;

	r = tracee_get_regs(tid, &saved);
	if (r < 0)
		return r;
	r = tracee_read_mem(memfd, saved.rip, code, sizeof(code));
	if (r < 0)
		return r;
	r = tracee_get_sigmask(tid, &saved_mask);
	if (r < 0)
		return r;
	/* Asynchronous signals stay pending instead of stopping us on the way. */
	r = tracee_set_sigmask(tid, INJECT_SIGMASK);
	if (r < 0)
		return r;
	r = tracee_write(memfd, saved.rip, inject_code, sizeof(inject_code));
	if (r < 0) {
		(void)!tracee_set_sigmask(tid, saved_mask);
		return r;
	}
	/* The program's own seccomp filter would judge our syscall as its own
	 * (a sandbox that denies mmap or openat): suspend the filters while
	 * it runs, where uprr may (CAP_SYS_ADMIN; PTRACE_O_SUSPEND_SECCOMP,
	 * ptrace(2), Linux 4.3); elsewhere a trapped one fails below. */
	suspended = ptrace(PTRACE_SETOPTIONS, tid, 0,
			   TRACEE_PTRACE_OPTIONS | PTRACE_O_SUSPEND_SECCOMP) == 0;
	/* one save and restore for the whole batch: each call runs from the
	 * same code with the registers set afresh */
	while (done < n) {
		struct tracee_call c = calls[done];
		int64_t result = 0;

		if (c.arg_from_prev >= 1 && c.arg_from_prev <= 6 && done > 0)
			c.args[c.arg_from_prev - 1] =
				(uint64_t)ret_results[c.prev_call && c.prev_call <= done ?
							      (size_t)c.prev_call - 1 : done - 1];
		err = inject_one(tid, &saved, &c, &requeue, &result);
		if (err == -ESRCH)
			return err; /* nothing left to restore */
		if (err < 0)
			break;
		ret_results[done++] = result;
		if ((result < 0 && result > -4096 && !calls[done - 1].may_fail) ||
		    (calls[done - 1].expect && result != calls[done - 1].expect))
			break;
	}
	if (suspended)
		(void)!ptrace(PTRACE_SETOPTIONS, tid, 0, TRACEE_PTRACE_OPTIONS);
	r = inject_restore(tid, memfd, &saved, code, saved_mask);
	for (int sig = 1; sig <= 64; sig++)
		if (requeue & SIGBIT(sig))
			syscall(SYS_tkill, tid, sig);
	if (err < 0)
		return err;
	if (r < 0)
		return r;
	if (ret_done)
		*ret_done = done;
	return 0;
}

int
tracee_inject_syscall(pid_t tid, int memfd, long nr, const uint64_t args[6], int64_t *ret_result)
{
	struct tracee_call c = { .nr = nr, .may_fail = true };
	int64_t result = 0;
	int r;

	memcpy(c.args, args, sizeof(c.args));
	r = tracee_inject_syscalls(tid, memfd, &c, 1, &result, NULL);
	if (r < 0)
		return r;
	*ret_result = result;
	return 0;
}

int
tracee_get_xstate(pid_t tid, void *buf, size_t cap, size_t *ret_len)
{
	struct iovec iov = { buf, cap };

	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov) < 0)
		return -errno;
	*ret_len = iov.iov_len;
	return 0;
}

int
tracee_set_xstate(pid_t tid, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	if (ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &iov) < 0)
		return -errno;
	return 0;
}

/* Field @index (0: the first) of line "\n@key:" in a /proc/PID/status
 * text, a number in @base. */
static int
status_field(const char *text, const char *key, int index, int base, uint64_t *ret)
{
	const char *p = strstr(text, key);
	char *end;

	if (!p)
		return -EPROTO;
	p += strlen(key);
	for (int i = 0;; i++, p = end) {
		uint64_t v = strtoull(p, &end, base);

		if (end == p)
			return -EPROTO;
		if (i == index) {
			*ret = v;
			return 0;
		}
	}
}

static int
read_status(pid_t tid, char **ret_text)
{
	char path[64];
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	return util_read_file(path, ret_text, &len);
}

int
tracee_fd_stat(pid_t tid, int fd, struct stat *ret)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", tid, fd);
	return stat(path, ret) < 0 ? -errno : 0;
}

ssize_t
tracee_fd_path(pid_t tid, int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	if (!len)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", tid, fd);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

int
tracee_fd_proc_file(pid_t tid, int fd, pid_t *ret_id, char name[16])
{
	char target[64], tail[17];
	int pid, task, end = 0;
	ssize_t n = tracee_fd_path(tid, fd, target, sizeof(target));

	if (n < 0)
		return (int)n;
	if (sscanf(target, "/proc/%d/task/%d/%16[^/]%n", &pid, &task, tail, &end) == 3 && end == n)
		pid = task;
	else if (end = 0, sscanf(target, "/proc/%d/%16[^/]%n", &pid, tail, &end) != 2 || end != n)
		return 0;
	if (strlen(tail) > 15)
		return 0;
	*ret_id = pid;
	memcpy(name, tail, strlen(tail) + 1);
	return 1;
}

int
tracee_fdinfo(pid_t tid, int fd, int64_t *ret_pos, int *ret_flags)
{
	_cleanup_free_ char *text = NULL;
	char path[64];
	unsigned flags;
	long long pos;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", tid, fd);
	r = util_read_file(path, &text, &len);
	if (r < 0)
		return r;
	if (sscanf(text, "pos: %lld flags: %o", &pos, &flags) != 2)
		return -EPROTO;
	if (ret_pos)
		*ret_pos = pos;
	if (ret_flags)
		*ret_flags = (int)flags;
	return 0;
}

int
tracee_status_id(pid_t tid, const char *key, pid_t *ret)
{
	_cleanup_free_ char *text = NULL;
	char line_key[32];
	uint64_t v;
	int r;

	snprintf(line_key, sizeof(line_key), "\n%s:", key);
	r = read_status(tid, &text);
	if (r >= 0)
		r = status_field(text, line_key, 0, 10, &v);
	if (r < 0)
		return r;
	*ret = (pid_t)v;
	return 0;
}

int
tracee_parent(pid_t pid, pid_t *ret_ppid)
{
	return tracee_status_id(pid, "PPid", ret_ppid);
}

int
tracee_ids(pid_t tid, uid_t *ret_euid, gid_t *ret_egid)
{
	_cleanup_free_ char *text = NULL;
	uint64_t uid, gid;
	int r;

	r = read_status(tid, &text);
	if (r >= 0)
		r = status_field(text, "\nUid:", 1, 10, &uid);
	if (r >= 0)
		r = status_field(text, "\nGid:", 1, 10, &gid);
	if (r < 0)
		return r;
	*ret_euid = (uid_t)uid;
	*ret_egid = (gid_t)gid;
	return 0;
}

int
tracee_signal_disposition(pid_t tid, int sig, enum tracee_sig_disposition *ret)
{
	_cleanup_free_ char *text = NULL;
	uint64_t ign, cgt, bit;
	int r;

	if (sig < 1 || sig > 64)
		return -EINVAL;
	r = read_status(tid, &text);
	if (r >= 0)
		r = status_field(text, "\nSigIgn:", 0, 16, &ign);
	if (r >= 0)
		r = status_field(text, "\nSigCgt:", 0, 16, &cgt);
	if (r < 0)
		return r;
	bit = 1ULL << (sig - 1);
	*ret = cgt & bit ? TRACEE_SIG_CAUGHT : ign & bit ? TRACEE_SIG_IGNORED : TRACEE_SIG_DEFAULT;
	return 0;
}

int
tracee_pending_unblocked(pid_t tid, bool *ret)
{
	siginfo_t si[16];
	uint64_t mask;
	int r = tracee_get_sigmask(tid, &mask);

	if (r < 0)
		return r;
	for (int shared = 0; shared < 2; shared++) {
		struct __ptrace_peeksiginfo_args args = {
			.off = 0,
			.flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0,
			.nr = (int32_t)ARRAY_SIZE(si),
		};
		long n = ptrace(PTRACE_PEEKSIGINFO, tid, &args, si);

		if (n < 0)
			return -errno;
		if (n == (long)ARRAY_SIZE(si)) {
			*ret = true; /* more than it looked at: as good as one */
			return 0;
		}
		for (long i = 0; i < n; i++)
			if (si[i].si_signo < 1 || si[i].si_signo > 64 ||
			    !(mask & (1ull << (si[i].si_signo - 1)))) {
				*ret = true;
				return 0;
			}
	}
	*ret = false;
	return 0;
}

int
tracee_ignored_signals(pid_t tid, uint64_t *ret_mask)
{
	_cleanup_free_ char *text = NULL;
	uint64_t ign;
	int r;

	r = read_status(tid, &text);
	if (r >= 0)
		r = status_field(text, "\nSigIgn:", 0, 16, &ign);
	if (r < 0)
		return r;
	*ret_mask = ign;
	return 0;
}

int
tracee_cpu_time(pid_t tid, uint64_t *ret_ns)
{
	_cleanup_free_ char *buf = NULL;
	char path[64], *end;
	unsigned long long ns;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", tid);
	r = util_read_file(path, &buf, &len);
	if (r < 0)
		return r;
	errno = 0;
	ns = strtoull(buf, &end, 10);
	if (end == buf || errno)
		return -EPROTO;
	*ret_ns = ns;
	return 0;
}
