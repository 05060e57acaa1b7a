"""The project's benchmark: `python -m bench` (or `make bench`).

It builds a throwaway workspace, serves it with gunicorn exactly as production does, and
measures the quality bars of /work/shared/quality-bars.md over HTTP. See bench/README.md.
Nothing here is imported by the app or the test suite.
"""
