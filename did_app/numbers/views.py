from flask import Blueprint
bp = Blueprint("numbers", __name__)

@bp.get("/")
def root():
    from flask import redirect, url_for
    return redirect(url_for("numbers.index"))

@bp.get("/numbers")
def index():
    return "placeholder"
