"""The keys: KMS keys for receipts and TOTP (kms.py), the server secrets (server_secret.py), the v2
API keys and auth token (api_keys.py: make api-key, make auth-token)."""
