"""What the factors (TOTP now, passkeys next) share: entities and their factors, receipts."""
