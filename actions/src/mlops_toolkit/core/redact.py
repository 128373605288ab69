"""Credentials out of every message: each URL in a text is parsed, and its secrets masked.

A library's error may quote a URL with its credentials (`https://user:secret@host`, an S3
presigned `?X-Amz-Signature=...`). Masking by parsing, not by replacing a known password: a
one-letter password replaced as a substring would mask every such letter and so reveal itself.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

MASK = "***"
# Query parameters that carry a secret, in lower case: tokens, passwords, signed-URL parts
# (S3 presigned, GCS signed, Azure SAS `sig`).
SECRET_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "key",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "pwd",
        "sig",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
    }
)
# A URL: scheme://, then anything up to whitespace or a quote. Characters that close a sentence
# or a bracket around the URL are trimmed from its end (URL_TAIL).
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
URL_TAIL = ".,;:!?)]}"
TOKEN_USER_LENGTH = 20  # `https://ghp_xxx@github.com`: a user name this long is a token


def redact(text: str) -> str:
    """`text` with the userinfo password and secret query parameters of every URL masked."""
    return URL.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    found = match.group()
    url = found.rstrip(URL_TAIL)
    return _redact_url(url) + found[len(url) :]


def _redact_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    at = _userinfo_end(re.split(r"[?#]", rest, maxsplit=1)[0])
    userinfo = ""
    if at >= 0:
        userinfo, rest = _mask_userinfo(rest[:at]) + "@", rest[at + 1 :]
    rest, hash_, fragment = rest.partition("#")
    path, question, query = rest.partition("?")
    return (
        f"{scheme}://{userinfo}{path}{question}{_mask_pairs(query)}{hash_}{_mask_pairs(fragment)}"
    )


def _userinfo_end(head: str) -> int:
    """Index of the `@` that ends the userinfo in scheme-less `head` (no query), else -1.

    The authority ends at the first `/`, but a password with an unencoded `/` (AWS secret keys
    hold them) puts its tail in the "path": `s3://AKIA:ab/cd@bucket`. A `user:non-port` authority
    followed by an `@` later is read that way; masking a path too much is the safe mistake.
    """
    authority = head.split("/", 1)[0]
    if "@" in authority:
        return authority.rfind("@")
    if "@" in head and ":" in authority and not authority.rsplit(":", 1)[1].isdigit():
        return head.rfind("@")
    return -1


def _mask_userinfo(userinfo: str) -> str:
    if ":" in userinfo:
        return f"{userinfo.split(':', 1)[0]}:{MASK}"
    return MASK if len(userinfo) >= TOKEN_USER_LENGTH else userinfo


def _mask_pairs(query: str) -> str:
    """`a=1&token=x` -> `a=1&token=***`; the other pairs byte for byte as they were."""
    if not query:
        return query
    pairs = []
    for pair in query.split("&"):
        name, equals, _ = pair.partition("=")
        secret = equals and unquote_plus(name).strip().lower() in SECRET_PARAMS
        pairs.append(f"{name}={MASK}" if secret else pair)
    return "&".join(pairs)
