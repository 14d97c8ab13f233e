"""vmharness: runs linuxaio.ko and its tests on a real FreeBSD guest (QEMU on Linux
hosts), and parses what comes back. See vm-harness/README.md."""
