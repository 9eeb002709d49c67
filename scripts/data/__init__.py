"""Operator commands on the data a stage keeps (make export, make forget)."""
