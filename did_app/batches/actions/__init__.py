"""The batch actions (batch.md §3) and their registry. An action is a module here defining one
`Action` instance; add it to ACTIONS below. See base.py for what an action declares."""
from did_app.batches.actions.assign_details import ASSIGN_DETAILS
from did_app.batches.actions.base import Action, InputForm, Plan, Rule
from did_app.batches.actions.capacity_group import CAPACITY_GROUP
from did_app.batches.actions.capacity_limit import CAPACITY_LIMIT
from did_app.batches.actions.dedicated import DEDICATED
from did_app.batches.actions.description import DESCRIPTION
from did_app.batches.actions.next_mode import NEXT_MODE
from did_app.batches.actions.profile import PROFILE
from did_app.batches.actions.routes import SMS_ROUTE, VOICE_ROUTE

__all__ = ["ACTIONS", "UNDO", "Action", "InputForm", "Plan", "Rule", "action_for"]
UNDO = "undo"  # an undo batch: not in the menu, it writes its original's fields

# in the order of the Batch actions menu
ACTIONS: dict[str, Action] = {action.code: action for action in (
    PROFILE, VOICE_ROUTE, SMS_ROUTE, CAPACITY_LIMIT, DESCRIPTION,
    CAPACITY_GROUP, DEDICATED, NEXT_MODE, ASSIGN_DETAILS,
)}


def action_for(batch) -> Action:
    """The action whose fields a batch writes: an undo's is its original's."""
    return ACTIONS[batch.params["action"] if batch.action == UNDO else batch.action]
