"""Door plates ("snowflake plates"): layout, writers, batch issuing and the ledger.

    from chipkit.keys import Keyring
    from chipkit.register import read_register
    from chipkit.plates import BatchOptions, run_batch

    result = run_batch(read_register("households.csv"), Keyring.open("KEYS"),
                       BatchOptions(out=Path("OUT"), fmt="pdf", sheet="a4"))

Modules: ``batch`` (the run, in named steps; ``check_register`` the dry run), ``records``
(typed jobs and manifest rows), ``pool`` + ``worker`` + ``lifeline`` (rendering on worker
processes that die with the batch), ``recovery`` (ledger bookkeeping, interrupted runs),
``ledger`` (the issuance ledger), ``manifest`` + ``raw_rows`` (manifest and rejected.csv),
``files`` (safe names, atomic writes), ``layout`` + ``writers`` + ``carriers`` (the plate).
See docs/plates.md.
"""

from chipkit.plates.batch import (
    FORMATS,
    BatchError,
    BatchOptions,
    BatchResult,
    CheckResult,
    check_register,
    csv_safe,
    run_batch,
    safe_filename,
)
from chipkit.plates.carriers import CarrierUnavailable, QRCarrier, Symbol, get_carrier
from chipkit.plates.layout import PLATE_H_MM, PLATE_W_MM, SYMBOL_MM, PlateData, plate_data
from chipkit.plates.ledger import Ledger, LedgerError

__all__ = [
    "FORMATS",
    "PLATE_H_MM",
    "PLATE_W_MM",
    "SYMBOL_MM",
    "BatchError",
    "BatchOptions",
    "BatchResult",
    "CarrierUnavailable",
    "CheckResult",
    "Ledger",
    "LedgerError",
    "PlateData",
    "QRCarrier",
    "Symbol",
    "check_register",
    "csv_safe",
    "get_carrier",
    "plate_data",
    "run_batch",
    "safe_filename",
]
