"""testbed/ipc/tb.h, the header the C files share, against the Python side: its mailbox layout
is mailbox.py's, and every function it declares is one native.py loads by name (and back)."""

from __future__ import annotations

import re
from pathlib import Path

from testbed.harness import iteration
from testbed.ipc import mailbox, native
from testbed.ipc.native import lib

HEADER = Path(mailbox.__file__).resolve().parent / "tb.h"


def _enum(name: str) -> list[str]:
    body = re.search(r"enum " + name + r" \{(.*?)\};", HEADER.read_text(), re.S).group(1)
    return [w.split("=")[0].strip() for w in body.split(",") if w.strip()]


def test_the_mailbox_words_are_mailbox_pys():
    words = _enum("tb_mb_word")
    assert words[-1] == "TB_MB_WORDS" and len(words) - 1 == mailbox.WORDS
    python = {"ST": mailbox.ST, "OP": mailbox.OP, "PD": mailbox.UNUSED, "A0": mailbox.A0}
    python |= {"A1": mailbox.A1, "A2": mailbox.A2, "STATUS": mailbox.STATUS}
    python["VALUE"] = mailbox.VALUE
    assert {w.removeprefix("TB_MB_"): i for i, w in enumerate(words[:-1])} == python


def test_the_gate_words_are_iteration_pys():
    words = [w.removeprefix("TB_GATE_") for w in _enum("tb_gate_word")]
    assert words == ["GEN", "DONE", "COMPLETED", "STOPPED", "HEADER"]
    assert [iteration.GEN, iteration.DONE, iteration.COMPLETED, iteration.STOPPED] == [0, 1, 2, 3]
    assert re.search(r"TB_GATE_HEADER = (\d+)", HEADER.read_text()).group(1) == str(
        iteration.HEADER
    )
    assert iteration.start_word(0) == iteration.HEADER  # then bodies, sleepers, histogram
    assert iteration.sleep_word(3, 0) == iteration.HEADER + 6


def test_the_declared_functions_are_the_ones_the_library_exports():
    declared = set(re.findall(r"^\w[\w *]*?\b(tb_\w+)\(", HEADER.read_text(), re.M))
    # static inline: the header's own (tb_bits*, tb_cpu_relax, the clock helpers)
    declared -= set(re.findall(r"^static inline [\w *]*?\b(tb_\w+)\(", HEADER.read_text(), re.M))
    loaded = set(re.findall(r'\("(tb_\w+)"', Path(native.__file__).read_text()))
    assert declared == loaded
    for name in declared:
        getattr(lib(), name)  # exported by the library
