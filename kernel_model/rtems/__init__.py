"""The RTEMS branch's world: stack records and shares, the page-aligned allocator, the
protected switch path, the per-CPU TLB, and the CPU model."""
