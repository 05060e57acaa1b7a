"""The write-side checks every named, versioned configuration object shares (did_app/object_checks.py)."""
from types import SimpleNamespace

import pytest

from did_app import clock, object_checks
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.models import ConfigurationProfile
from tests import factories as f


def test_clean_name_and_description_trim_and_refuse_lengths():
    assert object_checks.clean_name("  Office ") == "Office"
    with pytest.raises(DomainError) as err:
        object_checks.clean_name("   ")
    assert err.value.field == "name"
    assert object_checks.clean_description("  ") is None
    with pytest.raises(DomainError) as err:
        object_checks.clean_description("x" * 256)
    assert err.value.field == "description"


def test_check_version_refuses_a_stale_edit_only():
    row = SimpleNamespace(version=3)
    object_checks.check_version(row, 3)
    object_checks.check_version(row, None)  # a service call without a form
    with pytest.raises(Conflict):
        object_checks.check_version(row, 2)


def test_name_taken_ignores_case_and_the_row_itself(app):
    with app.app_context():
        trunk = f.make_voice_trunk(name="sip-a")
        profile = ConfigurationProfile(name="Office", voice_route_id=trunk.id, created_at=clock.now())
        db.session.add(profile)
        db.session.flush()
        assert object_checks.name_taken(db.session, ConfigurationProfile, "OFFICE")
        assert not object_checks.name_taken(db.session, ConfigurationProfile, "office", profile.id)
        assert object_checks.existing(db.session, ConfigurationProfile, profile.id, "gone") is profile
        with pytest.raises(DomainError, match="gone"):
            object_checks.existing(db.session, ConfigurationProfile, profile.id + 1, "gone")
        db.session.rollback()
