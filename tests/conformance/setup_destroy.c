/*
 * Conformance: io_setup and io_destroy, one line per rule, "rule=result". The same
 * binary runs natively on Linux (the oracle) and under the test bed; the outputs must
 * be identical but for the differences listed in the README.
 * Results are return values, or -errno for failed calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/aio_abi.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conformance.h"

static long setup(unsigned nr, aio_context_t *ctxp) { return r(syscall(SYS_io_setup, nr, ctxp)); }
static long destroy(aio_context_t ctx) { return r(syscall(SYS_io_destroy, ctx)); }

struct aio_ring_hdr { unsigned id, nr, head, tail, magic, compat, incompat, header_length; };

static aio_context_t shared_ctx;
/* What a vfork child's call returned: it writes its parent's memory. */
static volatile long vfork_child_result;
static void *destroyer(void *arg) { (void)arg; return (void *)destroy(shared_ctx); }

static int mapped(void *p)
{
	unsigned char v;
	return mincore(p, 4096, &v) == 0;
}

int main(void)
{
	aio_context_t ctx = 0;

	/* Argument checks, in Linux's order. */
	SHOW("setup_kernel_ctxp_nr0", setup(0, (aio_context_t *)0xffffffff80001000UL));
	SHOW("setup_null_ctxp", setup(1, NULL));
	SHOW("setup_nr0", setup(0, &ctx));
	SHOW("setup_nr_minus1000", setup(-1000, &ctx));
	ctx = 1;
	SHOW("setup_ctx_not_zero", setup(1, &ctx));
	ctx = 0;
	SHOW("setup_nr_4194305", setup(4194305, &ctx));
	SHOW("setup_nr_4194304", setup(4194304, &ctx));
	SHOW("setup_nr_65537", setup(65537, &ctx));

	/* A context and its ring. */
	SHOW("setup_1", setup(1, &ctx));
	SHOW("ctx_page_aligned", ctx != 0 && ctx % 4096 == 0);
	struct aio_ring_hdr *ring = (struct aio_ring_hdr *)ctx;
	SHOW("ring_nr_at_least_2", ring->nr >= 2);
	SHOW("ring_head", ring->head);
	SHOW("ring_tail", ring->tail);
	printf("ring_magic=%#x\n", ring->magic);
	SHOW("ring_compat_features", ring->compat);
	SHOW("ring_incompat_features", ring->incompat);
	SHOW("ring_header_length", ring->header_length);
	SHOW("destroy", destroy(ctx));
	SHOW("ring_unmapped_after_destroy", !mapped((void *)ctx));
	SHOW("destroy_again", destroy(ctx));
	SHOW("destroy_0", destroy(0));
	SHOW("destroy_bogus", destroy(12345));

	/* Ring sizes for a few requests (they depend on the CPU count; compared as nr >= request). */
	unsigned sizes[] = { 32, 128, 1024, 65536 };
	for (unsigned i = 0; i < 4; i++) {
		char name[64];
		ctx = 0;
		long v = setup(sizes[i], &ctx);
		snprintf(name, sizeof name, "setup_%u", sizes[i]);
		SHOW(name, v);
		snprintf(name, sizeof name, "ring_nr_%u_exceeds_request", sizes[i]);
		SHOW(name, v == 0 && ((struct aio_ring_hdr *)ctx)->nr > sizes[i]);
		if (v == 0)
			destroy(ctx);
	}

	/* The sum of all contexts' sizes is bounded by aio-max-nr (65536). */
	aio_context_t a = 0, b = 0;
	SHOW("setup_40000", setup(40000, &a));
	SHOW("setup_40000_more", setup(40000, &b));
	SHOW("destroy_40000", destroy(a));
	SHOW("setup_40000_after", setup(40000, &b));
	SHOW("destroy_40000_after", destroy(b));

	/* *ctxp readable but not writable: the id cannot be written back. */
	aio_context_t *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	SHOW("setup_readonly_ctxp", setup(1, ro));
	ctx = 0;
	/* Nothing of the failed context is left counted: the whole limit is available. */
	SHOW("setup_after_readonly", setup(65536, &ctx));
	destroy(ctx);

	/* Threads share contexts; a fork child does not get them. */
	ctx = 0;
	setup(1, &ctx);
	shared_ctx = ctx;
	pthread_t t;
	void *res;
	pthread_create(&t, NULL, destroyer, NULL);
	pthread_join(t, &res);
	SHOW("destroy_from_other_thread", (long)res);
	ctx = 0;
	setup(1, &ctx);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		SHOW("child_destroy_parent_ctx", destroy(ctx));
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	SHOW("parent_destroy_after_fork", destroy(ctx));

	/* A ring moved with mremap: Linux follows it, and the context's id changes. */
	ctx = 0;
	setup(1, &ctx);
	struct aio_ring_hdr *mring = (struct aio_ring_hdr *)ctx;
	size_t ring_len = (sizeof(*mring) + (size_t)mring->nr * sizeof(struct io_event) + 4095) & ~(size_t)4095;
	/* A free place for it, which MREMAP_FIXED unmaps first. */
	void *place = mmap(NULL, ring_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *moved = mremap((void *)ctx, ring_len, ring_len, MREMAP_MAYMOVE | MREMAP_FIXED, place);
	long moved_destroy = moved == MAP_FAILED ? -errno : destroy((aio_context_t)moved);
	SHOW("ring_mremap", moved_destroy);
	if (moved_destroy != 0)
		destroy(ctx);

	/*
	 * A vfork child runs in its parent's memory until it execs or exits. On Linux the
	 * contexts belong to that memory, so the child can use them; a child that execs
	 * leaves them to the parent.
	 */
	ctx = 0;
	setup(1, &ctx);
	pid = vfork();
	if (pid == 0) {
		struct timespec zero = { 0, 0 };
		vfork_child_result = r(syscall(SYS_io_getevents, ctx, 0, 1, NULL, &zero));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	SHOW("vfork_child_getevents_parent_ctx", vfork_child_result);
	pid = vfork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	SHOW("vfork_child_exec_status", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	SHOW("parent_destroy_after_vfork_exec", destroy(ctx));
	return 0;
}
