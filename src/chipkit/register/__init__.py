"""The household register: one reader for plates, the cases import and the service.

The register is what village clerks keep in Excel. :func:`read_register` turns a CSV
(UTF-8, UTF-8 with BOM, GB18030/GBK, UTF-16) or XLSX file (decided by content) into
validated :class:`Household` records, :class:`StaffRow` records (officers: a role and a
unit, no household) and a :class:`RowProblem` for every row that cannot be used, so that a
batch can go on with the good rows::

    from chipkit.register import read_register
    reg = read_register("households.csv")
    reg.encoding            # "utf-8", "utf-8-sig", "gb18030", "utf-16" or "xlsx"
    for h in reg.households: ...
    for p in reg.problems: print(p)   # "row 7, village_code: ... (bad_village_code)"

One alias table (:data:`COLUMN_ALIASES`, English or Chinese, ignoring case, spaces,
``_``/``-``, brackets and full-width forms), one set of field rules
(:mod:`chipkit.register.fields`), and row numbers as Excel shows them (title rows above the
header and blank lines counted). Plates and cases take the fields they need from the same
records. Nothing here prints, and nothing here depends on plates or cases.

Layout: ``fields`` (aliases, rules, records), ``csvtext`` (decoding), ``xlsx`` (a bounded
XLSX reader: zip bombs, corrupt parts and formulas), ``reader`` (the entry point).
"""

from chipkit.register.fields import (
    ALL_FIELDS,
    BAD_FIELD,
    BAD_ID,
    BAD_STAFF,
    BAD_VILLAGE,
    COLUMN_ALIASES,
    DEFAULT_USE,
    DUPLICATE,
    FORMULA,
    MAX_LEN,
    MAX_TEXT,
    MISSING_ID,
    MISSING_VILLAGE,
    REQUIRED,
    UNKNOWN_ENCODING,
    Household,
    RegisterError,
    RowProblem,
    SheetCell,
    StaffRow,
    clean_text,
    formula_trigger,
    match_columns,
    norm_header,
)
from chipkit.register.reader import MAX_FILE_BYTES, Register, read_register, read_register_bytes

__all__ = [
    "ALL_FIELDS",
    "BAD_FIELD",
    "BAD_ID",
    "BAD_STAFF",
    "BAD_VILLAGE",
    "COLUMN_ALIASES",
    "DEFAULT_USE",
    "DUPLICATE",
    "FORMULA",
    "MAX_FILE_BYTES",
    "MAX_LEN",
    "MAX_TEXT",
    "MISSING_ID",
    "MISSING_VILLAGE",
    "REQUIRED",
    "UNKNOWN_ENCODING",
    "Household",
    "Register",
    "RegisterError",
    "RowProblem",
    "SheetCell",
    "StaffRow",
    "clean_text",
    "formula_trigger",
    "match_columns",
    "norm_header",
    "read_register",
    "read_register_bytes",
]
