"""House rules that a grep can check: no wall clock, no CDN, no inline script or style, no hx-on; and
what a web process loads."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = list((ROOT / "templates").rglob("*.html"))
PYTHON = [p for p in (ROOT / "did_app").rglob("*.py")]


def test_only_clock_py_reads_the_wall_clock():
    offenders = [str(p) for p in PYTHON if p.name != "clock.py"
                 and re.search(r"datetime\.now\(|utcnow\(|date\.today\(|time\.time\(", p.read_text())]
    assert offenders == []


def test_no_remote_asset_urls():
    pattern = re.compile(r"""(src|href)\s*=\s*["']https?://|url\(\s*["']?https?://|@import\s+["']?https?://""")
    files = TEMPLATES + [p for p in (ROOT / "static").iterdir() if p.suffix in (".css", ".html")]
    offenders = [str(p) for p in files if pattern.search(p.read_text(errors="ignore"))]
    assert offenders == []


def test_no_inline_script_style_attributes_or_hx_on():
    for path in TEMPLATES:
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"\sstyle\s*=", text), path
        assert not re.search(r"\shx-on[:-]", text), path
        assert "hx-vars" not in text and "hx-params" not in text and "js:" not in text, path


def test_htmx_is_vendored_with_its_version_and_checksum():
    import hashlib
    path = ROOT / "static" / "htmx-2.0.11.min.js"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
    assert (ROOT / "static" / "pico-2.1.1.min.css").exists()


def test_the_web_app_loads_icalendar_only_for_the_feed():
    """icalendar costs each gunicorn process about 3 MB (B10); only the calendar feed needs it."""
    code = ("import sys; from did_app import create_app; "
            "create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://', 'SECRET_KEY': 'x', 'SCHEDULER': 'off'}); "
            "print('icalendar' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    assert done.stdout.strip() == "False", done.stderr[-2000:]
