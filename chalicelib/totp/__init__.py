"""Authenticator apps (TOTP): the factors, their challenges and limits, the v1 routes."""
