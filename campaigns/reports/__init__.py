"""Measurement: purchases attributed to the mail that brought them, holdouts, spend per channel and the KPIs
of every funnel layer (CONTRACT §7–§8)."""
