/*
 * Holds one Linux AIO context until it is killed: while it runs, kldunload linuxaio
 * must be refused with EBUSY (run.sh).
 */
#include <linux/aio_abi.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	aio_context_t ctx = 0;
	if (syscall(SYS_io_setup, 8, &ctx) != 0) {
		perror("io_setup");
		return 1;
	}
	printf("holding context %#lx\n", (unsigned long)ctx);
	fflush(stdout);
	for (;;)
		pause();
}
