"""Responses and errors in Vault's HTTP shapes."""

from dataclasses import dataclass


def multierror(*messages):
    """go-multierror's text, which Vault puts in `errors` for errors raised (not returned) by a backend."""
    head = "1 error occurred:" if len(messages) == 1 else f"{len(messages)} errors occurred:"
    return head + "\n" + "".join(f"\t* {m}\n" for m in messages) + "\n"


PERMISSION_DENIED = multierror("permission denied")            # valid token, no capability
INVALID_TOKEN = multierror("permission denied", "invalid token")  # unknown, expired or revoked token


class VaultError(Exception):
    """An error answer: HTTP status and the strings of Vault's {"errors": [...]} body."""

    def __init__(self, status, *messages):
        super().__init__(messages[0] if messages else str(status))
        self.status = status
        self.messages = list(messages)


def bad_request(message):
    """logical.ErrorResponse(msg) + ErrInvalidRequest: 400 with the bare message."""
    return VaultError(400, message)


def not_found():
    """A read that found nothing: 404 with an empty error list."""
    return VaultError(404)


@dataclass
class Resp:
    """A successful (or data-carrying 404) answer of a backend."""

    status: int = 200
    data: object = None
    auth: dict = None
    warnings: list = None
    top_level: bool = False  # older sys/ endpoints also copy `data` to the top of the body
    wrap_info: dict = None   # sys/wrapping/rewrap answers a new wrap_info


    @classmethod
    def empty(cls):
        return cls(status=204)
