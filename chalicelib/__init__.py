"""The phone verification domain."""
