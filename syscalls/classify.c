/* SPDX-License-Identifier: MIT */
/*
 * What record and replay must know of a syscall beyond its row's outputs:
 * which calls create a thread or process or replace the program, which
 * install a seccomp filter or move children to another PID namespace, the
 * persona uprr gives personality(2), and which calls the in-process syscall
 * buffer takes. Each is a fact of the call alone (number, arguments,
 * result), the same in record and replay.
 */
#include <asm/unistd.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>

#include "preload/uprr-preload.h"
#include "syscalls/syscalls.h"

bool
sc_is_clone(long nr)
{
	return nr == __NR_clone || nr == __NR_fork || nr == __NR_vfork;
}

uint64_t
sc_clone_flags(long nr, const uint64_t args[6])
{
	switch (nr) {
	case __NR_clone:
		return args[0];
	case __NR_fork:
		return SIGCHLD;
	case __NR_vfork:
		return CLONE_VM | CLONE_VFORK | SIGCHLD;
	default:
		return 0;
	}
}

bool
sc_is_exec(long nr)
{
	return nr == __NR_execve || nr == __NR_execveat;
}

bool
sc_installs_filter(long nr, const uint64_t args[6], int64_t result)
{
	return result >= 0 && ((nr == __NR_seccomp && args[0] == SECCOMP_SET_MODE_FILTER) ||
			       (nr == __NR_prctl && args[0] == PR_SET_SECCOMP));
}

bool
sc_moves_children(long nr, const uint64_t args[6], int64_t result)
{
	if (result != 0)
		return false;
	if (nr == __NR_unshare)
		return args[0] & CLONE_NEWPID;
	if (nr == __NR_setns)
		return args[1] == 0 || (args[1] & CLONE_NEWPID);
	return false;
}

uint64_t
sc_kernel_persona(uint64_t persona)
{
	/* uprr keeps ASLR off for every tracee: the next exec's layout is
	 * then the same in replay (personality(2): the persona is inherited
	 * by children and kept across execve) */
	if ((uint32_t)persona == 0xffffffff)
		return persona;
	return (uint32_t)persona | ADDR_NO_RANDOMIZE;
}

bool
sc_buffered(long nr)
{
	return UPRR_BUFFERED(nr);
}

bool
sc_ep_unmatched(long nr)
{
	return nr == __NR_futex || nr == __NR_sched_yield;
}

bool
sc_ep_live(long nr, const uint64_t args[6])
{
	return sc_ep_unmatched(nr) || (sc_flags(nr, args) & SC_REPLAY_EXEC);
}

/*
 * How many arguments each syscall takes on x86-64 (its SYSCALL_DEFINEn in
 * the kernel, and the man pages' prototypes), stored + 1: 0 is unknown,
 * which sc_nargs() takes as 6. The registers past them hold what the
 * caller left there, which differs between runs of the same program.
 */
#define A(nr, n) [__NR_##nr] = (n) + 1
/* clang-format off */
static const uint8_t nargs_plus1[] = {
	A(read, 3), A(pread64, 4), A(readv, 3), A(preadv, 5), A(preadv2, 6), A(write, 3),
	A(pwrite64, 4), A(writev, 3), A(pwritev, 5), A(pwritev2, 6), A(open, 3), A(openat, 4),
	A(creat, 2), A(close, 1), A(close_range, 3), A(lseek, 3), A(dup, 1), A(dup2, 2),
	A(dup3, 3), A(pipe, 1), A(pipe2, 2), A(fcntl, 3), A(ioctl, 3), A(flock, 2), A(fsync, 1),
	A(fdatasync, 1), A(sync, 0), A(syncfs, 1), A(ftruncate, 2), A(truncate, 2),
	A(fallocate, 4), A(fadvise64, 4), A(readahead, 3), A(sendfile, 4),
	A(copy_file_range, 6), A(memfd_create, 2), A(eventfd, 1), A(eventfd2, 2),
	A(timerfd_create, 2), A(timerfd_settime, 4), A(timerfd_gettime, 2), A(signalfd4, 4),
	A(inotify_init1, 1), A(inotify_add_watch, 3), A(inotify_rm_watch, 2),
	A(inotify_init, 0), A(fanotify_init, 2), A(fanotify_mark, 5), A(signalfd, 3),
	A(splice, 6), A(tee, 4), A(vmsplice, 4), A(sync_file_range, 4), A(cachestat, 4),
	A(stat, 2), A(lstat, 2), A(fstat, 2), A(newfstatat, 4), A(statx, 5), A(statfs, 2),
	A(fstatfs, 2), A(access, 2), A(faccessat, 3), A(faccessat2, 4), A(getdents64, 3),
	A(getdents, 3), A(readlink, 3), A(readlinkat, 4), A(getcwd, 2), A(chdir, 1),
	A(fchdir, 1), A(mkdir, 2), A(mkdirat, 3), A(rmdir, 1), A(unlink, 1), A(unlinkat, 3),
	A(rename, 2), A(renameat, 4), A(renameat2, 5), A(link, 2), A(linkat, 5), A(symlink, 2),
	A(symlinkat, 3), A(chmod, 2), A(fchmod, 2), A(fchmodat, 3), A(fchmodat2, 4),
	A(chown, 3), A(fchown, 3), A(lchown, 3), A(fchownat, 5), A(umask, 1), A(utimensat, 4),
	A(getxattr, 4), A(lgetxattr, 4), A(fgetxattr, 4), A(listxattr, 3), A(llistxattr, 3),
	A(flistxattr, 3), A(setxattr, 5), A(lsetxattr, 5), A(fsetxattr, 5), A(removexattr, 2),
	A(lremovexattr, 2), A(fremovexattr, 2), A(openat2, 4), A(mknod, 3), A(mknodat, 4),
	A(utime, 2), A(utimes, 2), A(futimesat, 3), A(ustat, 2), A(sysfs, 3),
	A(name_to_handle_at, 5), A(open_by_handle_at, 3), A(chroot, 1), A(mount, 5),
	A(umount2, 2), A(pivot_root, 2), A(open_tree, 3), A(move_mount, 5), A(fsopen, 2),
	A(fsconfig, 5), A(fsmount, 3), A(fspick, 3), A(mount_setattr, 5), A(swapon, 2),
	A(swapoff, 1), A(mmap, 6), A(munmap, 2), A(mprotect, 3), A(mremap, 5), A(brk, 1),
	A(madvise, 3), A(msync, 3), A(mincore, 3), A(mlock, 2), A(munlock, 2), A(mlockall, 1),
	A(munlockall, 0), A(membarrier, 3), A(mlock2, 3), A(mseal, 3), A(pkey_alloc, 2),
	A(pkey_free, 1), A(pkey_mprotect, 4), A(mbind, 6), A(set_mempolicy, 3),
	A(set_mempolicy_home_node, 4), A(get_mempolicy, 5), A(migrate_pages, 4),
	A(move_pages, 6), A(socket, 3), A(socketpair, 4), A(bind, 3), A(listen, 2),
	A(connect, 3), A(accept, 3), A(accept4, 4), A(getsockname, 3), A(getpeername, 3),
	A(setsockopt, 5), A(getsockopt, 5), A(shutdown, 2), A(sendto, 6), A(sendmsg, 3),
	A(recvfrom, 6), A(recvmsg, 3), A(recvmmsg, 5), A(sendmmsg, 4), A(poll, 3), A(ppoll, 5),
	A(select, 5), A(pselect6, 6), A(epoll_create, 1), A(epoll_create1, 1), A(epoll_ctl, 4),
	A(epoll_wait, 4), A(epoll_pwait, 6), A(epoll_pwait2, 6), A(futex, 6), A(futex_wait, 6),
	A(futex_wake, 4), A(futex_requeue, 4), A(futex_waitv, 5), A(nanosleep, 2),
	A(clock_nanosleep, 4), A(pause, 0), A(rt_sigsuspend, 2), A(rt_sigtimedwait, 4),
	A(wait4, 4), A(waitid, 5), A(sched_yield, 0), A(restart_syscall, 0),
	A(clock_gettime, 2), A(clock_getres, 2), A(gettimeofday, 2), A(time, 1), A(times, 1),
	A(getrandom, 3), A(alarm, 1), A(setitimer, 3), A(getitimer, 2), A(timer_create, 3),
	A(timer_settime, 4), A(timer_gettime, 2), A(timer_delete, 1), A(timer_getoverrun, 1),
	A(clock_settime, 2), A(settimeofday, 2), A(adjtimex, 1), A(clock_adjtime, 2),
	A(getpid, 0), A(gettid, 0), A(getppid, 0), A(getuid, 0), A(geteuid, 0), A(getgid, 0),
	A(getegid, 0), A(getresuid, 3), A(getresgid, 3), A(getgroups, 2), A(getpgrp, 0),
	A(getpgid, 1), A(getsid, 1), A(setsid, 0), A(setuid, 1), A(setgid, 1), A(setreuid, 2),
	A(setregid, 2), A(setresuid, 3), A(setresgid, 3), A(setgroups, 2), A(setfsuid, 1),
	A(setfsgid, 1), A(setpgid, 2), A(uname, 1), A(sysinfo, 1), A(getrlimit, 2),
	A(setrlimit, 2), A(prlimit64, 4), A(getrusage, 2), A(getcpu, 3),
	A(sched_getaffinity, 3), A(sched_setaffinity, 3), A(sched_getparam, 2),
	A(sched_getscheduler, 1), A(sched_setscheduler, 3), A(sched_get_priority_max, 1),
	A(sched_get_priority_min, 1), A(getpriority, 2), A(setpriority, 3), A(capget, 2),
	A(prctl, 5), A(ptrace, 4), A(ioprio_get, 2), A(ioprio_set, 3), A(capset, 2),
	A(sched_getattr, 4), A(sched_setattr, 3), A(sched_setparam, 2),
	A(sched_rr_get_interval, 2), A(kcmp, 5), A(sethostname, 2), A(setdomainname, 2),
	A(vhangup, 0), A(acct, 1), A(quotactl, 4), A(quotactl_fd, 4), A(syslog, 3),
	A(add_key, 5), A(request_key, 4), A(keyctl, 5), A(rt_sigaction, 4),
	A(rt_sigprocmask, 4), A(rt_sigreturn, 0), A(sigaltstack, 2), A(rt_sigpending, 2),
	A(kill, 2), A(tkill, 2), A(tgkill, 3), A(rt_sigqueueinfo, 3), A(rt_tgsigqueueinfo, 4),
	A(shmget, 3), A(shmat, 3), A(shmdt, 1), A(shmctl, 3), A(semget, 3), A(semop, 3),
	A(semtimedop, 4), A(semctl, 4), A(msgget, 2), A(msgsnd, 4), A(msgrcv, 5), A(msgctl, 3),
	A(mq_open, 4), A(mq_unlink, 1), A(mq_timedsend, 5), A(mq_timedreceive, 5),
	A(mq_notify, 2), A(mq_getsetattr, 3), A(pidfd_open, 2), A(pidfd_send_signal, 4),
	A(pidfd_getfd, 3), A(process_vm_readv, 6), A(process_vm_writev, 6),
	A(perf_event_open, 5), A(seccomp, 3), A(personality, 1), A(unshare, 1), A(setns, 2),
	A(landlock_create_ruleset, 3), A(landlock_add_rule, 4), A(landlock_restrict_self, 2),
	A(clone, 5), A(fork, 0), A(vfork, 0), A(execve, 3), A(execveat, 5),
	A(set_tid_address, 1), A(set_robust_list, 2), A(get_robust_list, 3), A(arch_prctl, 2),
	A(exit, 1), A(exit_group, 1),
};
/* clang-format on */
#undef A

int
sc_nargs(long nr)
{
	if (nr < 0 || (size_t)nr >= ARRAY_SIZE(nargs_plus1) || !nargs_plus1[nr])
		return 6;
	return nargs_plus1[nr] - 1;
}

enum sc_order
sc_order(long nr, const uint64_t args[6])
{
	switch (nr) {
	/* data through an open file description: its offset, a pipe's or
	 * socket's bytes, a file's contents */
	case __NR_write:
	case __NR_writev:
	case __NR_pwrite64:
	case __NR_pwritev:
	case __NR_pwritev2:
	case __NR_pread64:
	case __NR_preadv:
	case __NR_preadv2:
	case __NR_lseek:
	case __NR_sendto:
	case __NR_sendmsg:
	case __NR_sendmmsg:
	case __NR_sendfile:
	case __NR_copy_file_range:
	case __NR_splice:
	case __NR_tee:
	case __NR_vmsplice:
	case __NR_ftruncate:
	case __NR_fallocate:
	case __NR_shutdown:
	/* the fd table and the objects it names */
	case __NR_open:
	case __NR_openat:
	case __NR_openat2:
	case __NR_creat:
	case __NR_close:
	case __NR_close_range:
	case __NR_dup:
	case __NR_dup2:
	case __NR_dup3:
	case __NR_pipe:
	case __NR_pipe2:
	case __NR_socket:
	case __NR_socketpair:
	case __NR_bind:
	case __NR_listen:
	case __NR_memfd_create:
	case __NR_eventfd:
	case __NR_eventfd2:
	/* names in the file system */
	case __NR_rename:
	case __NR_renameat:
	case __NR_renameat2:
	case __NR_unlink:
	case __NR_unlinkat:
	case __NR_mkdir:
	case __NR_mkdirat:
	case __NR_rmdir:
	case __NR_link:
	case __NR_linkat:
	case __NR_symlink:
	case __NR_symlinkat:
	case __NR_truncate:
	case __NR_mknod:
	case __NR_mknodat:
	/* the process tree: the child takes the fd table as it stands */
	case __NR_fork:
		return SC_ORDER_ONE;
	case __NR_fcntl:
		/* F_DUPFD takes a slot of the fd table; the others are the
		 * description's flags or locks, left out */
		return args[1] == F_DUPFD || args[1] == F_DUPFD_CLOEXEC ? SC_ORDER_ONE
									: SC_ORDER_NONE;
	case __NR_clone:
		/* a vfork parent waits in the kernel until its child execs or
		 * exits, and the child's calls must not wait for it */
		return args[0] & CLONE_VFORK ? SC_ORDER_EXIT : SC_ORDER_ONE;
	case __NR_vfork:
	/* they wait for a peer's call: ordered where they returned */
	case __NR_read:
	case __NR_readv:
	case __NR_recvfrom:
	case __NR_recvmsg:
	case __NR_recvmmsg:
	case __NR_accept:
	case __NR_accept4:
	case __NR_connect:
		return SC_ORDER_EXIT;
	default:
		return SC_ORDER_NONE;
	}
}
