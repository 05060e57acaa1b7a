"""Names the numbers templates use, installed as Jinja globals (blocks rendered alone see them too)."""
from did_app.models.numbers import CAPACITY_MODES, NUMBER_TYPES, STATUSES
from did_app.models.registration import VERIFICATION_STATES
from did_app.numbers import cells, display, queries, row_actions

COLUMNS = (("number", "Number"), ("location", "Location"), ("type", "Type"), ("status", "Status"),
           ("time", "Time left"), ("features", "Features"), ("description", "Description"),
           ("identity", "Identity"), ("voice", "Voice route"), ("sms", "SMS route"),
           ("capacity", "Capacity"), ("renewal", "Renewal"), ("services", "Services"),
           ("actions", "Actions"))
SORTABLE = {"number": "number", "location": "country", "status": "status", "time": "expires"}


def try_order(members, index: int) -> int:
    """1-based rank by priority: equal priorities share a rank (1, 2, 2, 3 …)."""
    priorities = sorted({m.priority for m in members})
    return priorities.index(members[index].priority) + 1


def install(app) -> None:
    """No URL is built here: the cells build theirs per request (cells._urls), so a sub-path works."""
    app.teardown_request(cells.forget_urls)
    app.jinja_env.globals.update(
        feature_icons=cells.feature_icons, number_url=cells.number_url,
        badge_for=cells.badge_for, route_for=cells.route_for, services_for=cells.services_for,
        editable_cell=cells.editable_cell, conflict=None,
        status_labels=STATUSES, type_labels=NUMBER_TYPES, capacity_labels=CAPACITY_MODES,
        feature_labels=display.LABELS["feature"], verification_labels=VERIFICATION_STATES,
        quick_filters=queries.QUICK_FILTERS, quick_labels=queries.QUICK_LABELS,
        columns=COLUMNS, sortable=SORTABLE, per_page_choices=queries.PER_PAGE,
        clear_all={**{k: [] for k in queries.LIST_KEYS}, **{k: "" for k in queries.TEXT_KEYS}, "page": 1},
        time_left=display.time_left, location_text=display.location_text,
        capacity_text=display.capacity_text, renewal_text=display.renewal_text,
        verification_state=display.verification_state, effective_capacity=display.effective_capacity,
        row_menu=row_actions.row_menu, batch_actions=row_actions.BATCH_ACTIONS,
        batch_new_url=row_actions.batch_new_url, row_links=row_actions.row_links,
        row_placeholders=(row_actions.ID_PLACEHOLDER, row_actions.DIGITS_PLACEHOLDER),
        relative=display.relative, next_price=display.price_of_next_renewal, try_order=try_order)
