"""Automations (CONTRACT §6): flows of steps that contacts enter by a trigger and go through on their own."""
