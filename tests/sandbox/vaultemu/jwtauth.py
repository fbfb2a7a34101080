"""The JWT auth method (auth/jwt/): config, roles bound to claims, login with a signed JWT.

Written from hashicorp/vault-plugin-auth-jwt (path_config.go, path_role.go, path_login.go, claims.go)
and the token validator it uses (hashicorp/cap jwt: Validator.Validate), for the static-key case
(`jwt_validation_pubkeys`; no OIDC discovery or JWKS URL). Every refusal is a 400 with the plugin's
text, as logical.ErrorResponse gives it:
- "missing role", `role "x" could not be found`, "missing token";
- "error validating token: error verifying token signature: no known key successfully validated the
  token signature" (a signature no configured key verifies, or an algorithm outside RS256/ES256...);
- "error validating token: invalid issuer (iss) claim" / "invalid subject (sub) claim" / "invalid
  audience (aud) claim: audience claim does not match any expected audience" / "invalid expiration
  time (exp) claim: token is expired" / "invalid not before (nbf) claim: token not yet valid" /
  "invalid issued at (iat) claim: token issued in the future" (60 s clock-skew leeway, cap's default);
- "audience claim found in JWT but no audiences bound to the role";
- `claim "sub" not found in token` (the role's user_claim);
- "error validating claims: claim \"x\" is missing" / "claim \"x\" does not match any associated bound
  claim values" (bound_claims, string values or lists of them, exact match).
The token: display name `jwt-<user claim>`, metadata {"role": <role>}, one entity per user-claim alias.
"""

import jwt as pyjwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .config import parse_duration
from .errors import bad_request

SUPPORTED_ALGS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"]
CLOCK_SKEW = 60  # cap/jwt DefaultLeeway


def _list(value):
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


class JwtAuth:
    def __init__(self, clock):
        self.clock = clock
        self.config = None   # {"keys": [...], "pem": [...], "bound_issuer": "", "algs": [...]}
        self.roles = {}

    # -- auth/jwt/config --------------------------------------------------------------------------
    def write_config(self, body):
        pems = _list(body.get("jwt_validation_pubkeys"))
        keys = []
        for pem in pems:
            try:
                keys.append(load_pem_public_key(pem.encode()))
            except (ValueError, TypeError):
                raise bad_request("error parsing public key: invalid PEM") from None
        if not pems and not body.get("oidc_discovery_url") and not body.get("jwks_url"):
            raise bad_request("exactly one of 'jwt_validation_pubkeys', 'jwks_url' or 'oidc_discovery_url' must be set")
        if not pems:
            raise bad_request("only jwt_validation_pubkeys is emulated (no OIDC discovery or JWKS URL)")
        algs = _list(body.get("jwt_supported_algs"))
        self.config = {"pem": pems, "keys": keys, "bound_issuer": str(body.get("bound_issuer") or ""),
                       "algs": algs}

    def read_config(self):
        if self.config is None:
            return None
        return {"jwt_validation_pubkeys": list(self.config["pem"]), "bound_issuer": self.config["bound_issuer"],
                "jwt_supported_algs": list(self.config["algs"]), "oidc_discovery_url": "", "jwks_url": "",
                "default_role": ""}

    # -- auth/jwt/role/:name ------------------------------------------------------------------------
    def write_role(self, name, body):
        role = dict(self.roles.get(name) or {"role_type": "jwt", "bound_audiences": [], "bound_subject": "",
                                             "bound_claims": {}, "user_claim": "", "token_policies": [],
                                             "token_ttl": 0, "token_max_ttl": 0})
        for key in ("bound_audiences", "token_policies", "policies"):
            if key in body:
                role["token_policies" if key == "policies" else key] = _list(body[key])
        for key in ("bound_subject", "user_claim", "role_type"):
            if key in body:
                role[key] = str(body[key] or "")
        if "bound_claims" in body:
            claims = body["bound_claims"]
            if not isinstance(claims, dict):
                raise bad_request("error converting input for field bound_claims: expected a map")
            role["bound_claims"] = claims
        for key in ("token_ttl", "token_max_ttl", "ttl", "max_ttl"):
            if key in body:
                try:
                    role["token_" + key if not key.startswith("token_") else key] = parse_duration(body[key], key)
                except ValueError as exc:
                    raise bad_request(f"error converting input for field {exc}") from None
        if role["role_type"] not in ("jwt", "oidc"):
            raise bad_request(f"invalid 'role_type': {role['role_type']}")
        if not role["user_claim"]:
            raise bad_request("a user claim must be defined on the role")
        if role["role_type"] == "jwt" and not (role["bound_audiences"] or role["bound_subject"]
                                               or role["bound_claims"]):
            raise bad_request("must have at least one bound constraint when creating/updating a role")
        self.roles[name] = role

    def read_role(self, name):
        role = self.roles.get(name)
        return None if role is None else dict(role)

    # -- auth/jwt/login -----------------------------------------------------------------------------
    def login(self, body):
        """(role dict, user name, all claims) or VaultError with the plugin's message."""
        if self.config is None:
            raise bad_request("could not load configuration")
        name = str(body.get("role") or "")
        if not name:
            raise bad_request("missing role")
        role = self.roles.get(name)
        if role is None:
            raise bad_request(f"role {name!r} could not be found".replace("'", '"'))
        if role["role_type"] == "oidc":
            raise bad_request("role with oidc role_type is not allowed")
        token = str(body.get("jwt") or "")
        if not token:
            raise bad_request("missing token")
        claims = self._verify(token, role)
        aud = claims.get("aud")
        if not role["bound_audiences"] and aud not in (None, "", []):
            raise bad_request("audience claim found in JWT but no audiences bound to the role")
        user = claims.get(role["user_claim"])
        if user is None:
            raise bad_request(f'claim "{role["user_claim"]}" not found in token')
        if not isinstance(user, str):
            raise bad_request(f'claim "{role["user_claim"]}" could not be converted to string')
        for claim, expected in role["bound_claims"].items():
            if claim not in claims:
                raise bad_request(f'error validating claims: claim "{claim}" is missing')
            allowed = expected if isinstance(expected, list) else [expected]
            actual = claims[claim] if isinstance(claims[claim], list) else [claims[claim]]
            if not any(str(a) in [str(x) for x in allowed] for a in actual):
                raise bad_request(f'error validating claims: claim "{claim}" does not match any associated '
                                  'bound claim values')
        return name, role, user

    def _verify(self, token, role):
        algs = self.config["algs"] or SUPPORTED_ALGS
        claims = None
        for key in self.config["keys"]:
            try:
                claims = pyjwt.decode(token, key=key, algorithms=algs,
                                      options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                               "verify_aud": False, "verify_iss": False, "verify_sub": False})
                break
            except (pyjwt.PyJWTError, TypeError, ValueError):  # wrong signature, or a key of another type
                continue
        if claims is None:
            try:
                pyjwt.get_unverified_header(token)
            except pyjwt.DecodeError:
                raise bad_request("error validating token: error verifying token signature: malformed token") from None
            raise bad_request("error validating token: error verifying token signature: no known key successfully "
                              "validated the token signature")
        prefix = "error validating token: "
        if self.config["bound_issuer"] and claims.get("iss") != self.config["bound_issuer"]:
            raise bad_request(prefix + "invalid issuer (iss) claim")
        if role["bound_subject"] and claims.get("sub") != role["bound_subject"]:
            raise bad_request(prefix + "invalid subject (sub) claim")
        if role["bound_audiences"]:
            aud = claims.get("aud")
            auds = aud if isinstance(aud, list) else ([aud] if aud else [])
            if not set(auds) & set(role["bound_audiences"]):
                raise bad_request(prefix + "invalid audience (aud) claim: audience claim does not match any "
                                           "expected audience")
        now = self.clock()
        if "exp" not in claims:  # cap/jwt: without exp, iat + the expiration leeway (150 s) bounds the token
            if "iat" not in claims:
                raise bad_request(prefix + "no issued at (iat) or expiration time (exp) claim in token")
            claims = dict(claims, exp=claims["iat"] + 150) if isinstance(claims["iat"], (int, float)) else claims
        for claim in ("exp", "nbf", "iat"):
            if claim in claims and not isinstance(claims[claim], (int, float)):
                raise bad_request(prefix + f"invalid {claim} claim: not a number")
        if "nbf" in claims and now + CLOCK_SKEW < claims["nbf"]:
            raise bad_request(prefix + "invalid not before (nbf) claim: token not yet valid")
        if "exp" in claims and now - CLOCK_SKEW > claims["exp"]:
            raise bad_request(prefix + "invalid expiration time (exp) claim: token is expired")
        if "iat" in claims and now + CLOCK_SKEW < claims["iat"]:
            raise bad_request(prefix + "invalid issued at (iat) claim: token issued in the future")
        return claims

