/* SPDX-License-Identifier: MIT */
/*
 * The syscall model: one row per syscall uprr records (strace's syscallent.h).
 * Each row says what the kernel writes (OUT), what data the program passes out
 * (IN), and how replay treats it (flags). A syscall without a row stops the
 * recording only if it succeeds (see sc_check); failing, it is
 * recorded with no outputs. See doc/how-to-add-a-syscall.md.
 *
 * OUT kinds (sizes in bytes; "a" = argument index):
 *   FIX(a, n)      n bytes at a
 *   RET(a, s)      result bytes at a, at most argument s (the buffer's size:
 *                  recvfrom's MSG_TRUNC result is the datagram's length, and
 *                  a syscall still running has no result yet)
 *   RETX(a, s, n)  result * n bytes at a, at most argument s elements
 *   AV(a, s)       value-of-argument-s bytes at a
 *   AX(a, s, n)    argument-s * n bytes at a
 *   SA(a, l)       socket address at a, its length in the socklen_t at l
 *   OPT(a, l)      option value at a, its length in the socklen_t at l
 *   FDS(a, s)      an fd_set of argument-s bits at a
 *   IOV(a, s)      result bytes scattered over the iovec array a[s]
 *   MSG(a)         struct msghdr a: iovecs (result bytes), name, control
 *   MMSG(a)        the first result struct mmsghdr of a, each like MSG
 *   MMSGLEN(a)     msg_len of the first result struct mmsghdr of a
 *   NODES(a, s)    a node mask of argument-s bits (get_mempolicy)
 *   FHANDLE        name_to_handle_at's struct file_handle and mount id
 *   IOVEC(a)       one struct iovec a and its iov_len bytes, as the call left them
 * IN kinds: INB(a, s) argument-s bytes at a; INIOV(a, s); INMSG(a);
 *   INMMSG(a, s) the messages of argument-s struct mmsghdr at a.
 * Flags: MB may block; RX replay executes it; OE outputs count on failure;
 *   SP a per-command check (ioctl, fcntl, futex, prctl, clone); UT untraced;
 *   MP replay executes it and it adds or refills mappings; TM arms a timer
 *   that signals.
 * UT is only for syscalls that give the same result when run twice: a thread
 * rolled back to count its ticks runs the untraced ones again (rt_sigaction,
 * rt_sigprocmask and sigaltstack return the old value, munmap leaves code
 * that ran before it facing unmapped memory: they are traced), and mprotect
 * is traced so a checkpoint learns of memory that became writable.
 */
#pragma once

/* clang-format off */
#define MB SC_MAY_BLOCK
#define RX SC_REPLAY_EXEC
#define OE SC_OUT_ON_ERROR
#define SP SC_SPECIAL
#define UT (SC_UNTRACED | SC_REPLAY_EXEC)
#define MP (SC_MAPS | SC_REPLAY_EXEC)
#define TM SC_TIMER

#define FIX(a, n)   { OUT_FIXED, a, 0, n }
#define RET(a, s)   { OUT_RET, a, s, 1 }
#define RETX(a, s, n) { OUT_RET, a, s, n }
#define AV(a, s)    { OUT_ARGVAL, a, s, 1 }
#define AX(a, s, n) { OUT_ARGVAL, a, s, n }
#define SA(a, l)    { OUT_SOCKADDR, a, l, 0 }
#define OPT(a, l)   { OUT_OPTVAL, a, l, 0 }
#define FDS(a, s)   { OUT_FDSET, a, s, 0 }
#define IOV(a, s)   { OUT_IOV, a, s, 0 }
#define MSG(a)      { OUT_MSGHDR, a, 0, 0 }
#define MMSG(a)     { OUT_MMSG, a, 0, 0 }
#define MMSGLEN(a)  { OUT_MMSG_LEN, a, 0, 0 }
#define NODES(a, s) { OUT_NODEMASK, a, s, 0 }
#define FHANDLE     { OUT_FHANDLE, 2, 3, 0 }
#define IOVEC(a)    { OUT_IOVEC, a, 0, 0 }
#define INB(a, s)   .in = { IN_BUF, a, s }
#define INIOV(a, s) .in = { IN_IOV, a, s }
#define INMSG(a)    .in = { IN_MSGHDR, a, 0 }
#define INMMSG(a, s) .in = { IN_MMSG, a, s }

#define SC(nr, fl, ...) [__NR_##nr] = { .flags = (fl) | SC_KNOWN, __VA_ARGS__ }
#define O(...) .out = { __VA_ARGS__ }

/* sizes of kernel structures on x86-64 (include/uapi) */
#define SZ_STAT 144
#define SZ_STATX 256
#define SZ_TIMESPEC 16
#define SZ_TIMEVAL 16
#define SZ_RLIMIT 16
#define SZ_RUSAGE 144
#define SZ_SIGACTION 32
#define SZ_STACK 24
#define SZ_SIGINFO 128
#define SZ_UTSNAME 390
#define SZ_SYSINFO 112
#define SZ_STATFS 120
#define SZ_ITIMERVAL 32
#define SZ_ITIMERSPEC 32
#define SZ_EPOLL_EVENT 12
#define SZ_POLLFD 8
#define SZ_TMS 32
#define SZ_TIMEX 208
#define SZ_USTAT 32

/* syscalls newer than Debian 12's headers (Linux 6.1): syscall_64.tbl */
#ifndef __NR_cachestat
#define __NR_cachestat 451	/* Linux 6.5 */
#endif
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452	/* Linux 6.6 */
#endif
#ifndef __NR_futex_wake
#define __NR_futex_wake 454	/* Linux 6.7 */
#define __NR_futex_wait 455
#define __NR_futex_requeue 456
#endif
#ifndef __NR_mseal
#define __NR_mseal 462		/* Linux 6.10 */
#endif
#define SZ_CACHESTAT 40		/* struct cachestat: five u64 */
#define SZ_MQ_ATTR 64

static const struct syscall_row syscall_table[] = {
	/* file I/O */
	SC(read,	MB, O(RET(1, 2))),
	SC(pread64,	MB, O(RET(1, 2))),
	SC(readv,	MB, O(IOV(1, 2))),
	SC(preadv,	MB, O(IOV(1, 2))),
	SC(preadv2,	MB, O(IOV(1, 2))),
	SC(write,	MB, INB(1, 2)),
	SC(pwrite64,	MB, INB(1, 2)),
	SC(writev,	MB, INIOV(1, 2)),
	SC(pwritev,	MB, INIOV(1, 2)),
	SC(pwritev2,	MB, INIOV(1, 2)),
	SC(open,	MB),
	SC(openat,	MB),
	SC(creat,	MB),
	SC(close,	0),
	SC(close_range,	0),
	SC(lseek,	0),
	SC(dup,		0),
	SC(dup2,	0),
	SC(dup3,	0),
	SC(pipe,	0, O(FIX(0, 8))),
	SC(pipe2,	0, O(FIX(0, 8))),
	SC(fcntl,	SP),
	SC(ioctl,	SP),
	SC(flock,	MB),
	SC(fsync,	0),
	SC(fdatasync,	0),
	SC(sync,	0),
	SC(syncfs,	0),
	SC(ftruncate,	0),
	SC(truncate,	0),
	SC(fallocate,	0),
	SC(fadvise64,	0),
	SC(readahead,	0),
	SC(sendfile,	MB, O(FIX(2, 8))),
	SC(copy_file_range, MB, O(FIX(1, 8), FIX(3, 8))),
	SC(memfd_create, 0),
	SC(eventfd,	0),
	SC(eventfd2,	0),
	SC(timerfd_create, 0),
	SC(timerfd_settime, 0, O(FIX(3, SZ_ITIMERSPEC))),
	SC(timerfd_gettime, 0, O(FIX(1, SZ_ITIMERSPEC))),
	SC(signalfd4,	0),
	SC(inotify_init1, 0),
	SC(inotify_add_watch, 0),
	SC(inotify_rm_watch, 0),
	SC(inotify_init, 0),
	SC(fanotify_init, 0),
	SC(fanotify_mark, 0),
	SC(signalfd,	0),
	/* splice(2): the offsets it advanced; vmsplice(2) passes the iovecs'
	 * memory to a pipe (its write end: inputs) or fills it from one (its
	 * read end: the result bytes) */
	SC(splice,	MB, O(FIX(1, 8), FIX(3, 8))),
	SC(tee,		MB),
	SC(vmsplice,	MB, O(IOV(1, 2)), INIOV(1, 2)),
	SC(sync_file_range, 0),
	SC(cachestat,	0, O(FIX(2, SZ_CACHESTAT))),

	/* files and directories */
	SC(stat,	0, O(FIX(1, SZ_STAT))),
	SC(lstat,	0, O(FIX(1, SZ_STAT))),
	SC(fstat,	0, O(FIX(1, SZ_STAT))),
	SC(newfstatat,	0, O(FIX(2, SZ_STAT))),
	SC(statx,	0, O(FIX(4, SZ_STATX))),
	SC(statfs,	0, O(FIX(1, SZ_STATFS))),
	SC(fstatfs,	0, O(FIX(1, SZ_STATFS))),
	SC(access,	0),
	SC(faccessat,	0),
	SC(faccessat2,	0),
	SC(getdents64,	0, O(RET(1, 2))),
	SC(getdents,	0, O(RET(1, 2))),
	SC(readlink,	0, O(RET(1, 2))),
	SC(readlinkat,	0, O(RET(2, 3))),
	SC(getcwd,	0, O(RET(0, 1))),
	SC(chdir,	0),
	SC(fchdir,	0),
	SC(mkdir,	0),
	SC(mkdirat,	0),
	SC(rmdir,	0),
	SC(unlink,	0),
	SC(unlinkat,	0),
	SC(rename,	0),
	SC(renameat,	0),
	SC(renameat2,	0),
	SC(link,	0),
	SC(linkat,	0),
	SC(symlink,	0),
	SC(symlinkat,	0),
	SC(chmod,	0),
	SC(fchmod,	0),
	SC(fchmodat,	0),
	SC(chown,	0),
	SC(fchown,	0),
	SC(lchown,	0),
	SC(fchownat,	0),
	SC(umask,	0),
	SC(utimensat,	0),
	SC(getxattr,	0, O(RET(2, 3))),
	SC(lgetxattr,	0, O(RET(2, 3))),
	SC(fgetxattr,	0, O(RET(2, 3))),
	SC(listxattr,	0, O(RET(1, 2))),
	SC(llistxattr,	0, O(RET(1, 2))),
	SC(flistxattr,	0, O(RET(1, 2))),
	SC(setxattr,	0),
	SC(lsetxattr,	0),
	SC(fsetxattr,	0),
	SC(removexattr,	0),
	SC(lremovexattr, 0),
	SC(fremovexattr, 0),
	SC(openat2,	MB),
	SC(fchmodat2,	0),
	SC(mknod,	0),
	SC(mknodat,	0),
	SC(utime,	0),
	SC(utimes,	0),
	SC(futimesat,	0),
	SC(ustat,	0, O(FIX(1, SZ_USTAT))),
	SC(sysfs,	SP),
	/* fs/fhandle.c: the header is written on EOVERFLOW too */
	SC(name_to_handle_at, OE, O(FHANDLE)),
	SC(open_by_handle_at, 0),
	/* chroot is emulated like chdir: replay execs the trace's copies of
	 * programs by absolute path */
	SC(chroot,	0),

	/* mounts: they change the namespace uprr shares; nothing in memory */
	SC(mount,	0),
	SC(umount2,	0),
	SC(pivot_root,	0),
	SC(open_tree,	0),
	SC(move_mount,	0),
	SC(fsopen,	0),
	SC(fsconfig,	0),
	SC(fsmount,	0),
	SC(fspick,	0),
	SC(mount_setattr, 0),
	SC(swapon,	0),
	SC(swapoff,	0),

	/* memory: replay executes these at the recorded addresses */
	SC(mmap,	MP),
	SC(munmap,	RX),
	SC(mprotect,	MP),
	SC(mremap,	MP),
	SC(brk,		MP),
	SC(madvise,	MP),
	SC(msync,	0),
	SC(mincore,	0, O(AX(2, 1, 1))), /* one byte per page: see model */
	SC(mlock,	0),
	SC(munlock,	0),
	SC(mlockall,	0),
	SC(munlockall,	0),
	SC(membarrier,	0),
	SC(mlock2,	0),
	/* protection keys: replay allocates the same keys (pkeys(7)) */
	SC(pkey_alloc,	RX),
	SC(pkey_free,	RX),
	SC(pkey_mprotect, MP),
	/* NUMA policies move pages, never change their contents */
	SC(mbind,	0),
	SC(set_mempolicy, 0),
	SC(set_mempolicy_home_node, 0),
	SC(get_mempolicy, 0, O(FIX(0, 4), NODES(1, 2))),
	SC(migrate_pages, 0),
	/* a sealed mapping refuses later munmap, mprotect...: replay seals it
	 * too, since it executes those */
	SC(mseal,	RX),
	SC(move_pages,	0, O(AX(4, 1, 4))),

	/* sockets */
	SC(socket,	0),
	SC(socketpair,	0, O(FIX(3, 8))),
	SC(bind,	0),
	SC(listen,	0),
	SC(connect,	MB),
	SC(accept,	MB, O(SA(1, 2))),
	SC(accept4,	MB, O(SA(1, 2))),
	SC(getsockname,	0, O(SA(1, 2))),
	SC(getpeername,	0, O(SA(1, 2))),
	SC(setsockopt,	0),
	SC(getsockopt,	0, O(OPT(3, 4))),
	SC(shutdown,	0),
	SC(sendto,	MB, INB(1, 2)),
	SC(sendmsg,	MB, INMSG(1)),
	SC(recvfrom,	MB, O(RET(1, 2), SA(4, 5))),
	SC(recvmsg,	MB, O(MSG(1))),
	/* recvmmsg(2) writes back the timeout left (__sys_recvmmsg()) */
	SC(recvmmsg,	MB, O(MMSG(1), FIX(4, SZ_TIMESPEC))),
	SC(sendmmsg,	MB, O(MMSGLEN(1)), INMMSG(1, 2)),

	/* waiting */
	SC(poll,	MB, O(AX(0, 1, SZ_POLLFD))),
	SC(ppoll,	MB, O(AX(0, 1, SZ_POLLFD), FIX(2, SZ_TIMESPEC))),
	SC(select,	MB, O(FDS(1, 0), FDS(2, 0), FDS(3, 0), FIX(4, SZ_TIMEVAL))),
	SC(pselect6,	MB, O(FDS(1, 0), FDS(2, 0), FDS(3, 0), FIX(4, SZ_TIMESPEC))),
	SC(epoll_create, 0),
	SC(epoll_create1, 0),
	SC(epoll_ctl,	0),
	SC(epoll_wait,	MB, O(RETX(1, 2, SZ_EPOLL_EVENT))),
	SC(epoll_pwait,	MB, O(RETX(1, 2, SZ_EPOLL_EVENT))),
	SC(epoll_pwait2, MB, O(RETX(1, 2, SZ_EPOLL_EVENT))),
	SC(futex,	SP),
	/* futex2 (Linux 5.16, 6.7): they write no memory */
	SC(futex_waitv,	MB),
	SC(futex_wait,	MB),
	SC(futex_wake,	0),
	SC(futex_requeue, 0),
	SC(nanosleep,	MB | OE, O(FIX(1, SZ_TIMESPEC))),
	SC(clock_nanosleep, MB | OE, O(FIX(3, SZ_TIMESPEC))),
	SC(pause,	MB),
	SC(rt_sigsuspend, MB),
	SC(rt_sigtimedwait, MB, O(FIX(1, SZ_SIGINFO))),
	SC(wait4,	MB, O(FIX(1, 4), FIX(3, SZ_RUSAGE))),
	SC(waitid,	MB, O(FIX(2, SZ_SIGINFO), FIX(4, SZ_RUSAGE))),
	SC(sched_yield,	0),
	/* continues an interrupted nanosleep, poll, futex wait...: the recorder
	 * models it as the syscall it continues */
	SC(restart_syscall, MB),

	/* time and randomness */
	SC(clock_gettime, 0, O(FIX(1, SZ_TIMESPEC))),
	SC(clock_getres, 0, O(FIX(1, SZ_TIMESPEC))),
	SC(gettimeofday, 0, O(FIX(0, SZ_TIMEVAL), FIX(1, 8))),
	SC(time,	0, O(FIX(0, 8))),
	SC(times,	0, O(FIX(0, SZ_TMS))),
	SC(getrandom,	0, O(RET(0, 1))),
	SC(alarm,	TM),
	SC(setitimer,	TM, O(FIX(2, SZ_ITIMERVAL))),
	SC(getitimer,	0, O(FIX(1, SZ_ITIMERVAL))),
	SC(timer_create, 0, O(FIX(2, 4))),
	SC(timer_settime, TM, O(FIX(3, SZ_ITIMERSPEC))),
	SC(timer_gettime, 0, O(FIX(1, SZ_ITIMERSPEC))),
	SC(timer_delete, 0),
	SC(timer_getoverrun, 0),
	SC(clock_settime, 0),
	SC(settimeofday, 0),
	SC(adjtimex,	0, O(FIX(0, SZ_TIMEX))),
	SC(clock_adjtime, 0, O(FIX(1, SZ_TIMEX))),

	/* identity and limits */
	SC(getpid,	0),
	SC(gettid,	0),
	SC(getppid,	0),
	SC(getuid,	0),
	SC(geteuid,	0),
	SC(getgid,	0),
	SC(getegid,	0),
	SC(getresuid,	0, O(FIX(0, 4), FIX(1, 4), FIX(2, 4))),
	SC(getresgid,	0, O(FIX(0, 4), FIX(1, 4), FIX(2, 4))),
	SC(getgroups,	0, O(RETX(1, 0, 4))),
	SC(getpgrp,	0),
	SC(getpgid,	0),
	SC(getsid,	0),
	SC(setsid,	0),
	SC(setuid,	0),
	SC(setgid,	0),
	SC(setreuid,	0),
	SC(setregid,	0),
	SC(setresuid,	0),
	SC(setresgid,	0),
	SC(setgroups,	0),
	SC(setfsuid,	0),
	SC(setfsgid,	0),
	SC(setpgid,	0),
	SC(uname,	0, O(FIX(0, SZ_UTSNAME))),
	SC(sysinfo,	0, O(FIX(0, SZ_SYSINFO))),
	SC(getrlimit,	0, O(FIX(1, SZ_RLIMIT))),
	SC(setrlimit,	0),
	SC(prlimit64,	0, O(FIX(3, SZ_RLIMIT))),
	SC(getrusage,	0, O(FIX(1, SZ_RUSAGE))),
	SC(getcpu,	0, O(FIX(0, 4), FIX(1, 4))),
	SC(sched_getaffinity, 0, O(RET(2, 1))),
	SC(sched_setaffinity, 0),
	SC(sched_getparam, 0, O(FIX(1, 4))),
	SC(sched_getscheduler, 0),
	SC(sched_setscheduler, 0),
	SC(sched_get_priority_max, 0),
	SC(sched_get_priority_min, 0),
	SC(getpriority,	0),
	SC(setpriority,	0),
	SC(capget,	0, O(FIX(1, 24))),
	SC(prctl,	SP),
	SC(ptrace,	SP),
	SC(ioprio_get,	0),
	SC(ioprio_set,	0),
	SC(capset,	0),
	/* sched_attr_copy_to_user(): at most the caller's size */
	SC(sched_getattr, 0, O(AV(1, 2))),
	SC(sched_setattr, 0),
	SC(sched_setparam, 0),
	SC(sched_rr_get_interval, 0, O(FIX(1, SZ_TIMESPEC))),
	SC(kcmp,	0),
	SC(sethostname,	0),
	SC(setdomainname, 0),
	SC(vhangup,	0),
	SC(acct,	0),
	SC(quotactl,	SP),
	SC(quotactl_fd,	SP),
	SC(syslog,	SP),
	SC(add_key,	0),
	SC(request_key,	0),
	SC(keyctl,	SP),

	/* signals */
	SC(rt_sigaction, RX),
	SC(rt_sigprocmask, RX),
	SC(rt_sigreturn, UT),
	SC(sigaltstack,	RX),
	SC(rt_sigpending, 0, O(AV(0, 1))),
	SC(kill,	0),
	SC(tkill,	0),
	SC(tgkill,	0),
	SC(rt_sigqueueinfo, 0),
	SC(rt_tgsigqueueinfo, 0),

	/* IPC, pidfds, other processes' memory, perf */
	/* SysV: ids are emulated; replay attaches a segment of its own at the
	 * recorded address (replay/sysv.c), and the attachment is inherited
	 * and dropped by fork, exec and exit as in the recording */
	SC(shmget,	0),
	SC(shmat,	MP),
	SC(shmdt,	RX),
	SC(shmctl,	SP),
	SC(semget,	0),
	SC(semop,	MB),
	SC(semtimedop,	MB),
	SC(semctl,	SP),
	SC(msgget,	0),
	SC(msgsnd,	MB),
	SC(msgrcv,	MB, O({ OUT_MSGBUF, 1, 2, 0 })), /* the type and the text */
	SC(msgctl,	SP),
	SC(mq_open,	0),
	SC(mq_unlink,	0),
	SC(mq_timedsend, MB, INB(1, 2)),
	SC(mq_timedreceive, MB, O(RET(1, 2), FIX(3, 4))),
	SC(mq_notify,	0),
	SC(mq_getsetattr, 0, O(FIX(2, SZ_MQ_ATTR))),
	SC(pidfd_open,	0),
	SC(pidfd_send_signal, 0),
	SC(pidfd_getfd,	0),
	SC(process_vm_readv, 0, O(IOV(1, 2))),
	/* into a recorded process: replay does it again there; into one
	 * outside the recording: emulated, its data passed out (ipc.c) */
	SC(process_vm_writev, RX, INIOV(1, 2)),
	SC(perf_event_open, 0),

	/* sandboxes and namespaces (recorder/sandbox.c): seccomp installs the
	 * program's filter in replay too (SECCOMP_SET_MODE_FILTER: RX from
	 * the per-command check); personality runs in replay so the next exec
	 * gets the same persona; namespaces and landlock act only through the
	 * results of later syscalls, which the trace holds */
	SC(seccomp,	SP),
	SC(personality,	RX | SP),
	SC(unshare,	SP),
	SC(setns,	SP),
	SC(landlock_create_ruleset, 0),
	SC(landlock_add_rule, 0),
	SC(landlock_restrict_self, 0),

	/* threads and process */
	SC(clone,	RX | SP),
	SC(fork,	RX),
	SC(vfork,	RX),
	SC(execve,	RX),
	SC(execveat,	RX),
	SC(set_tid_address, RX),
	SC(set_robust_list, UT),
	SC(get_robust_list, 0, O(FIX(1, 8), FIX(2, 8))),
	SC(arch_prctl,	UT),
	SC(exit,	RX),
	SC(exit_group,	RX),
};
/* clang-format on */
