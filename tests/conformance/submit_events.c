/*
 * Conformance: io_submit, io_getevents, io_pgetevents (without a signal mask) and
 * io_cancel on regular files, one line per rule, "rule=result" (return values, or
 * -errno for failed calls). The same binary runs natively on Linux (the oracle) and
 * under the test bed; the outputs must be identical but for the differences listed in
 * differences.txt. IOCB_CMD_POLL, IOCB_FLAG_RESFD and signal masks are left to their
 * own programs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

static long submit(aio_context_t c, long nr, struct iocb **v) { return r(syscall(SYS_io_submit, c, nr, v)); }
static long getev(aio_context_t c, long min, long nr, struct io_event *e, struct timespec *t)
{
	return r(syscall(SYS_io_getevents, c, min, nr, e, t));
}

static aio_context_t ctx;

static struct iocb cb(int op, int fd, void *buf, uint64_t n, int64_t off)
{
	struct iocb c;
	memset(&c, 0, sizeof c);
	c.aio_lio_opcode = op;
	c.aio_fildes = fd;
	c.aio_buf = (uintptr_t)buf;
	c.aio_nbytes = n;
	c.aio_offset = off;
	c.aio_data = 0x1234;
	return c;
}

/* Submits one iocb; returns io_submit's result. */
static long one(struct iocb *c)
{
	struct iocb *v[1] = { c };
	return submit(ctx, 1, v);
}

/* Submits one iocb and waits for its event (5 s at most); returns res, or the error. */
static long sync_one(struct iocb *c, struct io_event *ev)
{
	long s = one(c);
	if (s != 1)
		return s;
	struct timespec ts = { 5, 0 };
	long g = getev(ctx, 1, 1, ev, &ts);
	return g == 1 ? (long)ev->res : -1000 + g;
}



int main(void)
{
	char path[] = "/tmp/linuxaio-conf-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	char rdpath[] = "/tmp/linuxaio-conf-ro-XXXXXX";
	int tmp = mkstemp(rdpath);
	write(tmp, "0123456789", 10);
	close(tmp);
	int rofd = open(rdpath, O_RDONLY);
	int wofd = open(rdpath, O_WRONLY);
	unlink(rdpath);
	struct io_event ev[4];
	struct timespec zero = { 0, 0 };
	char buf[4096], back[4096];
	memset(buf, 'a', sizeof buf);

	syscall(SYS_io_setup, 8, &ctx);

	/* io_submit's argument checks. */
	SHOW("submit_nr_negative_bad_ctx", submit(0, -1, NULL));
	SHOW("submit_bad_ctx", submit(12345, 1, NULL));
	SHOW("submit_nr0", submit(ctx, 0, NULL));
	SHOW("submit_null_array", submit(ctx, 1, NULL));
	struct iocb *nulls[1] = { NULL };
	SHOW("submit_null_iocb", submit(ctx, 1, nulls));
	struct iocb *kern[1] = { (struct iocb *)0xffffffff80001000UL };
	SHOW("submit_kernel_iocb", submit(ctx, 1, kern));

	/* A buffered write: its event is ready when io_submit returns (min_nr 0, no wait). */
	struct iocb w = cb(IOCB_CMD_PWRITE, fd, buf, 512, 0);
	SHOW("write_submit", one(&w));
	long n = getev(ctx, 0, 4, ev, &zero);
	SHOW("write_event_at_once", n);
	SHOW("write_res", n == 1 ? ev[0].res : -1);
	SHOW("write_res2", n == 1 ? ev[0].res2 : -1);
	SHOW("write_data", n == 1 ? (long)ev[0].data : -1);
	SHOW("write_obj_is_iocb", n == 1 && ev[0].obj == (uintptr_t)&w);
	SHOW("write_key_cleared", w.aio_key);
	struct iocb rd = cb(IOCB_CMD_PREAD, fd, back, 512, 0);
	SHOW("read_res", sync_one(&rd, ev));
	SHOW("read_data_matches", memcmp(back, buf, 512) == 0);
	struct iocb past = cb(IOCB_CMD_PREAD, fd, back, 512, 4096);
	SHOW("read_past_eof_res", sync_one(&past, ev));
	struct iocb shortr = cb(IOCB_CMD_PREAD, fd, back, 512, 400);
	SHOW("read_short_res", sync_one(&shortr, ev));

	/* Vectored. */
	char a[3] = "abc", b[5] = "defgh", va[3], vb[5];
	struct iovec wv[2] = { { a, 3 }, { b, 5 } }, rv[2] = { { va, 3 }, { vb, 5 } };
	struct iocb pwv = cb(IOCB_CMD_PWRITEV, fd, wv, 2, 1000);
	SHOW("pwritev_res", sync_one(&pwv, ev));
	struct iocb prv = cb(IOCB_CMD_PREADV, fd, rv, 2, 1000);
	SHOW("preadv_res", sync_one(&prv, ev));
	SHOW("preadv_data_matches", memcmp(va, "abc", 3) == 0 && memcmp(vb, "defgh", 5) == 0);
	struct iocb toomany = cb(IOCB_CMD_PREADV, fd, rv, 1025, 0);
	SHOW("preadv_1025_iovecs", one(&toomany));
	struct iocb badvec = cb(IOCB_CMD_PREADV, fd, (void *)0xffffffff80001000UL, 1, 0);
	SHOW("preadv_kernel_iovecs", one(&badvec));

	/* Per-iocb checks at submit time. */
	struct iocb c;
	c = cb(IOCB_CMD_PREAD, wofd, back, 4, 0);
	SHOW("read_on_write_only_fd", one(&c));
	c = cb(IOCB_CMD_PWRITE, rofd, buf, 4, 0);
	SHOW("write_on_read_only_fd", one(&c));
	c = cb(IOCB_CMD_PREAD, 9999, back, 4, 0);
	SHOW("bad_fd", one(&c));
	c = cb(IOCB_CMD_PREAD, fd, back, 4, -1);
	SHOW("negative_offset", one(&c));
	c = cb(IOCB_CMD_PREAD, fd, back, 4, 0);
	c.aio_reserved2 = 1;
	SHOW("reserved2_set", one(&c));
	c = cb(IOCB_CMD_PREAD, fd, back, (uint64_t)-1, 0);
	SHOW("nbytes_negative", one(&c));
	c = cb(6, fd, back, 4, 0);
	SHOW("opcode_noop", one(&c));
	c = cb(4, fd, back, 4, 0);
	SHOW("opcode_4", one(&c));
	c = cb(42, fd, back, 4, 0);
	SHOW("opcode_42", one(&c));
	c = cb(IOCB_CMD_PREAD, fd, back, 4, 0);
	c.aio_rw_flags = 0x8000;
	SHOW("rw_flags_unknown", one(&c));

	/*
	 * The known RWF_ bits, on a file of their own: RWF_DSYNC (2) and RWF_SYNC (4) make
	 * a write durable before its event, reads ignore them; RWF_APPEND (0x10) writes at
	 * the end of the file; RWF_NOWAIT (8) is refused by files that cannot honour it.
	 */
	char rwfpath[] = "/tmp/linuxaio-conf-rwf-XXXXXX";
	int rwfd = mkstemp(rwfpath);
	unlink(rwfpath);
	c = cb(IOCB_CMD_PWRITE, rwfd, buf, 16, 0);
	c.aio_rw_flags = 0x2;
	SHOW("rwf_dsync_write_res", sync_one(&c, ev));
	struct iovec sv[1] = { { buf, 16 } };
	c = cb(IOCB_CMD_PWRITEV, rwfd, sv, 1, 16);
	c.aio_rw_flags = 0x4;
	SHOW("rwf_sync_writev_res", sync_one(&c, ev));
	c = cb(IOCB_CMD_PREAD, rwfd, back, 64, 0);
	c.aio_rw_flags = 0x2 | 0x4;
	SHOW("rwf_sync_read_res", sync_one(&c, ev));
	c = cb(IOCB_CMD_PWRITE, rwfd, buf, 16, 1 << 20);
	c.aio_rw_flags = 0x2 | 0x1;
	SHOW("rwf_dsync_hipri_write_res", sync_one(&c, ev));
	c = cb(IOCB_CMD_PWRITE, rwfd, buf, 4, 0);
	c.aio_rw_flags = 0x10;
	SHOW("rwf_append_res", sync_one(&c, ev));
	c = cb(IOCB_CMD_PREAD, rwfd, back, 4, 0);
	c.aio_rw_flags = 0x8;
	long nowait = one(&c);
	SHOW("rwf_nowait_submit", nowait);
	if (nowait == 1) {
		/* Where the file honours it, the read's event (data or EAGAIN) is collected. */
		struct timespec ts = { 5, 0 };
		getev(ctx, 1, 1, ev, &ts);
	}
	close(rwfd);
	c = cb(IOCB_CMD_PREAD, fd, (void *)0xffffffff80001000UL, 4, 0);
	SHOW("kernel_buffer", one(&c));
	c = cb(IOCB_CMD_PWRITE, fd, NULL, 4, 0);
	SHOW("null_buffer_res", sync_one(&c, ev));
	c = cb(IOCB_CMD_PREAD, fd, back, 4, 0);
	c.aio_reqprio = 12345;
	SHOW("reqprio_without_flag_res", sync_one(&c, ev));

	/* Syncs: arguments must be zero; the event comes later. */
	c = cb(IOCB_CMD_FSYNC, fd, buf, 0, 0);
	SHOW("fsync_with_buf", one(&c));
	c = cb(IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	SHOW("fsync_res", sync_one(&c, ev));
	c = cb(IOCB_CMD_FDSYNC, fd, NULL, 0, 0);
	SHOW("fdatasync_res", sync_one(&c, ev));

	/* A partial submission: the second iocb is bad. */
	struct iocb good = cb(IOCB_CMD_PREAD, fd, back, 8, 0), bad = cb(IOCB_CMD_PREAD, fd, back, 8, -1);
	struct iocb *two[2] = { &good, &bad };
	SHOW("partial_submit", submit(ctx, 2, two));
	SHOW("partial_event", getev(ctx, 1, 4, ev, &zero));

	/* io_getevents' argument checks and waiting. */
	SHOW("getevents_timeout_fault", getev(ctx, 0, 1, ev, (struct timespec *)8));
	SHOW("getevents_bad_ctx", getev(12345, 0, 1, ev, &zero));
	SHOW("getevents_min_gt_nr", getev(ctx, 2, 1, ev, &zero));
	SHOW("getevents_min_negative", getev(ctx, -1, 1, ev, &zero));
	SHOW("getevents_nr0", getev(ctx, 0, 0, ev, &zero));
	SHOW("getevents_nothing_poll", getev(ctx, 1, 1, ev, &zero));
	struct timespec t0, fifty = { 0, 50000000 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	SHOW("getevents_nothing_50ms", getev(ctx, 1, 1, ev, &fifty));
	SHOW("getevents_waited_50ms", ms_since(&t0) >= 45);
	SHOW("getevents_min0_null_timeout", getev(ctx, 0, 1, ev, NULL));
	c = cb(IOCB_CMD_PREAD, fd, back, 8, 0);
	one(&c);
	SHOW("getevents_null_events", getev(ctx, 1, 1, NULL, &zero));
	SHOW("getevents_event_kept", getev(ctx, 1, 1, ev, &zero));

	/* A signal ends a wait with EINTR, even with SA_RESTART. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 0 }, { 0, 50000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	SHOW("getevents_signal", getev(ctx, 1, 1, ev, NULL));

	/* io_pgetevents without a mask. */
	struct { const void *sigmask; size_t size; } usig = { NULL, 0 };
	SHOW("pgetevents_null_usig", r(syscall(SYS_io_pgetevents, ctx, 0, 1, ev, &zero, NULL)));
	SHOW("pgetevents_null_mask", r(syscall(SYS_io_pgetevents, ctx, 0, 1, ev, &zero, &usig)));
	sigset_t mask;
	sigemptyset(&mask);
	usig.sigmask = &mask;
	usig.size = 4;
	SHOW("pgetevents_mask_size_4", r(syscall(SYS_io_pgetevents, ctx, 0, 1, ev, &zero, &usig)));
	SHOW("pgetevents_usig_fault", r(syscall(SYS_io_pgetevents, ctx, 0, 1, ev, &zero, (void *)8)));

	/* io_cancel: the key is read first; nothing but a pending poll can be cancelled. */
	SHOW("cancel_null_iocb", r(syscall(SYS_io_cancel, ctx, NULL, ev)));
	c = cb(IOCB_CMD_PREAD, fd, back, 8, 0);
	c.aio_key = 1;
	SHOW("cancel_key_set", r(syscall(SYS_io_cancel, ctx, &c, ev)));
	c.aio_key = 0;
	SHOW("cancel_bad_ctx", r(syscall(SYS_io_cancel, 12345, &c, ev)));
	SHOW("cancel_done_read", (sync_one(&c, ev), r(syscall(SYS_io_cancel, ctx, &c, ev))));

	/* A context's capacity: Linux takes more than nr_events (its ring's size, less one
	 * slot, less what per-CPU batches hold back). */
	aio_context_t small = 0;
	SHOW("setup_small", r(syscall(SYS_io_setup, 1, &small)));
	struct iocb c1 = cb(IOCB_CMD_PREAD, fd, back, 8, 0), c2 = cb(IOCB_CMD_PREAD, fd, back, 8, 0);
	struct iocb *pair[2] = { &c1, &c2 };
	SHOW("submit_beyond_nr_events", submit(small, 2, pair));
	SHOW("destroy_small", r(syscall(SYS_io_destroy, small)));

	SHOW("destroy", r(syscall(SYS_io_destroy, ctx)));
	return 0;
}
