"""Issue 20, item 9: a full disk. A trace is written whole or not at all (a file beside it,
renamed once written), so no cut-short trace is offered for replay: the run goes on, and says
which traces it could not write; a core log that cannot be written aborts the run naming core
and the error. Runs in a private mount namespace with a one-page tmpfs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import leftovers_of
from test_small_shm import _private_mounts

SCRIPT = """
mount -t tmpfs -o size=4k tmpfs {traces} || exit 99
{python} -m testbed.cli stress genode-race --variant racy --duration 1 --seed 5 \\
    --trace-dir {traces} --json {out} {extra} &
pid=$!
wait $pid
code=$?
echo "run pid $pid"
# in the namespace, where the one-page tmpfs is: what is offered for replay loads whole
{python} -c "{load}" {out} || exit 98
exit $code
"""
LOAD = (
    "import json, sys; from testbed.trace.trace import Trace; "
    "d = json.load(open(sys.argv[1])); "
    "print('loaded', sum(bool(Trace.load(p).events) for p in d['trace_files']))"
)


@pytest.mark.skipif(not _private_mounts(), reason="needs a private mount namespace (root)")
@pytest.mark.parametrize("extra", ["", "--iterate"])
def test_a_full_trace_directory_offers_no_cut_short_trace(tmp_path, extra):
    traces, out = tmp_path / "traces", tmp_path / "run.json"
    traces.mkdir()
    script = SCRIPT.format(traces=traces, python=sys.executable, out=out, extra=extra, load=LOAD)
    proc = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stdout + stderr  # racy's region_conflict is INTERESTING
    assert "Traceback" not in stderr
    doc = json.loads(out.read_text())
    unwritten = [t for t in doc["traces"] if t.get("written") is False]
    # one page holds one trace at most: of those the run offered, all but one went unwritten
    # (how many it offers depends on the run: an iterating one may offer a single trace)
    assert unwritten and len(doc["traces"]) - len(unwritten) <= 1, doc["traces"]
    for t in unwritten:
        assert not t["replayable"] and ("not written" in t["why"] or "could not" in t["why"])
        assert f"trace not written: {t['file']}" in stdout
    assert f"loaded {len(doc['trace_files'])}" in stdout  # each loaded, in the namespace
    pid = int(stdout.split("run pid ")[1].split()[0])
    assert leftovers_of(pid) == []  # the mount is private, /dev/shm is not


CORE_LOG = """
mount -t tmpfs -o size=4k tmpfs {logs} || exit 99
exec {python} -m testbed.cli stress genode-race --variant fixed --duration 1 \\
    --core-log {logs}/core.jsonl --json {out}
"""


@pytest.mark.skipif(not _private_mounts(), reason="needs a private mount namespace (root)")
def test_a_core_log_on_a_full_disk_aborts_naming_core_and_the_error(tmp_path):
    """It said only "core ended with exit code 1"."""
    logs, out = tmp_path / "logs", tmp_path / "run.json"
    logs.mkdir()
    script = CORE_LOG.format(logs=logs, python=sys.executable, out=out)
    proc = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3, stdout + stderr
    assert "Traceback" not in stderr
    reason = json.loads(out.read_text())["reasons"][0]
    assert reason.startswith("core (pid ") and "No space left on device" in reason, reason
    assert leftovers_of(proc.pid) == []
