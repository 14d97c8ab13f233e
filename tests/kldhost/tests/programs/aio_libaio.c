/*
 * Linux AIO through libaio (Debian's libaio1), as applications use it: a context, one
 * buffered write, its event, the context released. Prints "step=result".
 */
#include <libaio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	struct timespec ts = { 5, 0 };
	char path[] = "/tmp/linuxaio-libaio-XXXXXX", buf[512];
	int fd = mkstemp(path);

	unlink(path);
	memset(buf, 'x', sizeof buf);
	int r = io_queue_init(8, &ctx);
	printf("io_queue_init=%d\n", r);
	if (r != 0)
		return 0;
	io_prep_pwrite(&cb, fd, buf, sizeof buf, 0);
	printf("io_submit=%d\n", io_submit(ctx, 1, cbs));
	printf("io_getevents=%d\n", io_getevents(ctx, 1, 1, &ev, &ts));
	printf("res=%ld\n", (long)ev.res);
	printf("io_queue_release=%d\n", io_queue_release(ctx));
	return 0;
}
