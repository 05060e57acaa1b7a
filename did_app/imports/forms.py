"""Input shapes for the CSV import page."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField

from did_app.form_fields import AttachMixin


class RunForm(AttachMixin, FlaskForm):
    """How to run a file: on the upload form and under a report ("run again")."""
    dry_run = BooleanField("Dry run: check the file and report, write nothing", default=True)
    skip_existing = BooleanField("Skip numbers already in the inventory")


class UploadForm(RunForm):
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to import.")])
