"""Issue 20, item 5: a 64 MiB /dev/shm (as containers have) with a run that needs more is
exit 2 before anything is mapped, naming /dev/shm and the size needed (it was a SIGBUS,
exit 135, no report). Runs in a private mount namespace with its own small tmpfs."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

SCRIPT = """
set -e
mount -t tmpfs -o size=64m tmpfs /dev/shm
exec {python} -m testbed.cli stress genode-race --variant racy --creators 32 \\
    --ring-events 4194304 --rounds 1
"""


def _private_mounts() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = "mount -t tmpfs -o size=1m tmpfs /dev/shm"
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", probe],
                       capture_output=True)  # fmt: skip
    return r.returncode == 0


@pytest.mark.skipif(not _private_mounts(), reason="needs a private mount namespace (root)")
def test_a_small_dev_shm_is_a_clear_error_not_sigbus(tmp_path):
    r = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         SCRIPT.format(python=sys.executable)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2, r.stdout + r.stderr
    assert "/dev/shm has 67,108,864 bytes free" in r.stderr
    assert "the run needs 2,214,749,504 bytes" in r.stderr
    assert "Traceback" not in r.stderr


RESERVE = """
set -e
mount -t tmpfs -o size=8m tmpfs /dev/shm
exec {python} -c '
from testbed.ipc.segment import Layout, NoSpace, Segment
import os
lay = Layout(); lay.add_words("big", 2 << 20)  # 16 MiB
try:
    Segment.create("/tbtest.reserve", lay)
except NoSpace as e:
    print(e.strerror); print(os.listdir("/dev/shm"))
'
"""


@pytest.mark.skipif(not _private_mounts(), reason="needs a private mount namespace (root)")
def test_a_segment_that_does_not_fit_is_no_space_at_creation_and_left_nowhere(tmp_path):
    r = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         RESERVE.format(python=sys.executable)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "needs 16,777,216 bytes" in r.stdout and "/dev/shm has" in r.stdout
    assert r.stdout.strip().endswith("[]")  # the half-made segment was unlinked
