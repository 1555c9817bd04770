"""Attacks on a batch (issue 9): orphan workers, planted links, the issue-date calendar."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from plates_helpers import ROOT, SAMPLE_CSV, decode_qr_texts

from chipkit.errors import TokenError
from chipkit.plates import BatchOptions, run_batch
from chipkit.plates.ledger import Ledger
from chipkit.register import read_register

MARK = "CHIPKIT_TEST_BATCH_MARK"
CMDS: dict[int, bytes] = {}


def _register(path: Path, n: int) -> Path:
    lines = ["household_id,village_code,village_name,house_no,grid,worker,worker_phone\n"]
    lines += [
        f"O-{i:05d},330703100201,浦口村,浦口路{i}号,第一网格,陈晓琳,13905790000\n" for i in range(n)
    ]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _marked(mark: str) -> dict[int, bytes]:
    """{pid: environ} of every live process whose environment carries ``mark``."""
    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:  # environment and command line of one program image: a process caught
            before = (d / "cmdline").read_bytes()  # exec'ing (between fork and exec it
            env = (d / "environ").read_bytes()  # still shows its parent's environment)
            after = (d / "cmdline").read_bytes()  # is sampled again on the next pass
        except OSError:
            continue
        if before != after:
            continue
        if f"{MARK}={mark}".encode() in env.split(b"\0"):
            found[int(d.name)] = env
            CMDS[int(d.name)] = after
    return found


def _live_plates(out: Path, verifier) -> Counter:
    """Plates in OUT that decode and verify (genuine, not revoked), per household."""
    live: Counter = Counter()
    for f in out.glob("*.png"):
        for text in decode_qr_texts(f):
            try:
                live[verifier.verify(text).household_id] += 1
            except TokenError:
                pass
    return live


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc (Linux)")
def test_kill_9_leaves_no_worker_and_no_second_live_plate(tmp_path):
    """SIGKILL of `chipkit plates` (the batch process only) at random points, PNG on a
    pool: no worker survives it, workers never see the passphrase, and after a re-run
    every household has exactly one live plate in OUT."""
    from chipkit.keys import Keyring

    n = 240
    reg_path = _register(tmp_path / "reg.csv", n)
    keys = tmp_path / "keys"
    Keyring.init(keys, passphrase=None)  # (no scrypt: fast) the variable is set all the same
    for seed in (1, 2, 3, 4):
        rnd = random.Random(seed)
        out, mark = tmp_path / f"out{seed}", uuid.uuid4().hex
        cmd = [sys.executable, "-m", "chipkit_cli.main", "plates", str(reg_path)]
        cmd += ["--keys", str(keys), "--out", str(out), "--format", "png", "--dpi", "100"]
        cmd += ["-j", "2", "--reissue" if seed > 1 else "--quiet", "--carrier", "qr"]
        env = dict(os.environ, CHIPKIT_PASSPHRASE="correct horse battery", **{MARK: mark})
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        target = rnd.randint(1, n * 2 // 3)
        deadline = time.time() + 60
        children: dict[int, bytes] = {}
        while time.time() < deadline and proc.poll() is None:
            children.update(
                {p: e for p, e in _marked(mark).items() if CMDS.get(p) != CMDS.get(proc.pid)}
            )  # (a fork not yet exec'd shows the batch's own command line and environment)
            if len(list(out.glob("*.png"))) >= target:
                break
            time.sleep(0.02)
        time.sleep(rnd.uniform(0, 0.2))
        proc.send_signal(signal.SIGKILL)  # the batch process only: workers are on their own
        proc.wait()
        assert children, "the batch never started its workers"
        for pid, environ in children.items():  # forkserver, workers, resource tracker
            assert b"CHIPKIT_PASSPHRASE=" not in environ, (
                f"pid {pid} holds the passphrase: {CMDS.get(pid)}"
            )
        t = time.time()
        while _marked(mark) and time.time() - t < 5:
            time.sleep(0.05)
        assert not _marked(mark), f"seed {seed}: processes outlived the batch"
        r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        time.sleep(0.3)  # anything still renaming would show up now
        live = _live_plates(out, Keyring.open(keys).verifier())
        assert set(live) == {f"O-{i:05d}" for i in range(n)}, f"seed {seed}"
        assert max(live.values()) == 1, f"seed {seed}: {live.most_common(3)}"
        assert len(json.loads((out / "manifest.json").read_text("utf-8"))["plates"]) == n


def test_voided_serial_whose_file_appears_later_is_revoked(tmp_path, keyring, monkeypatch):
    """A worker of a killed batch renames a plate into OUT after the re-run voided its
    serial: the next run revokes that serial and deletes the file."""
    from chipkit.keys import Keyring
    from chipkit.plates import pool

    reg = read_register(SAMPLE_CSV)
    out = tmp_path / "out"
    real = pool.render_chunk
    calls = {"n": 0}

    def dies_on_third(job):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(pool, "render_chunk", dies_on_third)
    opts = BatchOptions(out=out, fmt="svg", jobs=1, files_per_chunk=8)
    with pytest.raises(KeyboardInterrupt):
        run_batch(reg, keyring, opts)
    monkeypatch.setattr(pool, "render_chunk", real)
    dangling = Ledger(keyring.path).state().dangling
    assert len(dangling) == 8
    res = run_batch(reg, keyring, opts)  # voids the 8 intents, mints fresh serials
    assert res.recovered["voided"] == 8
    late = Path(dangling[0].file)
    late.write_text("<svg>a plate a dead worker finished late</svg>", encoding="utf-8")
    res = run_batch(reg, keyring, opts)
    assert res.recovered["revoked_stragglers"] == 1
    assert not late.exists()
    assert dangling[0].serial in Keyring.open(keyring.path).revoked
    assert run_batch(reg, keyring, opts).recovered["revoked_stragglers"] == 0


def test_planted_links_in_out_are_never_followed(tmp_path, keyring):
    """OUT/..chipkit-batch.json.tmp -> victim (the old predictable temp name), and the
    same for the manifests: the victim is untouched."""
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    for name in (".chipkit-batch.json", "manifest.json", "manifest.csv", "rejected.csv"):
        (out / f".{name}.tmp").symlink_to(victim)
    reg = read_register(SAMPLE_CSV)
    reg.households = reg.households[:3]
    run_batch(reg, keyring, BatchOptions(out=out, fmt="svg", jobs=1))
    assert victim.read_text("utf-8") == "precious"
    assert json.loads((out / ".chipkit-batch.json").read_text("utf-8"))["complete"] is True


def test_plates_are_stamped_with_the_utc_date(tmp_path, keyring, monkeypatch):
    """Key windows use the UTC date; so do plates, whatever the local time zone."""
    utc = datetime.now(timezone.utc)
    # UTC-12 and UTC+14 are 26 hours apart: at any hour one of them is on another date
    tz = "Etc/GMT+12" if (utc - timedelta(hours=12)).date() != utc.date() else "Etc/GMT-14"
    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        reg = read_register(SAMPLE_CSV)
        reg.households = reg.households[:2]
        res = run_batch(reg, keyring, BatchOptions(out=tmp_path / "o", fmt="svg", jobs=1))
        rows = json.loads(res.manifest_json.read_text("utf-8"))["plates"]
        assert {r["issued"] for r in rows} == {datetime.now(timezone.utc).date().isoformat()}
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_reissue_into_another_village_revokes_in_the_old_villages_bundle(tmp_path, keyring):
    """The superseded plate's revocation is tied to *its* village, so that village's
    scoped bundle refuses it (the reason is not withheld from it)."""
    from chipkit.errors import RevokedToken
    from chipkit.keys import Keyring
    from chipkit.verifier import Verifier

    lines = SAMPLE_CSV.read_text("utf-8").splitlines(keepends=True)
    (tmp_path / "a.csv").write_text(lines[0] + lines[1], encoding="utf-8")
    moved = lines[1].split(",")
    old_village, moved[1] = moved[1], "330703100299"
    (tmp_path / "b.csv").write_text(lines[0] + ",".join(moved), encoding="utf-8")
    out = tmp_path / "o"
    keyring.add_read_key(old_village)
    run_batch(read_register(tmp_path / "a.csv"), keyring, BatchOptions(out=out, fmt="svg", jobs=1))
    (old,) = Ledger(keyring.path).state().live.values()
    opts = BatchOptions(out=out, fmt="svg", jobs=1, reissue=True)
    run_batch(read_register(tmp_path / "b.csv"), keyring, opts)
    kr = Keyring.open(keyring.path)
    kr.export_verifier(tmp_path / "old.json", village=old_village)
    v = Verifier.load(tmp_path / "old.json", office_fingerprint=kr.office_fingerprint)
    with pytest.raises(RevokedToken) as e:
        v.verify(old.token)
    assert e.value.reason.startswith("reissued")  # tied to its village: reason not withheld


def test_an_append_after_a_torn_tail_keeps_the_ledger_readable(tmp_path):
    # a SIGKILL mid-write leaves a torn last line (ignored when read); the next run's first
    # append used to glue its record onto it, so every later run stopped with "line N is
    # not valid JSON" (seen as a flaky test_sigkill_then_rerun_is_consistent)
    ledger = Ledger(tmp_path)
    ledger.append([{"event": "void", "serial": 1, "batch": "b1"}])
    with ledger.path.open("ab") as f:
        f.write(b'{"event":"issued","ser')  # torn: no newline, never fsynced
    ledger.append([{"event": "void", "serial": 2, "batch": "b2"}])
    assert [r["serial"] for r in ledger.records()] == [1, 2]
    assert ledger.path.read_bytes().endswith(b"\n")
