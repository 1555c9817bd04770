"""Fuzz targets shared by the short CI run (hypothesis, test_fuzz.py) and the long run
(longrun.py, driven by scripts/fuzz.sh).

A target turns bytes into one call of the code under test. Each says which exceptions are
the code's documented refusals; anything else it raises is a crash. Seeds are real inputs
made here (a sealed chip, a signed bundle, registers, small images), so mutations start
from something the parser accepts. Structured targets mutate inside a container and
rebuild it (a bundle payload re-signed, an XLSX part re-zipped), so the fuzzer gets past
the signature or the ZIP CRC to the parsing behind it.
"""

from __future__ import annotations

import base64
import io
import json
import random
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Target:
    name: str
    seeds: list[bytes]
    run: Callable[[bytes], object]
    expected: tuple[type[BaseException], ...]
    tokens: list[bytes] = field(default_factory=list)  # a dictionary for the mutator


# ---------------------------------------------------------------- mutation


def mutate(data: bytes, rng: random.Random, seeds: list[bytes], tokens: list[bytes]) -> bytes:
    """1-4 random edits: bit flips, bytes set/inserted/deleted/duplicated, splices, tokens."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        n = len(b)
        if op == 0 and n:
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            b[rng.randrange(n)] = rng.randrange(256)
        elif op == 2:
            i = rng.randint(0, n)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3 and n:
            i = rng.randrange(n)
            del b[i : i + rng.randint(1, max(1, min(64, n - i)))]
        elif op == 4 and n:
            i = rng.randrange(n)
            j = min(n, i + rng.randint(1, 64))
            k = rng.randint(0, n)
            b[k:k] = b[i:j] * rng.choice((1, 2, 16))
        elif op == 5 and seeds:
            other = rng.choice(seeds)
            i, j = rng.randint(0, n), rng.randint(0, len(other))
            b = b[:i] + bytearray(other[j:])
        elif op == 6 and tokens:
            i = rng.randint(0, n)
            b[i:i] = rng.choice(tokens)
        elif op == 7 and n:
            del b[rng.randint(0, n) :]  # truncate
        elif op == 8 and n:
            i = rng.randrange(n)
            b[i : i + 4] = rng.choice((b"\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"0"))
    return bytes(b)


# ---------------------------------------------------------------- keys and chips


class _Keys:
    _made: _Keys | None = None

    def __init__(self) -> None:
        from chipkit.keys import Keyring

        self.dir = tempfile.TemporaryDirectory(prefix="chipkit-fuzz-")
        kr = Keyring.init(Path(self.dir.name) / "keys", passphrase=None)
        self.tokens = [
            kr.seal(f"JD-{i}", "330703100201", expires=date(2099, 1, 1))[0] for i in range(3)
        ]
        kr.revoke([1], "lost")
        bundle = Path(self.dir.name) / "bundle.json"
        kr.export_verifier(bundle)
        self.bundle = bundle.read_bytes()
        self.verifier = kr.verifier()

    @classmethod
    def get(cls) -> _Keys:
        if cls._made is None:
            cls._made = cls()
        return cls._made


def token_target() -> Target:
    """Verifier.check on chip text: never raises, whatever the text."""
    from chipkit import base45

    keys = _Keys.get()

    def run(data: bytes) -> object:
        text = data.decode("utf-8", errors="replace")
        return keys.verifier.check(text)

    seeds = [t.encode() for t in keys.tokens] + [b"CK1:", b"HTTPS://JD.EXAMPLE.CN/C/" + b"1" * 240]
    return Target("token", seeds, run, (), [c.encode() for c in base45.ALPHABET] + [b"CK1:"])


def token_bytes_target() -> Target:
    """Verifier.check on binary chips (a mutated genuine chip): signature, then claims."""
    from chipkit import token as tk

    keys = _Keys.get()
    seeds = [tk.from_text(t) for t in keys.tokens]

    def run(data: bytes) -> object:
        return keys.verifier.check(data)

    return Target("token-binary", seeds, run, ())


# ---------------------------------------------------------------- bundles


def bundle_target() -> Target:
    """parse_bundle on bytes: BundleError or a Verifier."""
    from chipkit.bundle import parse_bundle
    from chipkit.errors import ChipkitError

    keys = _Keys.get()
    tokens = [b"{", b"}", b"[", b"]", b'"', b",", b":", b"null", b"1e999", b"-1", b"true",
              b'"kid"', b'"serial"', b"\\u0000", b"9" * 30]  # fmt: skip
    return Target("bundle", [keys.bundle], lambda d: parse_bundle(d), (ChipkitError,), tokens)


def bundle_payload_target() -> Target:
    """The payload behind a valid signature: the mutated payload is re-signed by an office
    key of the fuzzer's own (an unpinned load accepts any office)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from chipkit.bundle import FORMAT, parse_bundle
    from chipkit.errors import ChipkitError

    keys = _Keys.get()
    doc = json.loads(keys.bundle)
    payload = base64.b64decode(doc["payload"])
    office = Ed25519PrivateKey.generate()
    pub = base64.b64encode(office.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def run(body: bytes) -> object:
        sig = office.sign(FORMAT.encode() + b"\x00" + body)
        d = dict(doc, office_key=pub.decode(), payload=base64.b64encode(body).decode(),
                 signature=base64.b64encode(sig).decode())  # fmt: skip
        return parse_bundle(json.dumps(d).encode())

    tokens = [b"{", b"}", b"[]", b'"', b"null", b"1e999", b"-1", b"0", b"65536", b"4294967296",
              b'"2026-01-01"', b'"kid"', b'"key"', b"{}", b'"AAAA"']  # fmt: skip
    return Target("bundle-payload", [payload], run, (ChipkitError,), tokens)


# ---------------------------------------------------------------- registers


def _register_seeds() -> list[bytes]:
    csv = (ROOT / "samples" / "households.csv").read_bytes()
    text = csv.decode("utf-8")
    short = "".join(text.splitlines(keepends=True)[:6])
    return [
        short.encode("utf-8"),
        b"\xef\xbb\xbf" + short.encode("utf-8"),
        short.encode("gb18030"),
        short.replace(",", "\t").encode("utf-16"),
        ("金东区门牌登记表\n\n" + short + "\n,,,\n").encode("utf-8"),
        b"household_id,village_code,role,unit,worker_id\n,,village,330703100201,V1\n"
        b'A1,330703100201,,,\n"A\n2",330703100201,,,\n=1+1,+86,-,@x,\n',
    ]


def register_csv_target() -> Target:
    from chipkit.register import RegisterError, read_register_bytes

    tokens = [b",", b"\n", b"\r\n", b'"', b"\t", b";", "，".encode(), b"=", b"+", b"-", b"@",
              b"\xef\xbb\xbf", b"\xff\xfe", "户号".encode(), "村代码".encode(), "角色".encode(),
              "户号".encode("gb18030"), b"3.30703E+11", b"330703100000", b"\x00"]  # fmt: skip
    return Target(
        "register-csv",
        _register_seeds(),
        lambda d: read_register_bytes(d, "fuzz.csv"),
        (RegisterError,),
        tokens,
    )


def _xlsx_members() -> dict[str, bytes]:
    """A small workbook as Excel-like tools write it: title row, header, 5 households."""
    from openpyxl import Workbook

    rows = (ROOT / "samples" / "households.csv").read_text("utf-8").splitlines()[:6]
    wb = Workbook()
    ws = wb.active
    ws.append(["金东区门牌登记表"])
    for line in rows:
        ws.append(line.split(","))
    ws["B3"] = 330703100201
    ws["D4"] = '=C4&"村"'
    buf = io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(buf) as z:
        return {n: z.read(n) for n in z.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for n, data in members.items():
            z.writestr(n, data)
    return buf.getvalue()


def register_xlsx_target() -> Target:
    """XLSX: one part of a real workbook mutated, the workbook re-zipped (valid CRCs), so
    the XML parsing behind the ZIP is reached. The input is 'part index byte + part'."""
    from chipkit.register import RegisterError, read_register_bytes

    members = _xlsx_members()
    names = sorted(members)
    sheet = next(i for i, n in enumerate(names) if n.startswith("xl/worksheets/"))
    strings = [i for i, n in enumerate(names) if n.endswith("sharedStrings.xml")]
    seeds = [bytes([i]) + members[names[i]] for i in [sheet, *strings, *range(len(names))]]

    def run(data: bytes) -> object:
        if not data:
            return None
        parts = dict(members)
        parts[names[data[0] % len(names)]] = data[1:]
        return read_register_bytes(_zip(parts), "fuzz.xlsx")

    tokens = [b"<", b">", b"/>", b'"', b"&amp;", b'<row r="', b'<c r="A1" t="s"><v>',
              b"</v></c>", b"<f>SUM(A1)</f>", b't="e"', b't="inlineStr"', b"<is><t>x</t></is>",
              b'r="XFD1048576"', b"<!DOCTYPE x>", b"<si><t>", b"</t></si>", b"99999999",
              b'<row r="0">', b"<v></v>", b'<sheet name="a" r:id="rId9"/>']  # fmt: skip
    return Target("register-xlsx", seeds, run, (RegisterError,), tokens)


def register_zip_target() -> Target:
    """XLSX as raw bytes: the ZIP container itself mutated."""
    from chipkit.register import RegisterError, read_register_bytes

    data = (ROOT / "samples" / "households.xlsx").read_bytes()
    small = _zip({k: v for k, v in _xlsx_members().items()})
    return Target(
        "register-zip",
        [data, small],
        lambda d: read_register_bytes(d, "fuzz.xlsx"),
        (RegisterError,),
        [b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"\xff\xff", b"\x00\x00\x00\x00"],
    )


# ---------------------------------------------------------------- images


def _image_seeds() -> list[bytes]:
    from PIL import Image

    img = Image.new("L", (24, 16), 200)
    img.paste(0, (4, 4, 12, 12))
    out = []
    for fmt, kw in (("PNG", {}), ("JPEG", {"quality": 80}), ("WEBP", {}), ("BMP", {}),
                    ("TIFF", {}), ("GIF", {})):  # fmt: skip
        buf = io.BytesIO()
        img.convert("RGB" if fmt == "JPEG" else "L").save(buf, fmt, **kw)
        out.append(buf.getvalue())
    return out


def image_target() -> Target:
    """scan's image loader (load_gray) on bytes: an ImageError or a grayscale array."""
    from chipkit.errors import ChipkitError
    from chipkit.scan._image import load_gray

    tokens = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"IHDR", b"IDAT", b"\xff\xff\x00\x00",
              b"\x00\x00\xff\xff", b"II*\x00", b"RIFF", b"BM", b"GIF89a"]  # fmt: skip
    return Target("image", _image_seeds(), lambda d: load_gray(d), (ChipkitError,), tokens)


TARGETS: dict[str, Callable[[], Target]] = {
    "token": token_target,
    "token-binary": token_bytes_target,
    "bundle": bundle_target,
    "bundle-payload": bundle_payload_target,
    "register-csv": register_csv_target,
    "register-xlsx": register_xlsx_target,
    "register-zip": register_zip_target,
    "image": image_target,
}
