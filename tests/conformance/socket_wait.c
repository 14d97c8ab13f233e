/*
 * Conformance: a read on a socket with no data, submitted without O_DIRECT. Linux does
 * such a read inside io_submit, which waits for data; a signal ends that wait. The
 * module waits in io_submit too, and a signal must end its wait as well (a thread must
 * never be stuck in io_submit, SIGKILL included), and io_destroy must not wait for a
 * read that Linux would have ended (it cancels it). One line per rule, "rule=result".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"



int main(void)
{
	aio_context_t ctx = 0;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || syscall(SYS_io_setup, 4, &ctx) != 0) {
		perror("setup");
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);

	char buf[16] = { 0 };
	struct iocb c;
	memset(&c, 0, sizeof c);
	c.aio_lio_opcode = IOCB_CMD_PREAD;
	c.aio_fildes = sv[0];
	c.aio_buf = (uintptr_t)buf;
	c.aio_nbytes = sizeof buf;
	struct iocb *v[1] = { &c };
	struct itimerval it = { { 0, 0 }, { 0, 200000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	SHOW("socket_read_submitted", r(syscall(SYS_io_submit, ctx, 1, v)));
	long ms = ms_since(&t0);
	SHOW("submit_waited_for_the_signal", ms >= 150);
	SHOW("submit_ended_at_the_signal", ms < 5000);

	/* Data arrives after the signal: Linux's read has ended (-EINTR); a read still in
	 * flight takes the data. */
	SHOW("write", write(sv[1], "hello", 5));
	struct io_event ev;
	struct timespec two = { 2, 0 };
	SHOW("getevents", r(syscall(SYS_io_getevents, ctx, 1, 1, &ev, &two)));
	SHOW("socket_read_event_res", (long)ev.res);

	/* Interrupted again, and no data this time: io_destroy must not wait for it. */
	setitimer(ITIMER_REAL, &it, NULL);
	SHOW("second_read_submitted", r(syscall(SYS_io_submit, ctx, 1, v)));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	SHOW("destroy_with_an_interrupted_read", r(syscall(SYS_io_destroy, ctx)));
	SHOW("destroy_returned_promptly", ms_since(&t0) < 5000);
	return 0;
}
