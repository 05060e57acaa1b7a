"""Which configuration rule gives a number its profile (configuration.md §8–§9). Pure rules: they
read, never write, and import no area.

`match_rule()` is the one place that decides which rule applies to a number: the rules page's Test
box, number intake (lifecycle/create.py) and port-in all come here. `rule_matcher()` loads the rules
once for many numbers; the per-number check is `rule_matches()`.
"""
from collections.abc import Callable

import sqlalchemy as sa

from did_app.db import db
from did_app.models import CapacityGroup, Rule, SmsRoute, VoiceRoute
from did_app.models.configuration import RULE_LEVELS

_LEVEL_RANK = {level: rank for rank, level in enumerate(RULE_LEVELS)}
# what a profile can set, in the order the pages show it: (number column, audit key, label, model)
PROFILE_FIELDS = (("voice_route_id", "voice_route", "Voice route", VoiceRoute),
                  ("sms_route_id", "sms_route", "SMS route", SmsRoute),
                  ("capacity_group_id", "capacity_group", "Capacity group", CapacityGroup),
                  ("capacity_limit", "capacity_limit", "Capacity limit", None),
                  ("description", "description", "Description", None))


def _key(text: str | None) -> str | None:
    """Region and city names match case-insensitively after trimming."""
    return text.strip().casefold() if text and text.strip() else None


def dimension_count(rule: Rule) -> int:
    return sum(1 for dim in (rule.countries, rule.number_types, rule.regions, rule.cities) if dim)


def precedence(rule: Rule) -> tuple:
    """Sort key, highest first: level (city > region > type > country > global), then more
    non-empty dimensions, then the newest created_at, then the highest id."""
    return (_LEVEL_RANK[rule.level], dimension_count(rule), rule.created_at, rule.id)


def rules_in_evaluation_order() -> list[Rule]:
    """Every rule, enabled or not, in the order §9 evaluates them."""
    return sorted(db.session.scalars(sa.select(Rule)).unique(), key=precedence, reverse=True)


def rule_matches(rule: Rule, country: str, number_type: str, region: str | None, city: str | None) -> bool:
    """Every non-empty dimension holds the number's value; disabled rules never match."""
    if not rule.enabled:
        return False
    if rule.countries and country not in rule.countries:
        return False
    if rule.number_types and number_type not in rule.number_types:
        return False
    if rule.regions and _key(region) not in {_key(r) for r in rule.regions}:
        return False
    return not rule.cities or _key(city) in {_key(c) for c in rule.cities}


def rule_matcher() -> Callable[[str, str, str | None, str | None], Rule | None]:
    """match_rule() over one load of the rules, for intake of many numbers at once."""
    ordered = [r for r in rules_in_evaluation_order() if r.enabled]

    def match(country: str, number_type: str, region: str | None, city: str | None) -> Rule | None:
        # sorted by precedence, so the first rule that matches is the winner
        return next((r for r in ordered if rule_matches(r, country, number_type, region, city)), None)
    return match


def match_rule(country: str, number_type: str, region: str | None, city: str | None) -> Rule | None:
    """The one rule whose profile applies to a number with these values, or None (§9)."""
    return rule_matcher()(country, number_type, region, city)
