"""Transaction ids are scoped to their institution (issue 17 item 7): two institutions may
use the same id, and one never learns of the other's.

The ledger keeps one namespace of transaction ids; the service keeps an institution's ids
in it as `<institution>:<id>` and shows the institution its own id back. The bureau's ids
(manual reimbursements, the console's) are the ledger's ids as they are, without a `:`:
the bureau reads and cancels by the ledger's ids (what its lists show). A settlement made
before the ids were scoped is found under its own id, for its own institution only.

What an institution cannot see is answered exactly as what does not exist: 404 E_NOT_FOUND
naming the field, with the id it gave.
"""

from sqlalchemy import Engine

from gongji.errors import InputError
from gongji.ledger import views
from gongji.model import TEXT_MAX
from gongji.service.auth import Caller

SEP = ":"


def key(caller: Caller, txn_id: str, field: str) -> str:
    """The ledger's id for the caller's `txn_id` (refused, naming `field`, if too long)."""
    if caller.bureau:
        if SEP in txn_id:
            raise InputError(field, f"the bureau's transaction ids have no '{SEP}'")
        return txn_id
    scoped = f"{caller.institution}{SEP}{txn_id}"
    if len(scoped) > TEXT_MAX:
        most = TEXT_MAX - len(caller.institution) - len(SEP)
        raise InputError(field, f"at most {most} characters for institution {caller.institution}")
    return scoped


def shown(caller: Caller, stored: str | None) -> str | None:
    """The ledger's id as the caller knows it: its own id, without its institution's code."""
    return stored if caller.bureau else unscoped(caller.institution, stored)


def unscoped(institution: str, stored: str | None) -> str | None:
    """The ledger's id as `institution` gave it."""
    prefix = f"{institution}{SEP}"
    if stored is not None and stored.startswith(prefix):
        return stored[len(prefix) :]
    return stored


def find(db: Engine, caller: Caller, txn_id: str, field: str) -> views.SettlementRecord | None:
    """The caller's settlement under its `txn_id`, if it can see one."""
    if caller.bureau:
        return views.find_settlement(db, txn_id)
    found = views.find_settlement(db, key(caller, txn_id, field))
    if found is None:  # made before ids were scoped: the caller's own only
        found = views.find_settlement(db, txn_id)
    if found is None or found.institution != caller.institution:
        return None
    return found


def settlement(db: Engine, caller: Caller, txn_id: str, field: str) -> views.SettlementRecord:
    """As `find`; 404 E_NOT_FOUND naming `field` if there is none the caller can see."""
    found = find(db, caller, txn_id, field)
    if found is None:
        raise InputError(field, f"no settlement {txn_id}", "E_NOT_FOUND")
    return found
