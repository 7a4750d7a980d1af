"""Incidents: alerts that fired together, folded into one row with a merged timeline."""
