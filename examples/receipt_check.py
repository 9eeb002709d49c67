"""Your backend accepting a receipt (docs/security.md): verified against the JWKS, for your
audience, bound to this session's nonce and for the purpose it started. PyJWT with its
cryptography extra (pip install "pyjwt[crypto]")."""
import jwt


def accept_receipt(token: str, jwks_url: str, issuer: str, audience: str, session_nonce: str,
                   purpose: str) -> dict:
    """The receipt's claims, or jwt.InvalidTokenError (a foreign nonce or purpose included)."""
    key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)  # fetches again on an unknown kid
    claims = jwt.decode(token, key, algorithms=["ES256"], issuer=issuer, audience=audience,
                        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti", "nonce"]})
    if claims["nonce"] != session_nonce or claims.get("purpose") != purpose:
        raise jwt.InvalidTokenError("receipt made for another session or purpose")
    return claims  # record claims["jti"] until claims["exp"] if a receipt must be used once
