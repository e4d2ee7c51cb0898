"""Audiences: marketer-defined groups (audiences/*.yml), their checks, exports and commands."""
