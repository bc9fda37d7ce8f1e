"""Every write to the audience goes through here, one module per sub-domain.

The services take validated, typed values (the API's serializers, the admin's forms and the CSV import
read raw input with `normalize`), dedupe on the natural keys
(email, phone, external id, club card) with database constraints as the last word, and keep
the derived fields of Contact — funnel stage, purchase aggregates, RFM — right
whichever door the data came in by.
"""

from .activities import (
    STAGE_BY_EVENT,
    activity_track,
    contact_raise_stage,
    contacts_raise_stages,
    identify,
    stage_for_event,
    visitors_resolve,
)
from .base import (
    BULK_BATCH,
    contact_changed,
    contacts_add_tag,
    ensure_not_erased,
    id_batches,
    tags_get_or_create,
)
from .catalogue import (
    product_save,
    store_save,
)
from .club import (
    MEMBER_FIELDS,
    member_create,
    member_update,
    points_adjust,
)
from .consent import (
    consent_change,
    contacts_revoke_consent,
)
from .contacts import (
    CONSENT_FIELDS,
    IDENTITY_FIELDS,
    INPUT_FIELDS,
    PROFILE_FIELDS,
    IdentityConflict,
    contact_create,
    contact_find,
    contact_resolve,
    contact_update,
    contact_upsert,
    identifiers_conflict,
)
from .derived import (
    contacts_add_purchases,
    contacts_recompute_all,
    contacts_refresh_funnel,
    contacts_refresh_purchase_stats,
    funnel_stage_case,
    rfm_apply,
    rfm_breakpoints_compute,
)
from .purchases import (
    PurchaseLine,
    purchase_record,
    purchases_delete,
)
from .removal import (
    contact_delete,
    contact_erase,
    contact_merge,
    contacts_erase,
)

__all__ = [
    "BULK_BATCH",
    "CONSENT_FIELDS",
    "IDENTITY_FIELDS",
    "INPUT_FIELDS",
    "MEMBER_FIELDS",
    "PROFILE_FIELDS",
    "STAGE_BY_EVENT",
    "IdentityConflict",
    "PurchaseLine",
    "activity_track",
    "consent_change",
    "contact_changed",
    "contact_create",
    "contact_delete",
    "contact_erase",
    "contact_find",
    "contact_merge",
    "contact_raise_stage",
    "contact_resolve",
    "contact_update",
    "contact_upsert",
    "contacts_add_purchases",
    "contacts_add_tag",
    "contacts_erase",
    "contacts_raise_stages",
    "contacts_recompute_all",
    "contacts_refresh_funnel",
    "contacts_refresh_purchase_stats",
    "contacts_revoke_consent",
    "ensure_not_erased",
    "funnel_stage_case",
    "id_batches",
    "identifiers_conflict",
    "identify",
    "member_create",
    "member_update",
    "points_adjust",
    "product_save",
    "purchase_record",
    "purchases_delete",
    "rfm_apply",
    "rfm_breakpoints_compute",
    "stage_for_event",
    "store_save",
    "tags_get_or_create",
    "visitors_resolve",
]
