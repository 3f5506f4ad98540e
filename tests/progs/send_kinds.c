/* SPDX-License-Identifier: MIT */
/*
 * Sends bytes on a stream socket with every syscall that can: write,
 * writev, write through a dup, send, sendto, sendmsg, sendmmsg, sendfile
 * from a file it then removes, splice from a pipe. A child reads them all.
 * Both print the count and an FNV-1a 64 hash of the stream, which
 * `uprr replay --dump-sent` must reproduce. Usage: send_kinds DIR.
 */
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "progs.h"

static uint64_t hash = 0xcbf29ce484222325ull, total;

static void
account(const void *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hash = (hash ^ ((const uint8_t *)buf)[i]) * 0x100000001b3ull;
	total += n;
}

/* check a send of @n bytes at @buf, or of @want if @buf is NULL (the
 * caller accounted for them) */
static void
sent(const char *what, ssize_t r, const void *buf, size_t want)
{
	if (r != (ssize_t)want)
		die("send_kinds: %s sent %zd of %zu: %s", what, r, want, strerror(errno));
	if (buf)
		account(buf, want);
	say("send_kinds: %s sent %zu\n", what, want);
}

int
main(int argc, char **argv)
{
	char a[64], b[64], c[64], path[4096], buf[4096];
	unsigned seed;
	int sv[2], p[2], fd;
	ssize_t r;
	pid_t pid;

	if (argc != 2)
		die("usage: send_kinds DIR");
	seed = (unsigned)random_seed();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("send_kinds: socketpair: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("send_kinds: fork: %s", strerror(errno));
	if (pid == 0) {
		close(sv[0]);
		while ((r = read(sv[1], buf, sizeof(buf))) > 0)
			account(buf, (size_t)r);
		say("send_kinds: child received %llu bytes, fnv %016llx\n",
		    (unsigned long long)total, (unsigned long long)hash);
		_exit(r < 0);
	}
	close(sv[1]);
	snprintf(a, sizeof(a), "write %08x\n", seed);
	sent("write", write(sv[0], a, strlen(a)), a, strlen(a));
	snprintf(a, sizeof(a), "writev %08x ", seed);
	snprintf(b, sizeof(b), "second ");
	snprintf(c, sizeof(c), "third\n");
	{
		struct iovec iov[3] = { { a, strlen(a) }, { b, strlen(b) }, { c, strlen(c) } };

		r = writev(sv[0], iov, 3);
		for (int i = 0; i < 3 && r > 0; i++)
			account(iov[i].iov_base, iov[i].iov_len);
		sent("writev", r, NULL, strlen(a) + strlen(b) + strlen(c));
	}
	fd = dup(sv[0]);
	snprintf(a, sizeof(a), "write through a dup %08x\n", seed);
	sent("write(dup)", write(fd, a, strlen(a)), a, strlen(a));
	close(fd);
	snprintf(a, sizeof(a), "send %08x\n", seed);
	sent("send", send(sv[0], a, strlen(a), 0), a, strlen(a));
	snprintf(a, sizeof(a), "sendto %08x\n", seed);
	sent("sendto", sendto(sv[0], a, strlen(a), 0, NULL, 0), a, strlen(a));
	{
		struct iovec iov[2] = { { a, 0 }, { b, 0 } };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
		struct mmsghdr mm[2] = { { .msg_hdr = { .msg_iov = &iov[0], .msg_iovlen = 1 } },
					 { .msg_hdr = { .msg_iov = &iov[1], .msg_iovlen = 1 } } };

		snprintf(a, sizeof(a), "sendmsg %08x ", seed);
		snprintf(b, sizeof(b), "two parts\n");
		iov[0].iov_len = strlen(a), iov[1].iov_len = strlen(b);
		r = sendmsg(sv[0], &mh, 0);
		account(a, strlen(a)), account(b, strlen(b));
		sent("sendmsg", r, NULL, strlen(a) + strlen(b));
		snprintf(a, sizeof(a), "sendmmsg one %08x\n", seed);
		snprintf(b, sizeof(b), "sendmmsg two\n");
		iov[0].iov_len = strlen(a), iov[1].iov_len = strlen(b);
		r = sendmmsg(sv[0], mm, 2, 0);
		if (r != 2 || mm[0].msg_len != strlen(a) || mm[1].msg_len != strlen(b))
			die("send_kinds: sendmmsg returned %zd: %s", r, strerror(errno));
		account(a, strlen(a)), account(b, strlen(b));
		say("send_kinds: sendmmsg sent %u + %u\n", mm[0].msg_len, mm[1].msg_len);
	}
	/* sendfile from a file gone by the time of replay */
	snprintf(path, sizeof(path), "%s/send_kinds.%d", argv[1], getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die("send_kinds: %s: %s", path, strerror(errno));
	for (int i = 0; i < 100; i++) {
		int n = snprintf(buf, sizeof(buf), "sendfile line %d %08x\n", i, seed);

		if (write(fd, buf, (size_t)n) != n)
			die("send_kinds: write %s: %s", path, strerror(errno));
	}
	{
		off_t size = lseek(fd, 0, SEEK_END), off = 0;
		char *copy = malloc((size_t)size);

		if (!copy || pread(fd, copy, (size_t)size, 0) != size)
			die("send_kinds: read %s", path);
		account(copy, (size_t)size);
		free(copy);
		sent("sendfile", sendfile(sv[0], fd, &off, (size_t)size), NULL, (size_t)size);
	}
	unlink(path);
	close(fd);
	/* splice from a pipe to the socket */
	if (pipe(p) < 0)
		die("send_kinds: pipe: %s", strerror(errno));
	snprintf(a, sizeof(a), "spliced %08x\n", seed);
	if (write(p[1], a, strlen(a)) != (ssize_t)strlen(a))
		die("send_kinds: write to the pipe: %s", strerror(errno));
	account(a, strlen(a));
	sent("splice", splice(p[0], NULL, sv[0], NULL, sizeof(a), 0), NULL, strlen(a));
	close(sv[0]);
	say("send_kinds: parent sent %llu bytes, fnv %016llx\n", (unsigned long long)total,
	    (unsigned long long)hash);
	if (waitpid(pid, NULL, 0) != pid)
		die("send_kinds: waitpid: %s", strerror(errno));
	return 0;
}
