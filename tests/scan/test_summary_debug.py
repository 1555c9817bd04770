"""Scan totals, the CSV cells, and --debug-out images whose text stays readable."""

from __future__ import annotations

from scan_helpers import photo

from chipkit.errors import Status
from chipkit.scan import FIELDS, CsvOut, ReadReport, Region, ScanResult, Summary
from chipkit.scan._debug import annotate, wrap
from chipkit.scan._summary import csv_cell


def test_summary_counts_and_names_refusals():
    s = Summary()
    s.add([ScanResult("a", Status.OK), ScanResult("a", Status.REVOKED)])
    s.add([ScanResult("b", Status.INVALID), ScanResult("b", Status.FOREIGN, text="x")])
    s.add([ScanResult("c", Status.NOT_FOUND)])
    s.add([ScanResult("d", Status.ERROR)])
    assert (s.photos, s.ok, s.refused, s.foreign, s.not_found, s.errors) == (4, 1, 2, 1, 1, 1)
    assert s.line() == (
        "scanned 4 photos: 1 chip ok, 2 refused (1 invalid, 1 revoked), 1 foreign code, "
        "1 photo with no code, 1 unreadable photo"
    )
    assert s.to_dict()["by_status"] == {"invalid": 1, "ok": 1, "revoked": 1}


def test_csv_cells_are_never_formulas(tmp_path):
    assert csv_cell('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)" and csv_cell("-1+2") == "'-1+2"
    assert csv_cell(None) == "" and csv_cell([[1.0, 2.0]]) == "[[1.0, 2.0]]"
    assert csv_cell("CK1:ABC") == "CK1:ABC"
    path = tmp_path / "r.csv"
    with CsvOut(path, FIELDS) as out:
        out.write([ScanResult("p.jpg", Status.FOREIGN, text="=1+1")])
    assert "'=1+1" in path.read_text("utf-8-sig")
    try:
        with CsvOut(tmp_path / "half.csv", FIELDS) as out:
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]  # nothing half-written


def test_long_not_found_reason_wraps_inside_the_image():
    reason = "no code found: 3 symbol-like region(s) unreadable after " + ", ".join(
        f"stage-{i}" for i in range(40)
    )
    gray = photo([], size=(480, 360))
    res = [ScanResult("p.png", Status.NOT_FOUND, error=reason)]
    img = annotate(gray, 1.0, ReadReport([], [], (480, 360), 1.0), res)
    assert img.shape[1] >= 480
    banner = img[: img.shape[0] - 360]
    assert banner.shape[0] > 60  # several lines: the reason was wrapped
    assert (banner[:, -4:] == 255).all()  # and nothing reaches the right edge
    for line in wrap(reason, 600, 0.45, 1):
        assert len(line) < len(reason)


def test_unreadable_file_card_and_labels_never_overlap():
    res = [ScanResult("bad.jpg", Status.ERROR, error="cannot read image: " + "x" * 300)]
    card = annotate(None, 1.0, None, res)
    assert (card[:, -4:] == 255).all() and card.shape[0] > 40
    # three unreadable regions at the same place, and one chip there too
    regions = [Region((50, 50, 150, 150), "texture", 1.0, tried=[f"s{i}"]) for i in range(3)]
    report = ReadReport([], regions, (480, 360), 1.0)
    chip = ScanResult("p.png", Status.OK, corners=((50.0, 50.0), (150, 50), (150, 150), (50, 150)))
    labels: list[tuple[int, int, int, int]] = []
    img = annotate(photo([], size=(480, 360)), 1.0, report, [chip], labels)
    assert len(labels) == 4
    h, w = img.shape[0], img.shape[1]
    for i, a in enumerate(labels):
        assert 0 <= a[0] < a[2] <= w and 0 <= a[1] < a[3] <= h
        for b in labels[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
