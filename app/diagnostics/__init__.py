"""Diagnostics: when an alert fires, rank the related signals that changed with it."""
