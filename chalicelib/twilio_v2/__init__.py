"""Twilio Verify's v2 API over this service's own domain (issue 20): the wire dialect
(wire.py), the Services (services.py), the API keys (credentials.py) and the routes
(routes.py). One domain, two dialects: no rule of the domain is written here again."""
