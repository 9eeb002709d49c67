"""make run: the local server (serve.py, routed as API Gateway routes: gateway.py), the local
stream of events (events.py), and the set-up that starts them (run_local.py)."""
