/* SPDX-License-Identifier: MIT */
/*
 * The syscall model: what each syscall writes into and reads out of tracee
 * memory, from the table in syscallent.h plus per-command checks for the
 * multiplexers (ioctl, fcntl, futex, prctl, clone).
 */
#define LOG_PREFIX "model"
#include <asm/unistd.h>
#include <errno.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <termios.h>
#include <fcntl.h>

#include "common/log.h"
#include "recorder/record-private.h"
#include "recorder/recorder.h"

enum out_kind {
	OUT_NONE = 0, OUT_FIXED, OUT_RET, OUT_ARGVAL, OUT_SOCKADDR, OUT_OPTVAL,
	OUT_FDSET, OUT_IOV, OUT_MSGHDR
};
enum in_kind { IN_NONE = 0, IN_BUF, IN_IOV, IN_MSGHDR };

struct out_spec {
	uint8_t kind, arg, sarg;
	uint32_t size;
};

struct in_spec {
	uint8_t kind, arg, sarg;
};

#define REC_SC_KNOWN (1u << 31)

struct syscall_row {
	uint32_t flags;
	struct out_spec out[4];
	struct in_spec in;
};

#include "recorder/syscallent.h"

static const char *const syscall_names[] = {
#include "syscall-names.h"
};

/* Largest iovec count the kernel accepts (UIO_MAXIOV). */
#define MAX_IOV 1024

const char *
rec_syscall_name(long nr)
{
	if (nr < 0 || (size_t)nr >= ARRAY_SIZE(syscall_names))
		return NULL;
	return syscall_names[nr];
}

static const struct syscall_row *
row_of(long nr)
{
	if (nr < 0 || (size_t)nr >= ARRAY_SIZE(syscall_table))
		return NULL;
	if (!(syscall_table[nr].flags & REC_SC_KNOWN))
		return NULL;
	return &syscall_table[nr];
}

bool
rec_syscall_known(long nr)
{
	return row_of(nr) != NULL;
}

static bool
futex_may_block(uint64_t op)
{
	switch (op & FUTEX_CMD_MASK) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
	case FUTEX_LOCK_PI:
	case FUTEX_LOCK_PI2:
	case FUTEX_WAIT_REQUEUE_PI:
		return true;
	default:
		return false;
	}
}

bool
rec_syscall_futex_wakes(long nr, const uint64_t args[6])
{
	if (nr != __NR_futex)
		return false;
	switch (args[1] & FUTEX_CMD_MASK) {
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
	case FUTEX_WAKE_OP:
	case FUTEX_REQUEUE:
	case FUTEX_CMP_REQUEUE:
	case FUTEX_UNLOCK_PI:
		return true;
	default:
		return false;
	}
}

uint32_t
rec_syscall_flags(long nr, const uint64_t args[6])
{
	const struct syscall_row *row = row_of(nr);
	uint32_t flags;

	if (!row)
		return 0;
	flags = row->flags & ~REC_SC_KNOWN;
	if (nr == __NR_futex && futex_may_block(args[1]))
		flags |= REC_SC_MAY_BLOCK;
	if (nr == __NR_fcntl && (args[1] == F_SETLKW || args[1] == F_OFD_SETLKW))
		flags |= REC_SC_MAY_BLOCK;
	flags |= rec_sandbox_flags(nr, args);
	return flags;
}

/* One ioctl request: its name and the bytes it writes at the argument. */
struct ioctl_row {
	unsigned long request;
	const char *name;
	uint32_t out_size;
};

static const struct ioctl_row ioctl_table[] = {
	{ TCGETS, "TCGETS", 36 }, /* struct termios of asm-generic/termbits.h */
	{ TCSETS, "TCSETS", 0 },
	{ TCSETSW, "TCSETSW", 0 },
	{ TCSETSF, "TCSETSF", 0 },
	{ TIOCGWINSZ, "TIOCGWINSZ", 8 },
	{ TIOCGPGRP, "TIOCGPGRP", 4 },
	{ FIONREAD, "FIONREAD", 4 },
	{ FIONBIO, "FIONBIO", 0 },
	{ FIOCLEX, "FIOCLEX", 0 },
	{ FIONCLEX, "FIONCLEX", 0 },
};

static const struct ioctl_row *
ioctl_lookup(unsigned long request)
{
	for (size_t i = 0; i < ARRAY_SIZE(ioctl_table); i++)
		if (ioctl_table[i].request == request)
			return &ioctl_table[i];
	return NULL;
}

static bool
fcntl_supported(uint64_t cmd)
{
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
	case F_GETFD:
	case F_SETFD:
	case F_GETFL:
	case F_SETFL:
	case F_SETLK:
	case F_SETLKW:
	case F_GETLK:
	case F_OFD_SETLK:
	case F_OFD_SETLKW:
	case F_OFD_GETLK:
	case F_GETPIPE_SZ:
	case F_SETPIPE_SZ:
	case F_ADD_SEALS:
	case F_GET_SEALS:
		return true;
	default:
		return false;
	}
}

static bool
prctl_supported(uint64_t option)
{
	switch (option) {
	case PR_SET_NAME:
	case PR_GET_NAME:
	case PR_SET_PDEATHSIG:
	case PR_GET_PDEATHSIG:
	case PR_GET_DUMPABLE:
	case PR_SET_DUMPABLE:
	case PR_SET_VMA:
	case PR_GET_TIMERSLACK:
	case PR_SET_TIMERSLACK:
	case PR_CAPBSET_READ:
	case PR_GET_NO_NEW_PRIVS:
	case PR_SET_THP_DISABLE:
	case PR_GET_THP_DISABLE:
	case PR_SET_NO_NEW_PRIVS: /* replay-executed: rec_sandbox_flags */
	case PR_SET_SECCOMP:	  /* strict mode refused: rec_sandbox_check */
	case PR_GET_SECCOMP:	  /* as natively: rec_sandbox_exit */
		return true;
	default:
		return false;
	}
}

int
rec_syscall_check(long nr, const uint64_t args[6], char *why, size_t len)
{
	const struct syscall_row *row = row_of(nr);
	const char *name = rec_syscall_name(nr);

	if (!row) {
		if (name)
			snprintf(why, len, "syscall %s (%ld)", name, nr);
		else
			snprintf(why, len, "syscall %ld", nr);
		return -ENOSYS;
	}
	if (!(row->flags & REC_SC_SPECIAL))
		return 0;
	if (rec_sandbox_check(nr, args, why, len) < 0)
		return -ENOSYS;
	switch (nr) {
	case __NR_ioctl:
		if (ioctl_lookup(args[1]))
			return 0;
		snprintf(why, len, "ioctl 0x%lx on fd %ld", (unsigned long)args[1], (long)args[0]);
		return -ENOSYS;
	case __NR_fcntl:
		if (fcntl_supported(args[1]))
			return 0;
		snprintf(why, len, "fcntl command %ld", (long)args[1]);
		return -ENOSYS;
	case __NR_prctl:
		if (prctl_supported(args[0]))
			return 0;
		snprintf(why, len, "prctl option %ld", (long)args[0]);
		return -ENOSYS;
	case __NR_futex:
		switch (args[1] & FUTEX_CMD_MASK) {
		case FUTEX_WAIT:
		case FUTEX_WAKE:
		case FUTEX_WAIT_BITSET:
		case FUTEX_WAKE_BITSET:
		case FUTEX_REQUEUE:
		case FUTEX_CMP_REQUEUE:
		case FUTEX_WAKE_OP:
			return 0;
		default:
			snprintf(why, len, "futex operation %ld", (long)(args[1] & FUTEX_CMD_MASK));
			return -ENOSYS;
		}
	case __NR_ptrace:
		/* uprr traces every tracee itself: between recorded processes
		 * it emulates these requests (recorder/ptrace-emu.c) */
		switch ((long)args[0]) {
		case PTRACE_TRACEME: case PTRACE_ATTACH: case PTRACE_SEIZE:
		case PTRACE_PEEKTEXT: case PTRACE_PEEKDATA: case PTRACE_PEEKUSER:
		case PTRACE_POKETEXT: case PTRACE_POKEDATA: case PTRACE_POKEUSER:
		case PTRACE_GETREGS: case PTRACE_SETREGS: case PTRACE_GETFPREGS:
		case PTRACE_SETFPREGS: case PTRACE_GETSIGINFO: case PTRACE_SETSIGINFO:
		case PTRACE_GETEVENTMSG: case PTRACE_SETOPTIONS: case PTRACE_CONT:
		case PTRACE_DETACH: case PTRACE_KILL:
			return 0;
		default:
			snprintf(why, len, "ptrace request %ld", (long)args[0]);
			return -ENOSYS;
		}
	case __NR_clone:
		/* a thread, a process (fork), or a process sharing its parent's
		 * memory until it execs (vfork); an untraced child would escape */
		if (args[0] & CLONE_UNTRACED) {
			snprintf(why, len, "clone with CLONE_UNTRACED");
			return -ENOSYS;
		}
		if ((args[0] & CLONE_THREAD) && !(args[0] & CLONE_VM)) {
			snprintf(why, len, "clone of a thread without CLONE_VM");
			return -ENOSYS;
		}
		return 0;
	default:
		return 0;
	}
}

int
rec_ranges_add(struct rec_ranges *rs, uint64_t addr, uint64_t len)
{
	if (len == 0 || addr == 0)
		return 0;
	if (UTIL_GROW(rs->v, rs->cap, rs->n + 1) < 0)
		return -ENOMEM;
	rs->v[rs->n++] = (struct rec_range){ addr, len };
	return 0;
}

void
rec_ranges_free(struct rec_ranges *rs)
{
	free(rs->v);
	rs->v = NULL;
	rs->n = rs->cap = 0;
}

/* Add up to @total bytes scattered over @cnt iovecs at @iov_addr. */
static int
add_iov(uint64_t iov_addr, uint64_t cnt, uint64_t total, rec_mem_read_fn read, void *ctx,
	struct rec_ranges *out)
{
	struct iovec iov[64];
	uint64_t done = 0;
	int r;

	cnt = MIN(cnt, (uint64_t)MAX_IOV);
	for (uint64_t i = 0; i < cnt && done < total; i += ARRAY_SIZE(iov)) {
		size_t n = MIN(cnt - i, ARRAY_SIZE(iov));

		r = read(ctx, iov_addr + i * sizeof(struct iovec), iov, n * sizeof(struct iovec));
		if (r < 0)
			return r;
		for (size_t j = 0; j < n && done < total; j++) {
			uint64_t l = MIN((uint64_t)iov[j].iov_len, total - done);

			r = rec_ranges_add(out, (uint64_t)(uintptr_t)iov[j].iov_base, l);
			if (r < 0)
				return r;
			done += l;
		}
	}
	return 0;
}

/*
 * The length at @len_addr and the bytes the kernel wrote at @addr: the new
 * length, but never more than the caller's buffer (@entry), since the kernel
 * reports the full length of a truncated value; @cap without an entry state.
 */
static int
add_inout(uint64_t addr, uint64_t len_addr, const struct rec_syscall_entry *entry, uint32_t cap,
	  rec_mem_read_fn read, void *ctx, struct rec_ranges *out)
{
	uint32_t len;
	int r;

	if (!len_addr)
		return 0;
	r = read(ctx, len_addr, &len, sizeof(len));
	if (r < 0)
		return r;
	r = rec_ranges_add(out, len_addr, sizeof(len));
	if (r < 0)
		return r;
	return rec_ranges_add(out, addr, MIN(len, entry && entry->has_len ? entry->len : cap));
}

static int
add_msghdr(uint64_t addr, int64_t result, bool for_output, const struct rec_syscall_entry *entry,
	   rec_mem_read_fn read, void *ctx, struct rec_ranges *out)
{
	struct msghdr msg;
	int r;

	r = read(ctx, addr, &msg, sizeof(msg));
	if (r < 0)
		return r;
	if (for_output) {
		/* the kernel updates msg_namelen, msg_controllen and msg_flags */
		r = rec_ranges_add(out, addr, sizeof(msg));
		if (r == 0)
			r = rec_ranges_add(out, (uint64_t)(uintptr_t)msg.msg_name,
					   MIN(msg.msg_namelen, entry && entry->has_len
								    ? entry->len
								    : (socklen_t)sizeof(struct sockaddr_storage)));
		if (r == 0)
			r = rec_ranges_add(out, (uint64_t)(uintptr_t)msg.msg_control,
					   msg.msg_controllen);
		if (r < 0)
			return r;
	}
	return add_iov((uint64_t)(uintptr_t)msg.msg_iov, msg.msg_iovlen, (uint64_t)result, read,
		       ctx, out);
}

static int
special_outputs(long nr, const uint64_t args[6], struct rec_ranges *out)
{
	const struct ioctl_row *io;

	switch (nr) {
	case __NR_ioctl:
		io = ioctl_lookup(args[1]);
		return io ? rec_ranges_add(out, args[2], io->out_size) : 0;
	case __NR_fcntl:
		if (args[1] == F_GETLK || args[1] == F_OFD_GETLK)
			return rec_ranges_add(out, args[2], sizeof(struct flock));
		return 0;
	case __NR_prctl:
		if (args[0] == PR_GET_NAME)
			return rec_ranges_add(out, args[1], 16);
		if (args[0] == PR_GET_PDEATHSIG)
			return rec_ranges_add(out, args[1], 4);
		return 0;
	case __NR_seccomp:
		return rec_sandbox_outputs(nr, args, out);
	case __NR_ptrace:
		/* what the emulated requests store at data (ptrace(2)) */
		switch ((long)args[0]) {
		case PTRACE_PEEKTEXT: case PTRACE_PEEKDATA: case PTRACE_PEEKUSER:
		case PTRACE_GETEVENTMSG:
			return rec_ranges_add(out, args[3], 8);
		case PTRACE_GETREGS:
			return rec_ranges_add(out, args[3], sizeof(struct user_regs_struct));
		case PTRACE_GETFPREGS:
			return rec_ranges_add(out, args[3], sizeof(struct user_fpregs_struct));
		case PTRACE_GETSIGINFO:
			return rec_ranges_add(out, args[3], sizeof(siginfo_t));
		default:
			return 0;
		}
	case __NR_futex:
		/* FUTEX_WAKE_OP modifies the word at uaddr2 (futex(2)) */
		if ((args[1] & FUTEX_CMD_MASK) == FUTEX_WAKE_OP)
			return rec_ranges_add(out, args[4], 4);
		return 0;
	default:
		return 0;
	}
}

void
rec_syscall_entry_state(long nr, const uint64_t args[6], rec_mem_read_fn read, void *ctx,
			struct rec_syscall_entry *ret_entry)
{
	const struct syscall_row *row = row_of(nr);
	uint32_t len;

	ret_entry->has_len = false;
	if (!row)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(row->out); i++) {
		const struct out_spec *o = &row->out[i];

		if (o->kind == OUT_SOCKADDR || o->kind == OUT_OPTVAL) {
			if (args[o->sarg] && read(ctx, args[o->sarg], &len, sizeof(len)) == 0) {
				ret_entry->has_len = true;
				ret_entry->len = len;
			}
			return;
		}
		if (o->kind == OUT_MSGHDR) {
			struct msghdr msg;

			if (read(ctx, args[o->arg], &msg, sizeof(msg)) == 0) {
				ret_entry->has_len = true;
				ret_entry->len = msg.msg_namelen;
			}
			return;
		}
	}
}

int
rec_syscall_outputs(long nr, const uint64_t args[6], int64_t result,
		    const struct rec_syscall_entry *entry, rec_mem_read_fn read, void *ctx,
		    struct rec_ranges *out)
{
	const struct syscall_row *row = row_of(nr);
	int r = 0;

	if (!row)
		return 0;
	if (result < 0 && !(row->flags & REC_SC_OUT_ON_ERROR))
		return 0;
	if (row->flags & REC_SC_SPECIAL) {
		r = special_outputs(nr, args, out);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(row->out) && r >= 0; i++) {
		const struct out_spec *o = &row->out[i];
		uint64_t a = args[o->arg];

		switch (o->kind) {
		case OUT_NONE:
			break;
		case OUT_FIXED:
			r = rec_ranges_add(out, a, o->size);
			break;
		case OUT_RET:
			/* never past the buffer: a result may say more (MSG_TRUNC),
			 * or be INT64_MAX, for a syscall still running */
			if (result > 0)
				r = rec_ranges_add(out, a, MIN(MIN((uint64_t)result, args[o->sarg]),
							       UINT64_MAX / o->size) * o->size);
			break;
		case OUT_ARGVAL:
			if (nr == __NR_mincore)
				r = rec_ranges_add(out, a, (args[1] + 4095) / 4096);
			else
				r = rec_ranges_add(out, a, MIN(args[o->sarg], (uint64_t)1 << 26) * o->size);
			break;
		case OUT_SOCKADDR:
			r = add_inout(a, args[o->sarg], entry, sizeof(struct sockaddr_storage), read,
				      ctx, out);
			break;
		case OUT_OPTVAL:
			r = add_inout(a, args[o->sarg], entry, 1u << 16, read, ctx, out);
			break;
		case OUT_FDSET:
			/* FDS_BYTES(nfds) of fs/select.c: whole longs */
			r = rec_ranges_add(out, a, (MIN(args[o->sarg], 1024 * 1024u) + 63) / 64 * 8);
			break;
		case OUT_IOV:
			if (result > 0)
				r = add_iov(a, args[o->sarg], (uint64_t)result, read, ctx, out);
			break;
		case OUT_MSGHDR:
			r = add_msghdr(a, result, true, entry, read, ctx, out);
			break;
		}
	}
	return r;
}

int
rec_syscall_inputs(long nr, const uint64_t args[6], rec_mem_read_fn read, void *ctx,
		   struct rec_ranges *out)
{
	const struct syscall_row *row = row_of(nr);

	if (!row)
		return 0;
	switch (row->in.kind) {
	case IN_BUF:
		return rec_ranges_add(out, args[row->in.arg], MIN(args[row->in.sarg], (uint64_t)1 << 30));
	case IN_IOV:
		return add_iov(args[row->in.arg], args[row->in.sarg], UINT64_MAX, read, ctx, out);
	case IN_MSGHDR:
		return add_msghdr(args[row->in.arg], INT64_MAX, false, NULL, read, ctx, out);
	default:
		return 0;
	}
}

bool
rec_syscall_is_send(long nr)
{
	return nr == __NR_sendto || nr == __NR_sendmsg;
}

bool
rec_syscall_is_write(long nr)
{
	switch (nr) {
	case __NR_write:
	case __NR_writev:
	case __NR_pwrite64:
	case __NR_pwritev:
	case __NR_pwritev2:
		return true;
	default:
		return false;
	}
}

int
rec_syscall_written_fd(long nr, const uint64_t args[6])
{
	switch (nr) {
	case __NR_ftruncate:
	case __NR_fallocate:
	case __NR_sendfile:
		return (int)args[0];
	case __NR_splice:
	case __NR_copy_file_range:
		return (int)args[2];
	default:
		return rec_syscall_is_write(nr) ? (int)args[0] : -1;
	}
}

int
rec_syscall_wait_mask(long nr, const uint64_t args[6], int64_t result, rec_mem_read_fn read,
		      void *ctx, uint64_t *ret_mask)
{
	uint64_t addr, size, ptr_size[2];

	if (result != -EINTR && result != -REC_ERESTARTNOHAND)
		return 0;
	switch (nr) {
	case __NR_rt_sigsuspend:
		addr = args[0], size = args[1];
		break;
	case __NR_ppoll:
		addr = args[3], size = args[4];
		break;
	case __NR_epoll_pwait:
	case __NR_epoll_pwait2:
		addr = args[4], size = args[5];
		break;
	case __NR_pselect6:
		/* the sixth argument points to { const sigset_t *ss; size_t ss_len } */
		if (!args[5])
			return 0;
		if (read(ctx, args[5], ptr_size, sizeof(ptr_size)) < 0)
			return -EFAULT;
		addr = ptr_size[0], size = ptr_size[1];
		break;
	default:
		return 0;
	}
	if (!addr || size != sizeof(*ret_mask))
		return 0;
	if (read(ctx, addr, ret_mask, sizeof(*ret_mask)) < 0)
		return -EFAULT;
	return 1;
}
