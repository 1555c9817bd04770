"""Register import: encodings, column aliases, per-row problems."""

from __future__ import annotations

from pathlib import Path

import pytest
from plates_helpers import SAMPLE_CSV, SAMPLE_XLSX

from chipkit.register import (
    BAD_ID,
    BAD_VILLAGE,
    DUPLICATE,
    MISSING_ID,
    UNKNOWN_ENCODING,
    RegisterError,
    read_register,
)

HEADER_ZH = "户号,村代码,村名,门牌号,网格,网格员,联系电话,户主\n"
ROWS_ZH = [
    "JD-1,330703100201,浦口村,浦口路5号,第一网格,陈晓琳,13905790001,王建国\n",
    "JD-2,330703100201,浦口村,兴村街17号,第一网格,陈晓琳,13905790001,李秀英\n",
    "JD-3,330703103212,琐园村,琐园街8号,第二网格,吴佳敏,13905790002,严德明\n",
]


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_sample_register_has_about_50_fictional_jindong_households():
    reg = read_register(SAMPLE_CSV)
    assert reg.encoding == "utf-8"
    assert reg.problems == []
    assert 45 <= len(reg.households) <= 55
    for h in reg.households:
        assert h.village_code.startswith("330703") and len(h.village_code) == 12
        assert any("\u4e00" <= ch <= "\u9fff" for ch in h.village_name)
        assert h.house_no and h.grid and h.worker and h.worker_phone and h.head


def test_xlsx_copy_matches_csv():
    a = read_register(SAMPLE_CSV)
    b = read_register(SAMPLE_XLSX)
    assert b.encoding == "xlsx"
    assert [h.to_dict() for h in a.households] == [h.to_dict() for h in b.households]


@pytest.mark.parametrize(
    "codec,bom,expected",
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
        ("gbk", b"", "gb18030"),
        ("gb18030", b"", "gb18030"),
        ("utf-16-le", b"\xff\xfe", "utf-16"),
    ],
)
def test_encodings_detected_and_named(tmp_path, codec, bom, expected):
    text = HEADER_ZH + "".join(ROWS_ZH)
    if codec.startswith("utf-16"):
        text = text.replace(",", "\t")  # Excel's "Unicode text" is tab-separated UTF-16
    reg = read_register(_write(tmp_path, "r.csv", bom + text.encode(codec)))
    assert reg.encoding == expected
    assert [h.village_name for h in reg.households] == ["浦口村", "浦口村", "琐园村"]
    assert reg.households[0].head == "王建国"


def test_english_aliases_and_unknown_columns(tmp_path):
    data = (
        "Household ID,Village Code,village_name,House No,grid,worker,worker_phone,head,notes\n"
        "A1,330703100201,浦口村,5号,第一网格,陈,139,王,x\n"
    ).encode()
    reg = read_register(_write(tmp_path, "e.csv", data))
    assert reg.households[0].household_id == "A1"
    assert reg.households[0].house_no == "5号"
    assert reg.ignored_columns == ["notes"]


def test_bad_rows_reported_with_row_column_reason(tmp_path):
    lines = [
        HEADER_ZH,
        ROWS_ZH[0],  # row 2 ok
        ",330703100201,浦口村,1号,,,,\n",  # row 3 missing id
        "JD-9,33070310020,浦口村,2号,,,,\n",  # row 4 11 digits
        "JD-10,3.30703E+11,浦口村,3号,,,,\n",  # row 5 Excel scientific notation
        "JD-11,330703100000,浦口村,4号,,,,\n",  # row 6 township-level code
        ROWS_ZH[0],  # row 7 duplicate of row 2
        "../../etc/passwd,330703100201,浦口村,6号,,,,\n",  # row 8 bad id
        ROWS_ZH[2],  # row 9 ok
    ]
    reg = read_register(_write(tmp_path, "bad.csv", "".join(lines).encode()))
    got = {(p.row, p.column, p.reason) for p in reg.problems}
    assert got == {
        (3, "household_id", MISSING_ID),
        (4, "village_code", BAD_VILLAGE),
        (5, "village_code", BAD_VILLAGE),
        (6, "village_code", BAD_VILLAGE),
        (7, "household_id", DUPLICATE),
        (8, "household_id", BAD_ID),
    }
    assert [h.row for h in reg.households] == [2, 9]
    sci = next(p for p in reg.problems if p.row == 5)
    assert "scientific notation" in sci.detail
    dup = next(p for p in reg.problems if p.row == 7)
    assert "row 2" in dup.detail
    assert "row 7, household_id" in str(dup)


def test_mixed_encoding_row_is_rejected_not_the_file(tmp_path):
    data = (HEADER_ZH + ROWS_ZH[0]).encode("utf-8") + ROWS_ZH[1].encode("gbk") + ROWS_ZH[2].encode()
    reg = read_register(_write(tmp_path, "m.csv", data))
    assert reg.encoding == "utf-8"
    assert [(p.row, p.reason) for p in reg.problems] == [(3, UNKNOWN_ENCODING)]
    assert [h.household_id for h in reg.households] == ["JD-1", "JD-3"]


def test_unknown_encoding_file_is_a_clear_error(tmp_path):
    junk = bytes(range(128, 256)) * 20
    with pytest.raises(RegisterError, match="unknown encoding"):
        read_register(_write(tmp_path, "j.csv", b"\x81\xff\xfe\x80" + junk + b"\n" + junk))


def test_missing_required_column_names_it(tmp_path):
    p = _write(tmp_path, "n.csv", "户号,村名\nA,浦口村\n".encode())
    with pytest.raises(RegisterError, match="village_code"):
        read_register(p)


def test_full_width_and_excel_numbers_are_normalised(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["门牌登记表"])  # a title row above the header, as clerks do
    ws.append(["户号", "村代码", "门牌号"])
    ws.append(["ＪＤ－７", 330703100201, 12])
    ws.append([1001.0, 330703100201.0, "3号"])
    p = tmp_path / "n.xlsx"
    wb.save(p)
    reg = read_register(p)
    assert reg.problems == []
    assert [(h.household_id, h.village_code, h.house_no, h.row) for h in reg.households] == [
        ("JD-7", "330703100201", "12", 3),
        ("1001", "330703100201", "3号", 4),
    ]


def test_missing_file_is_register_error(tmp_path):
    with pytest.raises(RegisterError, match="no such register file"):
        read_register(tmp_path / "nope.csv")
