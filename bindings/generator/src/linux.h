/* The Linux native AIO user ABI (struct iocb, struct io_event, IOCB_CMD_*, RWF_*). */
#include <linux/aio_abi.h>
#include <linux/fs.h>
