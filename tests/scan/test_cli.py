"""`chipkit scan`: JSON lines, exit codes, debug images, workers, a batch that continues."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from scan_helpers import photo, qr_image

from chipkit.scan import FIELDS
from chipkit_cli.main import cli


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from chipkit.keys import Keyring

    root = tmp_path_factory.mktemp("scan-cli")
    kr = Keyring.init(root / "keys", passphrase=None)  # demo-only: unprotected
    good = [kr.seal(f"H-{i}", "330703001001")[0] for i in range(3)]
    photos = root / "photos"
    photos.mkdir()
    Image.fromarray(photo([(qr_image(good[0], 3), (20, 20))])).save(photos / "a_ok.png")
    two = photo([(qr_image(good[1], 2.5), (10, 10)), (qr_image(good[2], 2.5), (250, 150))])
    Image.fromarray(two).save(photos / "b_two.jpg", quality=92)
    ok_only = root / "ok_only"
    ok_only.mkdir()
    for p in photos.iterdir():
        (ok_only / p.name).write_bytes(p.read_bytes())
    Image.fromarray(photo([(qr_image("WIFI:S:home;T:WPA;P:x;;", 4), (40, 40))])).save(
        photos / "c_foreign.png"
    )
    Image.fromarray(photo([])).save(photos / "d_empty.png")
    (photos / "e_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root, good


def run(*args: str):
    return CliRunner().invoke(cli, ["scan", *args], catch_exceptions=False)


def test_json_lines_and_statuses(setup):
    root, _ = setup
    res = run(str(root / "photos"), "--keys", str(root / "keys"), "--json")
    assert res.exit_code == 1  # not every photo held only ok chips
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert all(list(r) == list(FIELDS) for r in rows)
    by_file: dict[str, list[dict]] = {}
    for r in rows:
        by_file.setdefault(Path(r["file"]).name, []).append(r)
    assert [r["status"] for r in by_file["a_ok.png"]] == ["ok"]
    assert by_file["a_ok.png"][0]["household_id"] == "H-0"
    assert sorted(r["household_id"] for r in by_file["b_two.jpg"]) == ["H-1", "H-2"]
    (f,) = by_file["c_foreign.png"]
    assert f["status"] == "foreign" and f["text"] == "WIFI:S:home;T:WPA;P:x;;"
    assert [r["status"] for r in by_file["d_empty.png"]] == ["not_found"]
    (e,) = by_file["e_broken.jpg"]
    assert e["status"] == "error" and e["error"]
    for r in by_file["a_ok.png"] + by_file["b_two.jpg"]:
        assert len(r["corners"]) == 4 and r["carrier"] == "qr" and r["serial"] >= 1


def test_exit_zero_when_all_ok_and_workers(setup):
    root, _ = setup
    res = run(str(root / "ok_only"), "--keys", str(root / "keys"), "--workers", "2")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert len(lines) == 3 and all(": ok household=H-" in x for x in lines)
    assert res.stderr.strip() == (
        "scanned 2 photos: 3 chips ok, 0 refused, 0 foreign codes, 0 photos with no code, "
        "0 unreadable photos"
    )


def test_human_output_and_debug_images(setup, tmp_path):
    root, _ = setup
    dbg = tmp_path / "dbg"
    res = run(str(root / "photos"), "--keys", str(root / "keys"), "--debug-out", str(dbg))
    assert res.exit_code == 1
    assert "foreign QRCode: 'WIFI:S:home;T:WPA;P:x;;'" in res.output
    assert "not_found" in res.output and "error" in res.output
    pngs = sorted(p.name for p in dbg.iterdir())
    assert "a_ok_png.debug.png" in pngs and "d_empty_png.debug.png" in pngs
    assert "e_broken_jpg.debug.png" in pngs  # the reason, for a file that is no photo
    assert Image.open(dbg / "a_ok_png.debug.png").mode == "RGB"


def test_usage_errors(setup, tmp_path):
    root, _ = setup
    assert run(str(root / "photos")).exit_code == 2  # --keys missing
    empty = tmp_path / "none"
    empty.mkdir()
    res = CliRunner().invoke(cli, ["scan", str(empty), "--keys", str(root / "keys")])
    assert res.exit_code == 2 and "no images found" in res.output
    res = CliRunner().invoke(cli, ["scan", "x.jpg", "--keys", str(tmp_path / "nokeys")])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert run("--help").exit_code == 0


def test_visits_checkin_with_an_elongated_photo_is_one_line_exit_2(setup, tmp_path):
    root, _ = setup
    strip = tmp_path / "strip.png"
    Image.new("L", (65535, 1), 200).save(strip)
    db = str(tmp_path / "cases.sqlite")
    samples = Path(__file__).resolve().parents[2] / "samples" / "households.csv"
    imp = CliRunner().invoke(cli, ["cases", "import", str(samples), "--db", db])
    assert imp.exit_code == 0, imp.output
    res = CliRunner().invoke(
        cli,
        [
            "visits",
            "checkin",
            str(strip),
            "--worker",
            "W1",
            "--keys",
            str(root / "keys"),
            "--db",
            db,
        ],
    )
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "too elongated" in res.output and len(res.output.strip().splitlines()) == 1


def test_summary_csv_and_chip_text_that_pipes_on(setup, tmp_path):
    root, good = setup
    out = tmp_path / "scan.csv"
    keys = str(root / "keys")
    res = run(str(root / "photos"), "--keys", keys, "--json", "--csv", str(out))
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        "scanned 5 photos: 3 chips ok, 0 refused, 1 foreign code, 1 photo with no code, "
        "1 unreadable photo",
        f"wrote {out}",
    ]
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    chips = {r["household_id"]: r["chip"] for r in rows if r["status"] == "ok"}
    assert chips == {"H-0": good[0], "H-1": good[1], "H-2": good[2]}
    assert all(r["chip"] is None for r in rows if r["status"] != "ok")
    # the chip text is what `verify`, `cases submit --token` and `visits checkin` take
    v = CliRunner().invoke(cli, ["verify", "--keys", keys, chips["H-1"]])
    assert v.exit_code == 0 and "H-1" in v.output
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel on Chinese Windows
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == list(FIELDS)
    assert len(table) == 1 + len(rows)
    assert [r[1] for r in table[1:]] == [r["status"] for r in rows]
    assert [r[-1] for r in table[1:]] == [r["chip"] or "" for r in rows]
    assert not list(tmp_path.glob(".scan.csv.*"))  # no temporary file left


def test_csv_in_a_missing_folder_is_a_usage_error(setup, tmp_path):
    root, _ = setup
    res = run(
        str(root / "ok_only"), "--keys", str(root / "keys"), "--csv", str(tmp_path / "no" / "x.csv")
    )
    assert res.exit_code == 2 and "does not exist" in res.output
