"""Signals geo sends so that capabilities built on it can follow without geo importing them."""

from django.dispatch import Signal

# Sent after `relocate_reports` rewrote the department/municipality codes of existing reports
# (directly in the table, outside the report services). Argument: changed (rows rewritten).
reports_relocated = Signal()
