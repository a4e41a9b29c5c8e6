"""The MMU as a running thread meets it: every access is checked against its PD's page table
over the whole range it touches (one C call), and a miss is a page fault sent to core's pager.

The memory behind the addresses is given (shared memory, in the testbed): a resolved fault
lets the access go on; an unresolvable one raises, and the thread is stopped by its caller.
"""

from __future__ import annotations

from collections.abc import Callable

from kernel_model.genode.status import Status
from kernel_model.page_table import Fault, PageTable, Perm


class UnresolvableFault(Exception):
    """Core's pager found no attachment for the fault: the thread stops here."""

    def __init__(self, fault: Fault):
        super().__init__(f"unresolvable {fault.access.name.lower()} fault at {fault.address:#x}")
        self.fault = fault


class Mmu:
    __slots__ = ("table", "memory", "base", "_fault", "faults")

    def __init__(
        self,
        table: PageTable,
        memory: memoryview,
        base: int,
        fault: Callable[[int, int], Status],
    ):
        """`memory[i]` is the byte at address `base + i`; `fault(address, access)` asks core."""
        self.table, self.memory, self.base, self._fault = table, memory, base, fault
        self.faults = 0  # resolved faults this thread took

    def access(self, address: int, size: int, access: Perm) -> None:
        """Let an access of `size` bytes at `address` go on, faulting as often as needed."""
        last = None
        while (f := self.table.check(address, size, access)) is not None:
            if f.address == last:  # the pager said mapped, the table disagrees: a model bug
                raise RuntimeError(f"pager resolved the fault at {f.address:#x} but did not map it")
            if self._fault(f.address, int(access)) != Status.OK:
                raise UnresolvableFault(f)
            self.faults += 1
            last = f.address

    def write(self, address: int, data: bytes) -> None:
        self.access(address, len(data), Perm.WRITE)
        i = address - self.base
        self.memory[i : i + len(data)] = data

    def read(self, address: int, size: int) -> bytes:
        self.access(address, size, Perm.READ)
        i = address - self.base
        return bytes(self.memory[i : i + size])

    def same(self, address: int, data: bytes) -> bool:
        """Read back `len(data)` bytes at `address`: are they still `data`?"""
        self.access(address, len(data), Perm.READ)
        i = address - self.base
        return self.memory[i : i + len(data)] == data
