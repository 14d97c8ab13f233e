/*
 * Makes each Linux AIO system call once, with raw syscall(2), and prints what it got:
 * "name=<return value> errno=<errno>". Natively on Linux io_setup succeeds; under the
 * test bed the answers come from the loaded module (or the stock stubs).
 */
#include <errno.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void show(const char *name, long r)
{
	printf("%s=%ld errno=%d\n", name, r, r < 0 ? errno : 0);
}

int main(void)
{
	aio_context_t ctx = 0;
	struct io_event ev[1];
	struct iocb cb, *cbs[1] = { &cb };
	struct timespec ts = { 0, 0 };

	memset(&cb, 0, sizeof(cb));
	show("io_setup", syscall(SYS_io_setup, 8, &ctx));
	show("io_submit", syscall(SYS_io_submit, ctx, 0, cbs));
	show("io_getevents", syscall(SYS_io_getevents, ctx, 0, 1, ev, &ts));
	show("io_cancel", syscall(SYS_io_cancel, ctx, &cb, ev));
	show("io_pgetevents", syscall(SYS_io_pgetevents, ctx, 0, 1, ev, &ts, NULL));
	show("io_destroy", syscall(SYS_io_destroy, ctx));
	return 0;
}
