/* SPDX-License-Identifier: MIT */
/*
 * The sub-command tables of the multiplexing syscalls (ioctl, fcntl, prctl,
 * futex, keyctl, quotactl, syslog, sysfs, ptrace): one row per request, with its name, what
 * the kernel writes (an out kind of syscallent.h, arguments counted from the
 * syscall's first) and whether uprr records it. A row without SUB_OK only
 * names a request uprr does not record, with why (doc/unsupported.md lists
 * them); a request without a row is named from its number. Either runs in the
 * kernel: a failure is recorded, a success stops the recording.
 * Included by syscall-model.c only.
 */
#pragma once

/* requests newer than the build's headers (Debian 12: Linux 6.1) */
#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#define PR_GET_MEMORY_MERGE 68
#endif
#ifndef PR_GET_AUXV
#define PR_GET_AUXV 0x41555856
#endif
#ifndef F_DUPFD_QUERY
#define F_DUPFD_QUERY 1027 /* Linux 6.10 */
#endif
/* struct termios2 (44 bytes) and struct termio (18) of asm-generic/termbits.h
 * and ioctls.h: defined by number, their structs clash with glibc's */
#define SC_TCGETS2 0x802c542aul
#define SC_TCSETS2 0x402c542bul
#define SC_TCSETSW2 0x402c542cul
#define SC_TCSETSF2 0x402c542dul
/* XFS quota commands of linux/dqblk_xfs.h: XQM_CMD(n), not QCMD-shaped */
#define SC_Q_XGETQUOTA (('X' << 8) + 3)
#define SC_Q_XGETQSTAT (('X' << 8) + 5)
#define SC_Q_XGETQSTATV (('X' << 8) + 8)
#define SC_Q_XGETNEXTQUOTA (('X' << 8) + 9)
/* SIOCGIF* requests write back a struct ifreq (include/uapi/linux/if.h) */
#define SZ_IFREQ 40

/* clang-format off */
#define SUB_OK SC_KNOWN
#define OK(n, ...)      { .cmd = n, .name = #n, .flags = SUB_OK, __VA_ARGS__ }
#define OKB(n, ...)     { .cmd = n, .name = #n, .flags = SUB_OK | SC_MAY_BLOCK, __VA_ARGS__ }
#define NO(n, w)        { .cmd = n, .name = #n, .why = w }
#define NOB(n, w)       { .cmd = n, .name = #n, .flags = SC_MAY_BLOCK, .why = w }
#define ROW(c, n, f, ...) { .cmd = c, .name = n, .flags = f, __VA_ARGS__ }
#define W(...)          .out = __VA_ARGS__

static const struct sub_row ioctl_subs[] = {
	/* terminals: tty_ioctl(4), drivers/tty/tty_io.c, tty_ioctl.c, pty.c */
	OK(TCGETS,	W(FIX(2, 36))), /* struct termios of asm-generic/termbits.h */
	OK(TCSETS),
	OKB(TCSETSW),	/* waits until the output drained (tty_wait_until_sent) */
	OKB(TCSETSF),
	ROW(SC_TCGETS2, "TCGETS2", SUB_OK, W(FIX(2, 44))),
	ROW(SC_TCSETS2, "TCSETS2", SUB_OK),
	ROW(SC_TCSETSW2, "TCSETSW2", SUB_OK | SC_MAY_BLOCK),
	ROW(SC_TCSETSF2, "TCSETSF2", SUB_OK | SC_MAY_BLOCK),
	OK(TCGETA,	W(FIX(2, 18))), /* struct termio, copied whole since Linux 6.1 */
	OK(TCSETA),
	OKB(TCSETAW),
	OKB(TCSETAF),
	OKB(TCSBRK),	/* tcdrain(3) and tcsendbreak(3): wait for the output */
	OKB(TCSBRKP),
	OK(TIOCSBRK),
	OK(TIOCCBRK),
	OK(TCXONC),
	OK(TCFLSH),
	OK(TIOCGWINSZ,	W(FIX(2, 8))),
	OK(TIOCSWINSZ),
	OK(TIOCGPGRP,	W(FIX(2, 4))),
	OK(TIOCSPGRP),
	OK(TIOCGSID,	W(FIX(2, 4))),
	OK(TIOCSCTTY),
	OK(TIOCNOTTY),
	OK(TIOCOUTQ,	W(FIX(2, 4))),
	OK(FIONREAD,	W(FIX(2, 4))), /* also TIOCINQ and SIOCINQ */
	OK(TIOCEXCL),
	OK(TIOCNXCL),
	OK(TIOCGEXCL,	W(FIX(2, 4))),
	OK(TIOCGETD,	W(FIX(2, 4))),
	OK(TIOCSETD),
	OK(TIOCMGET,	W(FIX(2, 4))),
	OK(TIOCMSET),
	OK(TIOCMBIS),
	OK(TIOCMBIC),
	OK(TIOCPKT),
	OK(TIOCGPKT,	W(FIX(2, 4))),
	OK(TIOCGPTN,	W(FIX(2, 4))),
	OK(TIOCSPTLCK),
	OK(TIOCGPTLCK,	W(FIX(2, 4))),
	OK(TIOCGPTPEER), /* returns a new fd */
	OK(TIOCGDEV,	W(FIX(2, 4))),
	OK(TIOCSIG),
	OK(TIOCVHANGUP),
	NO(TIOCSTI,	"fakes terminal input (disabled by default since Linux 6.2)"),
	NO(TIOCCONS,	"redirects the console"),
	NO(TIOCLINUX,	"virtual console requests write per-subcode structures"),
	NO(TIOCGSERIAL,	"serial port structures are not modelled"),
	NO(TIOCSSERIAL,	"serial port structures are not modelled"),
	NOB(TIOCMIWAIT,	"waits for modem lines: not modelled"),
	NO(TIOCGICOUNT,	"serial port counters are not modelled"),
	NO(TIOCGRS485,	"serial port structures are not modelled"),
	NO(TIOCSRS485,	"serial port structures are not modelled"),
	NO(TIOCGLCKTRMIOS, "locked termios is not modelled"),
	NO(TIOCSLCKTRMIOS, "locked termios is not modelled"),
	/* any file: ioctl_fionbio() & co. in fs/ioctl.c */
	OK(FIONBIO),
	OK(FIOCLEX),
	OK(FIONCLEX),
	OK(FIOQSIZE,	W(FIX(2, 8))), /* loff_t */
	OK(FIGETBSZ,	W(FIX(2, 4))),
	/* O_ASYNC and the owner of SIGIO (fs/ioctl.c, net/socket.c sock_ioctl):
	 * the kernel's SIGIO is an asynchronous signal, recorded as any */
	OK(FIOASYNC),
	OK(FIOSETOWN),
	OK(FIOGETOWN,	W(FIX(2, 4))),
	OK(SIOCSPGRP),
	OK(SIOCGPGRP,	W(FIX(2, 4))),
	/* a program's own perf counters (perf_event_open(2)); REFRESH and
	 * PERIOD arm overflow signals, SET_OUTPUT a ring buffer: not modelled */
	OK(PERF_EVENT_IOC_ENABLE),
	OK(PERF_EVENT_IOC_DISABLE),
	OK(PERF_EVENT_IOC_RESET),
	OK(PERF_EVENT_IOC_ID, W(FIX(2, 8))),
	/* files: ioctl_file_clone(), ioctl_file_dedupe_range(), ioctl_getflags() */
	OK(FICLONE),
	OK(FICLONERANGE),
	OK(FIDEDUPERANGE, W({ OUT_DEDUPE, 2, 0, 0 })),
	OK(FS_IOC_GETFLAGS, W(FIX(2, 4))), /* an int, whatever _IOR says */
	OK(FS_IOC_SETFLAGS),
	OK(FS_IOC_GETVERSION, W(FIX(2, 4))), /* an int (ext4, f2fs) */
	OK(FS_IOC_SETVERSION),
	NO(FS_IOC_FSGETXATTR, "not modelled yet"),
	NO(FS_IOC_FSSETXATTR, "not modelled yet"),
	NO(FS_IOC_GETFSLABEL, "not modelled yet"),
	NO(FIFREEZE,	"freezes a filesystem"),
	NO(FITHAW,	"thaws a filesystem"),
	NO(FITRIM,	"not modelled yet"),
	/* drivers/char/random.c */
	OK(RNDGETENTCNT, W(FIX(2, 4))),
	/* sockets: sock_ioctl(), dev_ioctl() */
	OK(SIOCATMARK,	W(FIX(2, 4))),
	OK(SIOCGSTAMP_OLD, W(FIX(2, 16))), /* struct timeval */
	OK(SIOCGSTAMPNS_OLD, W(FIX(2, 16))),
	OK(SIOCGIFNAME,	W(FIX(2, SZ_IFREQ))),
	OK(SIOCGIFINDEX, W(FIX(2, SZ_IFREQ))),
	OK(SIOCGIFFLAGS, W(FIX(2, SZ_IFREQ))),
	OK(SIOCGIFADDR,	W(FIX(2, SZ_IFREQ))),
	OK(SIOCGIFNETMASK, W(FIX(2, SZ_IFREQ))),
	OK(SIOCGIFBRDADDR, W(FIX(2, SZ_IFREQ))),
	OK(SIOCGIFHWADDR, W(FIX(2, SZ_IFREQ))),
	OK(SIOCGIFMTU,	W(FIX(2, SZ_IFREQ))),
	NO(SIOCGIFCONF,	"struct ifconf is not modelled"),
};

static const struct sub_row fcntl_subs[] = {
	/* fcntl(2), fs/fcntl.c do_fcntl() */
	OK(F_DUPFD),
	OK(F_DUPFD_CLOEXEC),
	OK(F_DUPFD_QUERY),
	OK(F_GETFD),
	OK(F_SETFD),
	OK(F_GETFL),
	OK(F_SETFL),
	OK(F_SETLK),
	OKB(F_SETLKW),
	OK(F_GETLK,	W(FIX(2, sizeof(struct flock)))),
	OK(F_OFD_SETLK),
	OKB(F_OFD_SETLKW),
	OK(F_OFD_GETLK,	W(FIX(2, sizeof(struct flock)))),
	OK(F_GETPIPE_SZ),
	OK(F_SETPIPE_SZ),
	OK(F_ADD_SEALS),
	OK(F_GET_SEALS),
	/* a lease break or a dnotify event arrives as a signal, which the
	 * recorder records like any other */
	OK(F_GETLEASE),
	OK(F_SETLEASE),
	OK(F_NOTIFY),
	OK(F_GET_RW_HINT, W(FIX(2, 8))), /* u64 */
	OK(F_SET_RW_HINT),
	OK(F_GET_FILE_RW_HINT, W(FIX(2, 8))), /* EINVAL since Linux 5.17 */
	OK(F_SET_FILE_RW_HINT),
	/* who gets SIGIO, and which signal it is (recorded like any) */
	OK(F_SETOWN),
	OK(F_GETOWN),
	OK(F_SETOWN_EX),
	OK(F_GETOWN_EX,	W(FIX(2, sizeof(struct f_owner_ex)))),
	OK(F_SETSIG),
	OK(F_GETSIG),
};

/* SysV control commands (shmctl(2), semctl(2), msgctl(2); struct sizes of
 * x86-64, include/uapi/asm-generic/{shm,sem,msg}buf.h) */
static const struct sub_row shmctl_subs[] = {
	OK(IPC_RMID),
	OK(IPC_SET),
	OK(SHM_LOCK),
	OK(SHM_UNLOCK),
	OK(IPC_STAT,	W(FIX(2, sizeof(struct shmid_ds)))),
	OK(SHM_STAT,	W(FIX(2, sizeof(struct shmid_ds)))),
	OK(SHM_STAT_ANY, W(FIX(2, sizeof(struct shmid_ds)))),
	OK(IPC_INFO,	W(FIX(2, sizeof(struct shminfo)))),
	OK(SHM_INFO,	W(FIX(2, sizeof(struct shm_info)))),
};

static const struct sub_row semctl_subs[] = {
	OK(IPC_RMID),
	OK(IPC_SET),
	OK(SETVAL),
	OK(SETALL),
	OK(GETVAL),
	OK(GETPID),
	OK(GETNCNT),
	OK(GETZCNT),
	OK(GETALL,	W({ OUT_SEMALL, 3, 0, 0 })),
	OK(IPC_STAT,	W(FIX(3, sizeof(struct semid_ds)))),
	OK(SEM_STAT,	W(FIX(3, sizeof(struct semid_ds)))),
	OK(SEM_STAT_ANY, W(FIX(3, sizeof(struct semid_ds)))),
	OK(IPC_INFO,	W(FIX(3, sizeof(struct seminfo)))),
	OK(SEM_INFO,	W(FIX(3, sizeof(struct seminfo)))),
};

static const struct sub_row msgctl_subs[] = {
	OK(IPC_RMID),
	OK(IPC_SET),
	OK(IPC_STAT,	W(FIX(2, sizeof(struct msqid_ds)))),
	OK(MSG_STAT,	W(FIX(2, sizeof(struct msqid_ds)))),
	OK(MSG_STAT_ANY, W(FIX(2, sizeof(struct msqid_ds)))),
	OK(IPC_INFO,	W(FIX(2, sizeof(struct msginfo)))),
	OK(MSG_INFO,	W(FIX(2, sizeof(struct msginfo)))),
};

static const struct sub_row prctl_subs[] = {
	/* prctl(2), PR_CONST(2const) pages, kernel/sys.c */
	OK(PR_SET_NAME),
	OK(PR_GET_NAME,	W(FIX(1, 16))),
	OK(PR_SET_PDEATHSIG),
	OK(PR_GET_PDEATHSIG, W(FIX(1, 4))),
	OK(PR_GET_DUMPABLE),
	OK(PR_SET_DUMPABLE),
	OK(PR_SET_VMA),
	OK(PR_GET_TIMERSLACK),
	OK(PR_SET_TIMERSLACK),
	OK(PR_CAPBSET_READ),
	OK(PR_CAPBSET_DROP),
	OK(PR_CAP_AMBIENT), /* IS_SET, RAISE, LOWER, CLEAR_ALL: no memory */
	OK(PR_GET_KEEPCAPS),
	OK(PR_SET_KEEPCAPS),
	OK(PR_GET_SECUREBITS),
	OK(PR_SET_SECUREBITS),
	OK(PR_GET_NO_NEW_PRIVS),
	/* no_new_privs and the program's seccomp filters act on the syscalls
	 * replay executes too: replay sets them (recorder/sandbox.c) */
	ROW(PR_SET_NO_NEW_PRIVS, "PR_SET_NO_NEW_PRIVS", SUB_OK | SC_REPLAY_EXEC),
	/* SECCOMP_MODE_STRICT: never run (sandbox_check(), syscall-model.c) */
	ROW(PR_SET_SECCOMP, "PR_SET_SECCOMP", SUB_OK | SC_REPLAY_EXEC),
	/* 0 until the program installs a filter, as natively (rec_sandbox_exit) */
	OK(PR_GET_SECCOMP),
	OK(PR_GET_THP_DISABLE),
	OK(PR_SET_THP_DISABLE),
	OK(PR_GET_SPECULATION_CTRL),
	OK(PR_SET_SPECULATION_CTRL),
	OK(PR_SET_PTRACER),
	OK(PR_GET_CHILD_SUBREAPER, W(FIX(1, 4))),
	OK(PR_SET_CHILD_SUBREAPER),
	OK(PR_GET_TID_ADDRESS, W(FIX(1, 8))),
	OK(PR_GET_IO_FLUSHER),
	OK(PR_SET_IO_FLUSHER),
	OK(PR_MCE_KILL),
	OK(PR_MCE_KILL_GET),
	OK(PR_GET_MDWE),
	OK(PR_GET_MEMORY_MERGE),
	OK(PR_SET_MEMORY_MERGE),
	/* the whole auxv, at most arg3 bytes; returns its size (Linux 6.4):
	 * replay returns the recorded one */
	OK(PR_GET_AUXV,	W(RET(1, 2))),
	/* memory-deny-write-execute (Linux 6.3): replay sets it too, since it
	 * executes the mprotect and mmap calls it makes fail; uprr writes its
	 * counting code through /proc/PID/mem, which it does not stop */
	ROW(PR_SET_MDWE, "PR_SET_MDWE", SUB_OK | SC_REPLAY_EXEC),
	NO(PR_SET_MM,	"rewrites what /proc shows of the process"),
	NO(PR_SET_TSC,	"uprr traps rdtsc through it"),
	NO(PR_GET_TSC,	"uprr traps rdtsc through it"),
	NO(PR_TASK_PERF_EVENTS_DISABLE, "not modelled yet"),
	NO(PR_TASK_PERF_EVENTS_ENABLE, "not modelled yet"),
	NO(PR_SCHED_CORE, "not modelled yet"),
};

static const struct sub_row seccomp_subs[] = {
	/* seccomp(2), kernel/seccomp.c; sandbox_check(): strict mode (with
	 * no flags and no pointer: else EINVAL, as libseccomp probes) and
	 * SECCOMP_FILTER_FLAG_NEW_LISTENER are never run */
	OK(SECCOMP_SET_MODE_STRICT),
	ROW(SECCOMP_SET_MODE_FILTER, "SECCOMP_SET_MODE_FILTER", SUB_OK | SC_REPLAY_EXEC),
	OK(SECCOMP_GET_ACTION_AVAIL),
	OK(SECCOMP_GET_NOTIF_SIZES, W(FIX(2, sizeof(struct seccomp_notif_sizes)))),
};

static const struct sub_row futex_subs[] = {
	/* futex(2), kernel/futex/syscalls.c */
	OKB(FUTEX_WAIT),
	OK(FUTEX_WAKE),
	OKB(FUTEX_WAIT_BITSET),
	OK(FUTEX_WAKE_BITSET),
	OK(FUTEX_REQUEUE),
	OK(FUTEX_CMP_REQUEUE),
	OK(FUTEX_WAKE_OP, W(FIX(4, 4))), /* it modifies the word at uaddr2 */
	NO(FUTEX_FD,	"removed in Linux 2.6.26"),
	NOB(FUTEX_LOCK_PI, "priority-inheritance futexes are not modelled"),
	NOB(FUTEX_LOCK_PI2, "priority-inheritance futexes are not modelled"),
	NOB(FUTEX_TRYLOCK_PI, "priority-inheritance futexes are not modelled"),
	NO(FUTEX_UNLOCK_PI, "priority-inheritance futexes are not modelled"),
	NOB(FUTEX_WAIT_REQUEUE_PI, "priority-inheritance futexes are not modelled"),
	NO(FUTEX_CMP_REQUEUE_PI, "priority-inheritance futexes are not modelled"),
};

static const struct sub_row keyctl_subs[] = {
	/* keyctl(2), security/keys/keyctl.c: the buffer requests return the
	 * needed length and copy at most buflen bytes */
	OK(KEYCTL_GET_KEYRING_ID),
	OK(KEYCTL_JOIN_SESSION_KEYRING),
	OK(KEYCTL_UPDATE),
	OK(KEYCTL_REVOKE),
	OK(KEYCTL_CHOWN),
	OK(KEYCTL_SETPERM),
	OK(KEYCTL_DESCRIBE, W(RET(2, 3))),
	OK(KEYCTL_CLEAR),
	OK(KEYCTL_LINK),
	OK(KEYCTL_UNLINK),
	OK(KEYCTL_SEARCH),
	OK(KEYCTL_READ,	W(RET(2, 3))),
	OK(KEYCTL_INSTANTIATE),
	OK(KEYCTL_NEGATE),
	OK(KEYCTL_SET_REQKEY_KEYRING),
	OK(KEYCTL_SET_TIMEOUT),
	OK(KEYCTL_ASSUME_AUTHORITY),
	OK(KEYCTL_GET_SECURITY, W(RET(2, 3))),
	OK(KEYCTL_SESSION_TO_PARENT),
	OK(KEYCTL_REJECT),
	OK(KEYCTL_INSTANTIATE_IOV),
	OK(KEYCTL_INVALIDATE),
	OK(KEYCTL_GET_PERSISTENT),
	OK(KEYCTL_DH_COMPUTE, W(RET(2, 3))),
	OK(KEYCTL_RESTRICT_KEYRING),
	OK(KEYCTL_MOVE),
	OK(KEYCTL_CAPABILITIES, W(RET(1, 2))),
	NO(KEYCTL_PKEY_QUERY, "not modelled yet"),
	NO(KEYCTL_PKEY_ENCRYPT, "not modelled yet"),
	NO(KEYCTL_PKEY_DECRYPT, "not modelled yet"),
	NO(KEYCTL_PKEY_SIGN, "not modelled yet"),
	NO(KEYCTL_PKEY_VERIFY, "not modelled yet"),
	NO(KEYCTL_WATCH_KEY, "notifications through a watch queue are not modelled"),
};

static const struct sub_row quotactl_subs[] = {
	/* quotactl(2), fs/quota/quota.c: by the command of QCMD(cmd, type) */
	ROW(Q_SYNC, "Q_SYNC", SUB_OK),
	ROW(Q_QUOTAON, "Q_QUOTAON", SUB_OK),
	ROW(Q_QUOTAOFF, "Q_QUOTAOFF", SUB_OK),
	ROW(Q_GETFMT, "Q_GETFMT", SUB_OK, W(FIX(3, 4))),
	ROW(Q_GETINFO, "Q_GETINFO", SUB_OK, W(FIX(3, sizeof(struct if_dqinfo)))),
	ROW(Q_SETINFO, "Q_SETINFO", SUB_OK),
	ROW(Q_GETQUOTA, "Q_GETQUOTA", SUB_OK, W(FIX(3, sizeof(struct if_dqblk)))),
	ROW(Q_SETQUOTA, "Q_SETQUOTA", SUB_OK),
	ROW(Q_GETNEXTQUOTA, "Q_GETNEXTQUOTA", SUB_OK, W(FIX(3, sizeof(struct if_nextdqblk)))),
	ROW(SC_Q_XGETQUOTA, "Q_XGETQUOTA", 0, .why = "XFS quota structures are not modelled"),
	ROW(SC_Q_XGETQSTAT, "Q_XGETQSTAT", 0, .why = "XFS quota structures are not modelled"),
	ROW(SC_Q_XGETQSTATV, "Q_XGETQSTATV", 0, .why = "XFS quota structures are not modelled"),
	ROW(SC_Q_XGETNEXTQUOTA, "Q_XGETNEXTQUOTA", 0,
	    .why = "XFS quota structures are not modelled"),
};

static const struct sub_row syslog_subs[] = {
	/* syslog(2), kernel/printk/printk.c do_syslog() */
	ROW(0, "SYSLOG_ACTION_CLOSE", SUB_OK),
	ROW(1, "SYSLOG_ACTION_OPEN", SUB_OK),
	ROW(2, "SYSLOG_ACTION_READ", SUB_OK | SC_MAY_BLOCK, W(RET(1, 2))),
	ROW(3, "SYSLOG_ACTION_READ_ALL", SUB_OK, W(RET(1, 2))),
	ROW(4, "SYSLOG_ACTION_READ_CLEAR", SUB_OK, W(RET(1, 2))),
	ROW(5, "SYSLOG_ACTION_CLEAR", SUB_OK),
	ROW(6, "SYSLOG_ACTION_CONSOLE_OFF", SUB_OK),
	ROW(7, "SYSLOG_ACTION_CONSOLE_ON", SUB_OK),
	ROW(8, "SYSLOG_ACTION_CONSOLE_LEVEL", SUB_OK),
	ROW(9, "SYSLOG_ACTION_SIZE_UNREAD", SUB_OK),
	ROW(10, "SYSLOG_ACTION_SIZE_BUFFER", SUB_OK),
};

static const struct sub_row ptrace_subs[] = {
	/* uprr traces every tracee itself: between recorded processes it
	 * emulates these (recorder/ptrace-emu.c); what they store at data,
	 * ptrace(2) */
	OK(PTRACE_TRACEME),
	OK(PTRACE_ATTACH),
	OK(PTRACE_SEIZE),
	OK(PTRACE_PEEKTEXT, W(FIX(3, 8))),
	OK(PTRACE_PEEKDATA, W(FIX(3, 8))),
	OK(PTRACE_PEEKUSER, W(FIX(3, 8))),
	OK(PTRACE_POKETEXT),
	OK(PTRACE_POKEDATA),
	OK(PTRACE_POKEUSER),
	OK(PTRACE_GETREGS, W(FIX(3, sizeof(struct user_regs_struct)))),
	OK(PTRACE_SETREGS),
	OK(PTRACE_GETFPREGS, W(FIX(3, sizeof(struct user_fpregs_struct)))),
	OK(PTRACE_SETFPREGS),
	OK(PTRACE_GETSIGINFO, W(FIX(3, sizeof(siginfo_t)))),
	OK(PTRACE_SETSIGINFO),
	OK(PTRACE_GETEVENTMSG, W(FIX(3, 8))),
	OK(PTRACE_SETOPTIONS),
	OK(PTRACE_CONT),
	OK(PTRACE_DETACH),
	OK(PTRACE_KILL),
	OK(PTRACE_SYSCALL),
	OK(PTRACE_SINGLESTEP),
	OK(PTRACE_INTERRUPT),
	OK(PTRACE_LISTEN),
	OK(PTRACE_GETREGSET, W(IOVEC(3))),
	OK(PTRACE_SETREGSET, W(FIX(3, 16))), /* iov_len: the size it took */
	NO(PTRACE_GETSIGMASK, "not emulated yet"),
	NO(PTRACE_SETSIGMASK, "not emulated yet"),
	NO(PTRACE_PEEKSIGINFO, "not emulated yet"),
	/* it stores at most addr bytes, and returns the size it had */
	OK(PTRACE_GET_SYSCALL_INFO, W(AV(3, 2))),
	NO(PTRACE_ARCH_PRCTL, "not emulated yet"),
	NO(PTRACE_SYSEMU, "not emulated yet"),
	NO(PTRACE_SYSEMU_SINGLESTEP, "not emulated yet"),
	NO(PTRACE_SECCOMP_GET_FILTER, "not emulated yet"),
};

static const struct sub_row sysfs_subs[] = {
	/* sysfs(2), fs/filesystems.c: option 2 copies a NUL-terminated name */
	ROW(1, "sysfs option 1", SUB_OK),
	ROW(2, "sysfs option 2", SUB_OK, W({ OUT_STRZ, 2, 0, 0 })),
	ROW(3, "sysfs option 3", SUB_OK),
};

/* The multiplexers: which argument selects the request, and its table. */
static const struct sub_table {
	long nr;
	const char *what;	/* "ioctl", "fcntl": how the message names it */
	uint8_t cmd_arg;
	bool ioc;		/* an ioctl request: decode _IOC fields when unknown */
	uint64_t (*cmd_of)(const uint64_t args[6]);
	const struct sub_row *rows;
	size_t n;
} sub_tables[] = {
	{ __NR_ioctl, "ioctl", 1, true, NULL, ioctl_subs, ARRAY_SIZE(ioctl_subs) },
	{ __NR_fcntl, "fcntl", 1, false, NULL, fcntl_subs, ARRAY_SIZE(fcntl_subs) },
	{ __NR_prctl, "prctl", 0, false, NULL, prctl_subs, ARRAY_SIZE(prctl_subs) },
	{ __NR_seccomp, "seccomp", 0, false, NULL, seccomp_subs, ARRAY_SIZE(seccomp_subs) },
	{ __NR_futex, "futex", 1, false, futex_cmd, futex_subs, ARRAY_SIZE(futex_subs) },
	{ __NR_keyctl, "keyctl", 0, false, NULL, keyctl_subs, ARRAY_SIZE(keyctl_subs) },
	{ __NR_quotactl, "quotactl", 0, false, quotactl_cmd, quotactl_subs,
	  ARRAY_SIZE(quotactl_subs) },
	{ __NR_quotactl_fd, "quotactl_fd", 1, false, quotactl_fd_cmd, quotactl_subs,
	  ARRAY_SIZE(quotactl_subs) },
	{ __NR_syslog, "syslog", 0, false, NULL, syslog_subs, ARRAY_SIZE(syslog_subs) },
	{ __NR_sysfs, "sysfs", 0, false, NULL, sysfs_subs, ARRAY_SIZE(sysfs_subs) },
	{ __NR_ptrace, "ptrace", 0, false, NULL, ptrace_subs, ARRAY_SIZE(ptrace_subs) },
	{ __NR_shmctl, "shmctl", 1, false, ipcctl_cmd, shmctl_subs, ARRAY_SIZE(shmctl_subs) },
	{ __NR_semctl, "semctl", 2, false, semctl_cmd, semctl_subs, ARRAY_SIZE(semctl_subs) },
	{ __NR_msgctl, "msgctl", 1, false, ipcctl_cmd, msgctl_subs, ARRAY_SIZE(msgctl_subs) },
};

#undef OK
#undef OKB
#undef NO
#undef NOB
#undef ROW
#undef W
/* clang-format on */
