"""The batch actions (batch.md §3) and their registry. An action is a module here defining one
`Action` instance; add it to ACTIONS below. See base.py for what an action declares."""
from did_app.batches.actions.assign_details import ASSIGN_DETAILS
from did_app.batches.actions.base import Action, InputForm, Plan, Rule
from did_app.batches.actions.billing_cycles import BILLING_CYCLES
from did_app.batches.actions.cancel import CANCEL
from did_app.batches.actions.capacity_group import CAPACITY_GROUP
from did_app.batches.actions.capacity_limit import CAPACITY_LIMIT
from did_app.batches.actions.dedicated import DEDICATED
from did_app.batches.actions.description import DESCRIPTION
from did_app.batches.actions.next_mode import NEXT_MODE
from did_app.batches.actions.profile import PROFILE
from did_app.batches.actions.remove import REMOVE
from did_app.batches.actions.renew import RENEW
from did_app.batches.actions.restore import RESTORE
from did_app.batches.actions.routes import SMS_ROUTE, VOICE_ROUTE

__all__ = ["ACTIONS", "UNDO", "Action", "InputForm", "Plan", "Rule", "action_for"]
UNDO = "undo"  # an undo batch: not in the menu, it writes its original's fields

# in the order of the Batch actions menu
ACTIONS: dict[str, Action] = {action.code: action for action in (
    RENEW, ASSIGN_DETAILS, CAPACITY_LIMIT, CAPACITY_GROUP, DEDICATED, NEXT_MODE, PROFILE, VOICE_ROUTE,
    SMS_ROUTE, DESCRIPTION, BILLING_CYCLES, CANCEL, REMOVE, RESTORE,
)}


def action_for(batch) -> Action:
    """The action whose fields a batch writes: an undo's is its original's."""
    return ACTIONS[batch.params["action"] if batch.action == UNDO else batch.action]
