"""Every write to the audience goes through here, one module per sub-domain.

The services validate and normalize input (see `normalize`), dedupe on the natural keys
(email, phone, external id, club card) with database constraints as the last word, and keep
the derived fields of Contact — funnel stage, purchase aggregates, RFM — right
whichever door the data came in by.
"""
from .activities import (  # noqa: F401
    STAGE_BY_EVENT,
    activity_clean,
    activity_track,
    contacts_raise_stage,
    identify,
    stage_for_event,
    visitors_resolve,
)
from .base import (  # noqa: F401
    BULK_BATCH,
    contact_changed,
    contacts_add_tag,
    ensure_not_erased,
    id_batches,
    tags_get_or_create,
)
from .catalogue import (  # noqa: F401
    product_save,
    store_save,
)
from .club import (  # noqa: F401
    member_create,
    member_update,
    points_adjust,
)
from .consent import (  # noqa: F401
    consent_change,
    contacts_revoke_consent,
)
from .contacts import (  # noqa: F401
    IDENTITY_FIELDS,
    PROFILE_FIELDS,
    IdentityConflict,
    contact_create,
    contact_find,
    contact_resolve,
    contact_update,
    contact_upsert,
    identifiers_conflict,
)
from .derived import (  # noqa: F401
    contacts_recompute_all,
    contacts_refresh_funnel,
    contacts_refresh_purchase_stats,
    funnel_stage_case,
    rfm_apply,
    rfm_breakpoints_compute,
)
from .purchases import (  # noqa: F401
    MAX_UNIT_PRICE,
    purchase_clean,
    purchase_record,
)
from .removal import (  # noqa: F401
    contact_delete,
    contact_erase,
    contact_merge,
    contacts_erase,
)
