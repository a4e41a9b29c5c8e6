"""What the run's processes share: the segment, named objects, locks, the mailbox, the control
block, and the C library on the hot paths."""
