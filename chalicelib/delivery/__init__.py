"""Delivery receipts: providers' callbacks (callbacks/), the tracker that records them, their routes."""
