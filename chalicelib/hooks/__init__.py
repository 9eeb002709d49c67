"""The identity platforms' hooks (docs/identity-platforms.md): routes.py (the blueprint),
core.py (what they share: the secret, the replay guard, the start), one module per platform."""
