/* SPDX-License-Identifier: MIT */
#include "common/util.h"
#include "common/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>

int
util_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t
util_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int
util_load_file(int dst_fd, const char *path)
{
	off_t done = 0;
	struct stat st;
	ssize_t n = 1;
	int src, r = 0;

	src = open(path, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return -errno;
	if (fstat(src, &st) < 0 || ftruncate(dst_fd, st.st_size) < 0) {
		r = -errno;
		goto out;
	}
	while (done < st.st_size) {
		off_t data = lseek(src, done, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			data = st.st_size; /* a hole to the end */
		else if (data < 0)
			data = done; /* no SEEK_DATA: all data */
		if (data > done &&
		    fallocate(dst_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, done, data - done) < 0) {
			r = -errno;
			goto out;
		}
		if (data >= st.st_size)
			break;
		hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0 || hole > st.st_size)
			hole = st.st_size;
		done = data;
		if (lseek(dst_fd, data, SEEK_SET) < 0) {
			r = -errno;
			goto out;
		}
		while (done < hole && (n = sendfile(dst_fd, src, &done, (size_t)(hole - done))) > 0)
			;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto out;
		}
	}
out:
	close(src);
	return r;
}

int
util_read_file(const char *path, char **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t cap = 0, len = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

uint64_t
util_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int
util_grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t n = MAX(MAX(need, *cap * 2), (size_t)16);
	void *p;

	if (need <= *cap)
		return 0;
	if (n > SIZE_MAX / size)
		return -ENOMEM;
	p = realloc(*arr, n * size);
	if (!p)
		return -ENOMEM;
	/* zeroed: arrays indexed by an id (tp/output.c's shown[id]) read
	 * the slots they never set as 0 */
	memset((char *)p + *cap * size, 0, (n - *cap) * size);
	*arr = p;
	*cap = n;
	return 0;
}

int
util_thread_start(pthread_t *ret_thread, void *(*fn)(void *), void *arg, int avoid_cpu)
{
	pthread_attr_t attr;
	sigset_t all, old;
	cpu_set_t set;
	int r;

	r = pthread_attr_init(&attr);
	if (r)
		return -r;
	if (avoid_cpu >= 0 && avoid_cpu < CPU_SETSIZE &&
	    sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 1) {
		CPU_CLR(avoid_cpu, &set);
		if (CPU_COUNT(&set) > 0)
			(void)pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(ret_thread, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return -r;
}
