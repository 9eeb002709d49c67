"""The parts of the configuration (chalicelib/config.py's Config) that have their own
variables and rules: limits, test numbers, events, receipts, TOTP."""
