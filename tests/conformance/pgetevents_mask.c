/*
 * Conformance: io_pgetevents with a signal mask, one line per rule, "rule=result"
 * (return values, or -errno for failed calls, or 0/1 facts). The same binary runs
 * natively on Linux (the oracle) and under the test bed; the outputs must be identical
 * but for the differences listed in differences.txt.
 *
 * What is checked: the mask's size and address are validated; the mask is in force
 * while the call waits (a signal it blocks neither interrupts nor is delivered; a
 * signal it lets through interrupts with EINTR and its handler runs), the thread's own
 * mask is back when the call returns, whatever the call's result; and Linux's signal
 * numbers are the ones meant (SIGUSR1/SIGUSR2 and a real-time signal, whose numbers
 * differ on FreeBSD).
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
#include <time.h>
#include <unistd.h>

#include "conformance.h"

#define BIT(sig) (1ULL << ((sig) - 1))
#define SIG_RT 40 /* a real-time signal: Linux 40 is FreeBSD's SIGRTMIN + 8 */

static aio_context_t ctx;
static volatile sig_atomic_t got[65];
static void on_signal(int sig) { got[sig]++; }

/* io_pgetevents with the Linux mask `m` (8 bytes) and a timeout of `ms` (-1: none). */
static long pget(aio_context_t c, long min, long nr, struct io_event *ev, long ms, const uint64_t *m, size_t size)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	struct { const void *sigmask; size_t size; } usig = { m, size };
	return r(syscall(SYS_io_pgetevents, c, min, nr, ev, ms < 0 ? NULL : &ts, &usig));
}

static int blocked(int sig)
{
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	return sigismember(&now, sig);
}

static void set_blocked(int sig, int on)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(on ? SIG_BLOCK : SIG_UNBLOCK, &s, NULL);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	for (int s = 1; s < 65; s++)
		if (s != SIGKILL && s != SIGSTOP && s != SIGSYS && s != SIGSEGV && s != SIGBUS)
			sigaction(s, &sa, NULL);
	if (r(syscall(SYS_io_setup, 8, &ctx)) != 0) {
		perror("io_setup");
		return 1;
	}
	struct io_event ev[4];
	uint64_t m;

	/* The mask's size and address. */
	m = BIT(SIGUSR1);
	SHOW("mask_size_16", pget(ctx, 0, 1, ev, 0, &m, 16));
	SHOW("mask_size_0", pget(ctx, 0, 1, ev, 0, &m, 0));
	SHOW("mask_fault", pget(ctx, 0, 1, ev, 0, (const uint64_t *)8, 8));
	SHOW("mask_fault_left_mask_alone", blocked(SIGUSR1));

	/* The mask is installed before the context is looked up, and taken back after. */
	SHOW("mask_bad_ctx", pget(12345, 0, 1, ev, 0, &m, 8));
	SHOW("mask_back_after_error", blocked(SIGUSR1));
	SHOW("mask_poll", pget(ctx, 0, 1, ev, 0, &m, 8));
	SHOW("mask_back_after_poll", blocked(SIGUSR1));

	/* A pending signal the call's mask blocks: the wait times out, nothing delivered. */
	set_blocked(SIGUSR1, 1);
	raise(SIGUSR1);
	m = BIT(SIGUSR1);
	SHOW("blocked_pending_times_out", pget(ctx, 1, 1, ev, 30, &m, 8));
	SHOW("blocked_pending_not_delivered", got[SIGUSR1]);
	/* The same with every signal blocked but SIGUSR2 (a wrong numbering lets SIGUSR1 in). */
	m = ~BIT(SIGUSR2);
	SHOW("only_usr2_times_out", pget(ctx, 1, 1, ev, 30, &m, 8));
	SHOW("only_usr2_not_delivered", got[SIGUSR1]);

	/* A pending signal the call's mask lets through: EINTR, its handler runs, and the
	 * thread's own mask (which blocks it) is back afterwards. */
	m = 0;
	SHOW("unblocked_pending_eintr", pget(ctx, 1, 1, ev, 2000, &m, 8));
	SHOW("unblocked_pending_delivered", got[SIGUSR1]);
	SHOW("mask_back_after_eintr", blocked(SIGUSR1));
	m = ~BIT(SIGUSR1);
	raise(SIGUSR1);
	SHOW("only_usr1_eintr", pget(ctx, 1, 1, ev, 2000, &m, 8));
	SHOW("only_usr1_delivered", got[SIGUSR1]);
	SHOW("mask_back_after_only_usr1", blocked(SIGUSR1));

	/* A real-time signal, by its Linux number. */
	set_blocked(SIG_RT, 1);
	raise(SIG_RT);
	m = BIT(SIG_RT);
	SHOW("rt_blocked_times_out", pget(ctx, 1, 1, ev, 30, &m, 8));
	m = ~BIT(SIG_RT);
	SHOW("rt_unblocked_eintr", pget(ctx, 1, 1, ev, 2000, &m, 8));
	SHOW("rt_delivered", got[SIG_RT]);
	SHOW("rt_mask_back", blocked(SIG_RT));

	/* Events ready and a signal the mask lets through: the events, and the signal. */
	char path[] = "/tmp/linuxaio-pget-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	char buf[8] = "abcdefg";
	struct iocb c;
	memset(&c, 0, sizeof c);
	c.aio_lio_opcode = IOCB_CMD_PWRITE;
	c.aio_fildes = fd;
	c.aio_buf = (uintptr_t)buf;
	c.aio_nbytes = sizeof buf;
	struct iocb *v[1] = { &c };
	SHOW("submit", r(syscall(SYS_io_submit, ctx, 1, v)));
	/* A buffered write has completed inside io_submit: its event is ready. */
	raise(SIGUSR1);
	m = 0;
	SHOW("events_and_signal", pget(ctx, 1, 4, ev, 2000, &m, 8));
	SHOW("events_and_signal_delivered", got[SIGUSR1]);
	SHOW("mask_back_after_events", blocked(SIGUSR1));

	/* A signal that arrives during the wait, blocked by the call's mask only: it is
	 * delivered once the call has returned and the thread's mask is back. */
	set_blocked(SIGUSR1, 0);
	struct itimerval it = { { 0, 0 }, { 0, 30000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	m = BIT(SIGALRM);
	SHOW("timer_blocked_times_out", pget(ctx, 1, 1, ev, 150, &m, 8));
	SHOW("timer_delivered_after_return", got[SIGALRM]);
	/* And one the call's mask lets through, arriving during the wait: EINTR. */
	setitimer(ITIMER_REAL, &it, NULL);
	m = 0;
	SHOW("timer_unblocked_eintr", pget(ctx, 1, 1, ev, 2000, &m, 8));
	SHOW("timer_unblocked_delivered", got[SIGALRM]);

	SHOW("destroy", r(syscall(SYS_io_destroy, ctx)));
	close(fd);
	return 0;
}
