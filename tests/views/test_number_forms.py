"""Issue 9: the number edits go through forms with a required version; setup's refusal is its own exception."""
import pytest

from did_app.auth import service as auth_service
from did_app.errors import DomainError
from tests.conftest import login


def test_setup_after_setup_raises_its_own_exception(app, client):
    login(client, "admin")  # a user exists from here on
    with app.app_context():
        with pytest.raises(auth_service.SetupComplete) as caught:
            auth_service.complete_setup(email="x@example.com", display_name="X", password="correct horse battery",
                                        confirm="correct horse battery", settings={})
        assert isinstance(caught.value, DomainError) and caught.value.message == "Setup is already complete."
