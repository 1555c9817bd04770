"""Generate samples/households.csv and samples/households.xlsx (fictional data).

Fifty fictional households in villages of Jindong District (金东区, Jinhua). Village
division codes follow the real 12-digit format (330703 = Jindong District, then a
3-digit township and a 3-digit village part) but the codes, people and phone numbers
are made up. Deterministic: running it again gives identical files.

    .venv/bin/python samples/make_samples.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

COLUMNS = ["户号", "村代码", "乡镇", "村名", "门牌号", "网格", "网格员", "联系电话", "户主"]

# (village code, township, village name, street names, grid count)
VILLAGES = [
    ("330703100201", "孝顺镇", "浦口村", ["浦口路", "兴村街"], 2),
    ("330703101204", "傅村镇", "畈田蒋村", ["畈田路", "蒋家弄"], 1),
    ("330703103212", "澧浦镇", "琐园村", ["琐园街", "严氏宗祠路"], 2),
    ("330703102207", "曹宅镇", "大佛寺村", ["佛堂路", "大佛寺前街"], 1),
    ("330703106203", "塘雅镇", "塘雅村", ["塘雅中街", "雅畈路"], 1),
    ("330703107215", "赤松镇", "钟头村", ["钟头路", "松风弄"], 1),
    ("330703104209", "岭下镇", "岭五村", ["岭下街"], 1),
]
SURNAMES = "王张李陈金楼吴施傅蒋严曹方胡朱俞应何"
GIVEN = [
    "建国",
    "丽华",
    "志强",
    "秀英",
    "伟",
    "小燕",
    "国平",
    "海燕",
    "德明",
    "春兰",
    "永康",
    "佳怡",
]
GRID_NAMES = ["第一网格", "第二网格", "第三网格"]
WORKERS = ["陈晓琳", "蒋立军", "吴佳敏", "楼志刚", "傅美芳", "施国良", "金晓东", "严红梅", "曹文斌"]


def households(n: int = 50, seed: int = 3307) -> list[list[str]]:
    rnd = random.Random(seed)
    rows: list[list[str]] = []
    worker_i = 0
    per_village = [n // len(VILLAGES)] * len(VILLAGES)
    for i in range(n - sum(per_village)):
        per_village[i] += 1
    for (code, town, name, streets, grids), count in zip(VILLAGES, per_village, strict=True):
        village_workers = []
        for g in range(grids):
            phone = f"1390579{rnd.randrange(10000):04d}"
            village_workers.append((GRID_NAMES[g], WORKERS[worker_i % len(WORKERS)], phone))
            worker_i += 1
        numbers = rnd.sample(range(1, 160), count)
        for k, num in enumerate(sorted(numbers)):
            grid, worker, phone = village_workers[k * grids // count]
            street = streets[k % len(streets)]
            head = rnd.choice(SURNAMES) + rnd.choice(GIVEN)
            hid = f"JD-{code[6:]}-{k + 1:03d}"
            rows.append([hid, code, town, name, f"{street}{num}号", grid, worker, phone, head])
    return rows


def main() -> None:
    rows = households()
    csv_path = HERE / "households.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerows(rows)
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "户籍登记"
    ws.append(COLUMNS)
    for r in rows:
        ws.append(r)
    for col in ("A", "B", "H"):  # ids, 12-digit codes and phones stay text in Excel
        for cell in ws[col]:
            cell.number_format = "@"
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 16
    ws.column_dimensions["E"].width = 18
    xlsx_path = HERE / "households.xlsx"
    wb.save(xlsx_path)
    # Make the XLSX byte-stable: openpyxl stamps creation/modification times.
    _normalise_xlsx_times(xlsx_path)
    print(f"wrote {csv_path} and {xlsx_path} ({len(rows)} households)")


def _normalise_xlsx_times(path: Path) -> None:
    import re
    import zipfile

    src = zipfile.ZipFile(path)
    items = [(i, src.read(i.filename)) for i in src.infolist()]
    src.close()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in items:
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*",
                    rb"\g<1>2026-01-01T00:00:00Z",
                    data,
                )
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(zi, data)


if __name__ == "__main__":
    main()
