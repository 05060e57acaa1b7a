"""Domain rules several areas share, below every area (engineering.md §1).

A module per concept. Each rule that a selection of numbers is classified by has two forms that
tests hold in agreement: the per-number check with its message, and the SQL predicate. Rules read;
they never write, and they import only models and the db helpers, never an area.
"""
