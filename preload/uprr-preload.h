/* SPDX-License-Identifier: MIT */
/*
 * The contract between the in-process syscall buffer (preload/, which runs
 * inside every tracee) and the supervisor (recorder/syscallbuf.c,
 * replay/syscallbuf.c): where the library and its buffers live, their
 * layout, who writes what. See doc/syscall-buffer.md. Freestanding: only
 * <stdint.h>.
 */
#pragma once

#ifdef __ASSEMBLER__
#define UPRR_U64(x) x
#else
#include <stdint.h>
#define UPRR_U64(x) x##ull
#endif

/** Bumped whenever anything below changes meaning. */
#define UPRR_PRELOAD_VERSION 11
/** ctl.magic once the supervisor mapped the library ("UPRB"). */
#define UPRR_PRELOAD_MAGIC 0x42525055u

/** Where the library is mapped in every tracee: the code (read + execute),
 * then the control page, then the buffers (read + write), 32.1 MiB in all:
 * below soft ticks' page (PATCH_TICK_PAGE, 0x70000000), below where Linux
 * puts mmaps and above a non-PIE executable's brk heap; a 32-bit absolute
 * address, which the stub's code uses. preload.lds links the image here. */
#define UPRR_PRELOAD_ADDR UPRR_U64(0x6d000000)
/** Room for the image; it must not be larger. */
#define UPRR_PRELOAD_CODE_SIZE UPRR_U64(0x10000)
#define UPRR_PRELOAD_CTL_ADDR (UPRR_PRELOAD_ADDR + UPRR_PRELOAD_CODE_SIZE)
#define UPRR_PRELOAD_CTL_SIZE UPRR_U64(0x1000)
/** Threads of a process that get a buffer; later ones take the ptrace path. */
#define UPRR_PRELOAD_NSLOTS 64
/** One thread's buffer: a struct uprr_buf, then its records. 512 KiB: a
 * read reserves room for all it asks for, and a read of 128 KiB (cp's,
 * coreutils' io_blksize) fits while 384 KiB of records are in: with 192
 * KiB, one did only below 64 KiB, and `cp -r` of small files took a
 * traced read (two ptrace stops and the bytes read again) every few
 * files. The pages cost only once written (the restore point's mirror
 * syncs written pages). */
#define UPRR_PRELOAD_BUF_SIZE UPRR_U64(0x80000)
#define UPRR_PRELOAD_BUF_ADDR (UPRR_PRELOAD_CTL_ADDR + UPRR_PRELOAD_CTL_SIZE)
#define UPRR_PRELOAD_MAP_SIZE \
	(UPRR_PRELOAD_CODE_SIZE + UPRR_PRELOAD_CTL_SIZE + UPRR_PRELOAD_NSLOTS * UPRR_PRELOAD_BUF_SIZE)

/* Offsets in the image (preload/entry.S places them). */
/** long uprr_syscall(long nr, long a0, ..., long a5): the System V C
 * convention; a syscall's result or -errno, as the kernel returns it. */
#define UPRR_PRELOAD_ENTRY_SYSCALL 0x0
/** The same with the registers of the syscall instruction (rax, rdi,
 * rsi, rdx, r10, r8, r9; rcx and r11 clobbered): patched sites call it. */
#define UPRR_PRELOAD_ENTRY_SYSCALL_ABI 0x8
/** Where the recorder sends a thread that stands at the seccomp stop of a
 * call the buffer takes, made from a syscall instruction that could not be
 * patched (recorder/syscallbuf-redirect.c): with the syscall's registers,
 * rcx the address after that instruction (the syscall instruction put it
 * there); it makes the call through the syscall-ABI entry, below the red
 * zone, and returns to rcx with the stack pointer as it was. */
#define UPRR_PRELOAD_ENTRY_REDIRECT 0x10
/** Bytes of stack under its entry frame the library zeroes on its way
 * out (entry.S, SCRUB_STACK): more than its deepest call takes (1.1 KiB:
 * uprr_syscall(), uprr_fd_call(), uprr_fd_write(), the traced call). */
#define UPRR_PRELOAD_STACK_SCRUB 2048
/** The untraced syscall instruction (`syscall; ret`). */
#define UPRR_PRELOAD_UNTRACED_OFF 0x40
/** The syscall number of the library's notify call (traced, never a real
 * syscall: ENOSYS): a re-run after a rollback consumed its records
 * (UPRR_REC_RESUME); the recorder recognises it at its seccomp stop, skips
 * it and records nothing. Only with uprr_buf.replay set. */
#define UPRR_NOTIFY_NR 0x7570
/** Offset of uprr_buf.replay, which the stub reads (entry.S). */
#define UPRR_BUF_REPLAY_OFF 12
/** ctl.flags: the library zeroes the stack its frames used on its way
 * out (entry.S, SCRUB_STACK): a TP run and its EP runs, whose checks
 * compare stacks the library's paths of each mode wrote, and the replay
 * of their trace (kept in its flags: the EP run's memory, exactly). Never
 * set in UP recording (2 KiB zeroed costs ~100-200 ns a call). */
#define UPRR_CTL_SCRUB 32 /* no suffix: entry.S reads it */
/** Offset of uprr_ctl.flags, which entry.S reads. */
#define UPRR_CTL_FLAGS_OFF 12
/** The rip the kernel reports for a syscall made there
 * (seccomp_data.instruction_pointer: the address after the instruction). */
#define UPRR_PRELOAD_UNTRACED_IP (UPRR_PRELOAD_ADDR + UPRR_PRELOAD_UNTRACED_OFF + 2)

#ifndef __ASSEMBLER__
/**
 * Whether the buffer may take syscall @nr (preload/syscallbuf.c handles each,
 * some only with certain arguments: ioctl only FIONREAD;
 * the recorder patches the sites that make them). Needs <asm/unistd.h>.
 */
#define UPRR_BUFFERED(nr)                                                                   \
	((nr) == __NR_getpid || (nr) == __NR_gettid || (nr) == __NR_clock_gettime ||        \
	 (nr) == __NR_read || (nr) == __NR_write || (nr) == __NR_lseek || (nr) == __NR_fstat || \
	 (nr) == __NR_newfstatat || (nr) == __NR_getdents64 || (nr) == __NR_recvfrom ||          \
	 (nr) == __NR_sendto || (nr) == __NR_gettimeofday || (nr) == __NR_epoll_wait ||         \
	 (nr) == __NR_epoll_pwait || (nr) == __NR_writev || (nr) == __NR_ioctl ||                \
	 (nr) == __NR_sendmsg || (nr) == __NR_poll || (nr) == __NR_ppoll ||                      \
	 (nr) == __NR_select || (nr) == __NR_pselect6 || (nr) == __NR_recvmsg ||                \
	 (nr) == __NR_futex || (nr) == __NR_sched_yield || UPRR_BUFFERED_FD(nr))
/** The fd and file calls of the buffer (preload/buffered-fd.c), some only
 * with certain arguments: openat for reading or writing (not under /proc,
 * /dev but /dev/shm, /sys), fcntl F_GETFD, F_SETFD, F_GETFL, F_SETFL,
 * F_DUPFD and F_DUPFD_CLOEXEC, accept4 on a non-blocking socket;
 * fadvise64; sendfile with an offset (made as a pread and a write that do
 * not wait), copy_file_range, ioctl FICLONE and FICLONERANGE (their
 * result), mkdirat, fchmod, fchown, utimensat (their result: tar -x makes
 * the last three for every file). */
#define UPRR_BUFFERED_FD(nr)                                                                \
	((nr) == __NR_openat || (nr) == __NR_close || (nr) == __NR_fcntl ||                  \
	 (nr) == __NR_access || (nr) == __NR_faccessat || (nr) == __NR_faccessat2 ||          \
	 (nr) == __NR_statx || (nr) == __NR_pread64 || (nr) == __NR_pwrite64 ||               \
	 (nr) == __NR_readv || (nr) == __NR_preadv || (nr) == __NR_getrandom ||               \
	 (nr) == __NR_accept4 || (nr) == __NR_fadvise64 || (nr) == __NR_sendfile ||           \
	 (nr) == __NR_copy_file_range || (nr) == __NR_mkdirat || (nr) == __NR_fchmod ||     \
	 (nr) == __NR_fchown || (nr) == __NR_utimensat || UPRR_BUFFERED_MAPS(nr))
/** The calls that change mappings (preload/buffered-maps.c), only while the
 * buffer's `maps` is set (a run without a restore point): mmap of private
 * anonymous memory, munmap, madvise with advice that keeps memory or
 * MADV_DONTNEED. Replay makes them again, at the recorded address. */
#define UPRR_BUFFERED_MAPS(nr) ((nr) == __NR_mmap || (nr) == __NR_munmap || (nr) == __NR_madvise)
/** sched_yield(2) calls a batch of records (a thread's buffered calls
 * between two of its events) may hold: the next one takes the traced path,
 * where uprr gives the CPU to another thread. A thread that yields now and
 * then while it works (a lock holder being fair) keeps the CPU; one that
 * yields in a loop while it waits for another thread gives it up after
 * this many (doc/syscall-buffer.md). */
#define UPRR_YIELDS_PER_BATCH 16u
/** The least bytes a read, readv or pread64 must return for the recorder
 * to keep them by reference to a package-managed file (trace format 13,
 * recorder/syscallbuf-ref.c): the library marks its fd (fds_written).
 * Below, linking the file (an ext4 link: 13 us on the recorder's loop)
 * costs more than compressing the bytes (16 KiB at 430 MB/s: 38 us, on the
 * writer's thread). */
#define UPRR_READ_REF_MIN 16384
/** Bytes of the struct stat that fstat(2) and newfstatat(2) write (x86-64). */
#define UPRR_STAT_SIZE 144

/** ctl.flags: the thread key can be read (rdfsbase: AT_HWCAP2 bit 1,
 * HWCAP2_FSGSBASE, Linux 5.9); without it every call is traced. */
#define UPRR_CTL_FSGSBASE 1u
/** ctl.flags: write(2) (and the other calls that write a file or send:
 * pwrite, sendto, sendmsg, sendfile...) takes the traced path: a recorded
 * process maps a file MAP_SHARED, and the recorder keeps the version of
 * such a file that each write leaves (replay's shared copy must change at
 * that write); or a TP run holds output or numbers writes in the order
 * of shared-state calls (recorder/record-hold.c). Not a write(2) or
 * writev(2) to /dev/null, which none of them needs (preload/syscallbuf.c,
 * null_write()). */
#define UPRR_CTL_NO_WRITES 2u
/** ctl.flags: an epoch's end is due (a TP run, recorder/record-epoch.c):
 * every call the buffer would take goes the traced way, from the entry,
 * before the buffer is touched (not locked), but futex(2) and
 * sched_yield(2) (an EP run finds no end there), so that its thread stops at
 * that call's seccomp stop, where the recorder holds it for the end. Set at
 * the end's tick, cleared once it is taken or given up; never set in UP
 * recording nor in replay. */
#define UPRR_CTL_EPOCH_END 4u
/** ctl.flags: the library of an EP run (`--syscalls-from`,
 * recorder/record-ep-sb.c), where ctl.replay is 1 and the supervisor puts
 * the log's records in each buffer: futex(2) and sched_yield(2), which an
 * EP run makes live (its own schedule decides their waits) and does not
 * match against its log, take the traced path and never consume a record.
 * Kept in the EP trace's flags, so replay does the same. */
#define UPRR_CTL_EP 8u
/** ctl.flags: a TP run (recorder/record-order.c): a read(2) or readv(2) of
 * a pipe, a FIFO or a socket (the library's fstat(2) of its fd), and every
 * recvfrom(2), recvmsg(2) and accept4(2), take the traced path, where the supervisor
 * numbers them in the order of shared-state calls: the EP run then makes
 * such a read after the write whose bytes it returned; an accept4(2) after
 * the connect(2) whose connection it takes. Never set in UP recording, an
 * EP run nor replay. */
#define UPRR_CTL_ORDER_READS 16u

/** The control page, one per process (fork copies it). */
struct uprr_ctl {
	uint32_t magic;	  /**< UPRR_PRELOAD_MAGIC; supervisor, at exec */
	uint32_t version; /**< UPRR_PRELOAD_VERSION; supervisor */
	uint32_t replay;  /**< 1 in replay: the stub returns recorded results; supervisor */
	uint32_t flags;	  /**< UPRR_CTL_*; supervisor */
	/** The thread key (FS base) of each slot's thread, 0: free; claimed
	 * by the library with lock cmpxchg, never freed */
	uint64_t keys[UPRR_PRELOAD_NSLOTS];
};

/** The head of a thread's buffer; its records follow. */
struct uprr_buf {
	uint32_t used;	 /**< bytes of records; library adds, supervisor resets */
	uint32_t locked; /**< the library is inside a call (a signal handler
			  * that calls it takes the traced path); library */
	/** 1: the next call takes the traced path, an event (a signal waits
	 * for one, or the thread's timeslice is over); supervisor, in
	 * recording only, cleared at the thread's next event. In replay the
	 * end marker sends that call the same way. */
	uint32_t interrupt;
	/** 1: this thread re-runs its records after a rollback that kept
	 * them (recording, soft ticks): the stub returns the recorded results
	 * as in replay, until the library consumes the last one and meets
	 * UPRR_REC_RESUME after it; then the library clears it (live again)
	 * and makes the notify call. Supervisor sets, library clears; never
	 * set in replay, where ctl.replay holds for every buffer. */
	uint32_t replay;
	/** 1: a futex wake may be buffered; 0 (a new buffer): it takes the
	 * traced path, an event. Recording: the supervisor sets it at the
	 * start of each run that has a restore point and clears it for one
	 * that has none because every other thread waits in a futex (a wake
	 * that is not an event would let one of them run with no way to roll
	 * the run back). Replay: set with every batch of records, where the
	 * end marker decides. */
	uint32_t wakes;
	/** 1: a call that changes mappings (UPRR_BUFFERED_MAPS) may be
	 * buffered; 0 (a new buffer): traced. Recording: the supervisor sets
	 * it at the start of each run that has no restore point (a rollback
	 * would not undo a mapping change it did not see) and clears it for
	 * one that has. Replay: set with every batch of records, where the
	 * end marker decides. */
	uint32_t maps;
	/** The fds (modulo 128, a bit each) that the buffer's records wrote
	 * or sent bytes to (ret > 0), or read UPRR_READ_REF_MIN bytes or more
	 * from (read, readv, pread64; version 11): a close of one of them
	 * takes the traced path, whose entry flushes first, since the flush
	 * finds where those bytes went, or the file they came from (a read
	 * kept by reference), from what the fd refers to then. Valid while
	 * used is not 0 (the batch's first record clears it); library */
	uint64_t fds_written[2];
};

/** One buffered call, 8-byte aligned, then its data. */
struct uprr_rec {
	/** bytes, this head and the data (a multiple of 8); UPRR_REC_STOP in
	 * replay after the last record to consume: the library then takes
	 * the traced path, as the next call did in the recording (a full
	 * buffer, or the thread's next event) */
	uint32_t size;
	uint32_t nr;	  /**< the program's syscall number */
	uint64_t args[6]; /**< its arguments, as the program passed them */
	int64_t ret;	  /**< the result the stub gave (replay: the recorded one) */
	/* data: the bytes the kernel wrote (read, recvfrom: ret bytes;
	 * clock_gettime: a timespec; gettimeofday: a timeval, a timezone;
	 * epoll_wait: ret events; ioctl FIONREAD: an int; poll, ppoll, select,
	 * pselect6: struct pollfds, the fields the library wrote, the revents
	 * the kernel did; recvmsg: a struct msghdr and an iovec, the name,
	 * ret bytes), or the bytes the program passed out
	 * (write, sendto: all it passed, writev, sendmsg: its iovecs' bytes
	 * one after the other; the kernel took ret), padded to 8 (then, for
	 * write, writev and pwrite64, struct uprr_write_probe: how the
	 * library made it); the fd
	 * calls' layouts are in preload/buffered-fd.c */
};

/** What a write, writev or pwrite64 record holds last, after the bytes
 * passed (padded to 8): how the library made it (preload/buffered-fd.c,
 * uprr_fd_write()). The RWF_NOWAIT attempt first; if the file refused it
 * (EOPNOTSUPP), an fstat and an fstatfs; a regular file of a local file
 * system is then written plainly (UPRR_WRITE_PLAIN). */
struct uprr_write_probe {
	int64_t attempt;    /**< the RWF_NOWAIT attempt's result */
	int64_t stat_ret;   /**< fstat's, 1 if not made */
	int64_t statfs_ret; /**< fstatfs's, 1 if not made */
	uint32_t mode;	    /**< st_mode, 0 if not made */
	uint32_t fs_type;   /**< f_type, 0 if not made */
	uint64_t dev;	    /**< st_dev, 0 if not made */
	uint64_t ino;	    /**< st_ino, 0 if not made */
};
#define UPRR_WRITE_PROBE_SIZE ((uint32_t)sizeof(struct uprr_write_probe))
/** Whether a write to a regular file of the file system of f_type @t
 * waits for nothing but the disk or memory (include/uapi/linux/magic.h):
 * ext2/3/4, tmpfs, xfs, btrfs, overlayfs. Not FUSE (its daemon may be a
 * thread of the program), NFS, nor procfs and sysfs, whose "regular"
 * files' writes have effects (/proc/PID/mem: rec_mem_write_target). */
#define UPRR_PLAIN_FS(t) ((t) == 0xef53u || (t) == 0x01021994u || (t) == 0x58465342u || \
			  (t) == 0x9123683eu || (t) == 0x794c7630u)
/** The library wrote plainly to a regular file (record of @p): EOPNOTSUPP
 * to the attempt, a regular file of an UPRR_PLAIN_FS(). The recorder finds
 * where the bytes went from dev and ino (uprr's stdout or stderr
 * redirected to a file), not from the fd at the flush. */
#define UPRR_WRITE_PLAIN(p) ((p)->attempt == -95 && (p)->stat_ret == 0 && (p)->statfs_ret == 0 && \
			     ((p)->mode & 0170000) == 0100000 && UPRR_PLAIN_FS((p)->fs_type))

/** The buffer of slot @i. */
#define UPRR_PRELOAD_BUF(i) (UPRR_PRELOAD_BUF_ADDR + (uint64_t)(i) * UPRR_PRELOAD_BUF_SIZE)
/** uprr_rec.size of the marker that ends the records to replay. */
#define UPRR_REC_STOP 0xffffffffu
/** uprr_rec.size of the marker after the records a re-run consumes
 * (uprr_buf.replay): the call that consumed the last record switches the
 * buffer back to live (appending after them) and notifies the recorder.
 * Only meaningful while uprr_buf.replay is 1. */
#define UPRR_REC_RESUME 0xfffffffeu
/** Room for records in one buffer (and the 8 bytes of a marker after them). */
#define UPRR_PRELOAD_REC_ROOM ((uint32_t)(UPRR_PRELOAD_BUF_SIZE - sizeof(struct uprr_buf) - 8))
#endif
