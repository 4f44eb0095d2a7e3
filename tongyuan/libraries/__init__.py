"""The libraries: typed models of the hub's tables and the only code that writes them.

Importing this package registers every table on :data:`metadata`, which migrations and
the model/migration comparison rely on.
"""

from tongyuan.libraries.adapter_states import AdapterState, load_state, save_state
from tongyuan.libraries.base import Base
from tongyuan.libraries.batches import Batch, close_batch, open_batch
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import (
    CaseEventRow,
    CaseHistoryConflict,
    CaseRow,
    case_events,
    case_record,
    find_case,
    find_cases_by_applicant_id,
    write_case,
)
from tongyuan.libraries.claims import Claim, ClaimEvent, ItemDelivery, ItemReview, ReviewEvent
from tongyuan.libraries.consistency import (
    BaseCatalogueEntry,
    ConsistencyFinding,
    NodeItem,
)
from tongyuan.libraries.items import (
    ItemVersion,
    cancel_item,
    current_item,
    item_history,
    write_item,
)
from tongyuan.libraries.license_checks import LicenseCheckRow, LicenseVerifyState
from tongyuan.libraries.licenses import LicenseRow, license_record, write_license
from tongyuan.libraries.materials import (
    BlobRow,
    BlobStoreError,
    MaterialRow,
    blob_path,
    find_material,
    store_blob,
    write_material,
)
from tongyuan.libraries.quality import QualityResult, QualityRun
from tongyuan.libraries.quarantine import (
    QuarantineEntry,
    add_quarantined,
    quarantined_payload,
    set_quarantine_status,
)
from tongyuan.libraries.serials import DbSerialAllocator, SerialCounter
from tongyuan.libraries.signed_deliveries import SignedDelivery

metadata = Base.metadata

__all__ = [
    "AdapterState",
    "Base",
    "BaseCatalogueEntry",
    "Batch",
    "BlobRow",
    "BlobStoreError",
    "CaseEventRow",
    "CaseHistoryConflict",
    "CaseRow",
    "CaseTimeliness",
    "Claim",
    "ClaimEvent",
    "ConsistencyFinding",
    "DbSerialAllocator",
    "ItemDelivery",
    "ItemReview",
    "ItemVersion",
    "LicenseCheckRow",
    "LicenseRow",
    "LicenseVerifyState",
    "MaterialRow",
    "NodeItem",
    "QualityResult",
    "QualityRun",
    "QuarantineEntry",
    "ReviewEvent",
    "SerialCounter",
    "SignedDelivery",
    "add_quarantined",
    "blob_path",
    "cancel_item",
    "case_events",
    "case_record",
    "close_batch",
    "current_item",
    "find_case",
    "find_cases_by_applicant_id",
    "find_material",
    "item_history",
    "license_record",
    "load_state",
    "metadata",
    "open_batch",
    "quarantined_payload",
    "save_state",
    "set_quarantine_status",
    "store_blob",
    "write_case",
    "write_item",
    "write_license",
    "write_material",
]
