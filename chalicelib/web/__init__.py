"""The web page at /, its static files (static/), the local inbox and the seed-compatible routes."""
