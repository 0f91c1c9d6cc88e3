"""Errors of the dashboard's own making, in the hierarchy of :mod:`geo.errors`."""

from geo.errors import ObsmapError


class ExportUnavailable(ObsmapError):
    """An image or brief cannot be made on this machine (no chromium, or chromium failed); the message says why."""
