/*
 * The FreeBSD kernel interfaces linuxaio uses, as a kernel module (KLD) sees them.
 * Compiled with -D_KERNEL -DKLD_MODULE, so that macros such as mtx_lock expand to
 * the function versions meant for modules.
 */
#include <sys/param.h>
#include <sys/systm.h>
#include <sys/errno.h>
#include <sys/kernel.h>
#include <sys/module.h>
#include <sys/linker.h>
#include <sys/lock.h>
#include <sys/mutex.h>
#include <sys/sx.h>
#include <sys/proc.h>
#include <sys/sysent.h>
#include <sys/sysproto.h>
#include <sys/malloc.h>
#include <sys/priority.h>
#include <sys/signal.h>
#include <sys/aio.h>
#include <sys/sysctl.h>
#include <sys/callout.h>
#include <sys/mman.h>
#include <sys/fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/eventhandler.h>
#include <sys/syscallsubr.h>
#include <sys/smp.h>
#include <sys/imgact.h>
