/*
 * Writes with and without RWF_DSYNC / RWF_SYNC, and a read with both, each waited for;
 * prints each event's res. Used by command.rs with a failing model kern_fsync.
 */
#define _GNU_SOURCE
#include <linux/aio_abi.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static aio_context_t ctx;

/* Another thread waiting for the context's events, as a program's reaper does. */
static void *reaper(void *arg)
{
	struct io_event *ev = arg;
	if (syscall(SYS_io_getevents, ctx, 1, 1, ev, NULL) != 1)
		ev->res = -4000;
	return NULL;
}

static long run(int op, int fd, char *buf, long n, long off, int rw_flags)
{
	struct iocb c, *v[1] = { &c };
	memset(&c, 0, sizeof c);
	c.aio_lio_opcode = op;
	c.aio_fildes = fd;
	c.aio_buf = (uintptr_t)buf;
	c.aio_nbytes = n;
	c.aio_offset = off;
	c.aio_rw_flags = rw_flags;
	long s = syscall(SYS_io_submit, ctx, 1, v);
	if (s != 1)
		return s < 0 ? -1000 : -2000;
	struct io_event ev;
	struct timespec ts = { 5, 0 };
	if (syscall(SYS_io_getevents, ctx, 1, 1, &ev, &ts) != 1)
		return -3000;
	return (long)ev.res;
}

int main(void)
{
	char path[] = "/tmp/kldhost-rwf-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	char buf[64];
	memset(buf, 'x', sizeof buf);
	if (syscall(SYS_io_setup, 4, &ctx) != 0)
		return 1;
	printf("plain=%ld\n", run(IOCB_CMD_PWRITE, fd, buf, 16, 0, 0));
	printf("dsync=%ld\n", run(IOCB_CMD_PWRITE, fd, buf, 16, 16, 2));
	printf("sync=%ld\n", run(IOCB_CMD_PWRITE, fd, buf, 16, 32, 4));
	printf("read=%ld\n", run(IOCB_CMD_PREAD, fd, buf, 64, 0, 6));
	/*
	 * The event of a synced write must not reach a thread that is already waiting
	 * before the sync is done: count what such a reaper saw (written, failed sync).
	 */
	int written = 0, failed = 0;
	for (int k = 0; k < 20; k++) {
		struct io_event ev;
		pthread_t t;
		pthread_create(&t, NULL, reaper, &ev);
		usleep(2000);
		struct iocb c, *v[1] = { &c };
		memset(&c, 0, sizeof c);
		c.aio_lio_opcode = IOCB_CMD_PWRITE;
		c.aio_fildes = fd;
		c.aio_buf = (uintptr_t)buf;
		c.aio_nbytes = 16;
		c.aio_offset = 64 + 16 * k;
		c.aio_rw_flags = 2;
		syscall(SYS_io_submit, ctx, 1, v);
		pthread_join(t, NULL);
		written += ev.res == 16;
		failed += ev.res == -5;
	}
	printf("reaper=%d/%d\n", written, failed);
	syscall(SYS_io_destroy, ctx);
	return 0;
}
