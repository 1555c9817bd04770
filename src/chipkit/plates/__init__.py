"""Door plates ("snowflake plates"): layout, writers, batch issuing and the ledger.

    from chipkit.keys import Keyring
    from chipkit.register import read_register
    from chipkit.plates import BatchOptions, run_batch

    result = run_batch(read_register("households.csv"), Keyring.open("KEYS"),
                       BatchOptions(out=Path("OUT"), fmt="pdf", sheet="a4"))

See docs/plates.md.
"""

from chipkit.plates.batch import (
    FORMATS,
    BatchError,
    BatchOptions,
    BatchResult,
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
    "Ledger",
    "LedgerError",
    "PlateData",
    "QRCarrier",
    "Symbol",
    "csv_safe",
    "get_carrier",
    "plate_data",
    "run_batch",
    "safe_filename",
]
