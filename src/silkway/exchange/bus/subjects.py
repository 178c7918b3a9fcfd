"""Subjects, durable names and headers as both buses accept them (NATS rules).

Both buses check the same rules, so that traffic the embedded set-up accepts is traffic the
NATS JetStream stream accepts too: every subject lies under ``silkway.`` (the one stream of the
Union's traffic), tokens are separated by dots, and only subscriptions use the wildcards ``*``
(exactly one token) and ``>`` (one or more tokens, last only).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

ROOT = "silkway"
"""The first token of every subject of the Union's traffic."""

STREAM_SUBJECTS = f"{ROOT}.>"

_TOKEN = re.compile(r"[^\s.*>]+")
_DURABLE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII without ':' (RFC 7230 field name)
RESERVED_HEADER_PREFIX = "nats-"
"""Headers the server interprets (``Nats-Msg-Id`` …); the buses set them, callers may not."""


def check_subject(subject: str) -> list[str]:
    """The tokens of a subject messages are published on (no wildcards), or ``ValueError``."""
    tokens = subject.split(".")
    if tokens[0] != ROOT or len(tokens) < 2:
        raise ValueError(f"subject {subject!r} must start with {ROOT!r} and a further token")
    for token in tokens:
        if not _TOKEN.fullmatch(token):
            raise ValueError(
                f"subject {subject!r}: token {token!r} is empty or has whitespace, '*' or '>'"
            )
    return tokens


def check_filter(subject: str) -> list[str]:
    """The tokens of a subscription subject, where ``*`` and ``>`` may stand as whole tokens."""
    tokens = subject.split(".")
    if tokens[0] != ROOT or len(tokens) < 2:
        raise ValueError(f"subject {subject!r} must start with {ROOT!r} and a further token")
    for i, token in enumerate(tokens):
        if token == "*" or (token == ">" and i == len(tokens) - 1):
            continue
        if not _TOKEN.fullmatch(token):
            raise ValueError(
                f"subject {subject!r}: token {token!r} is neither a name nor a wildcard"
                " ('>' only as the last token)"
            )
    return tokens


def matches(filter_tokens: Sequence[str], subject_tokens: Sequence[str]) -> bool:
    """Whether a subject falls under a filter, both already split into tokens."""
    for i, want in enumerate(filter_tokens):
        if want == ">":
            return len(subject_tokens) > i
        if i >= len(subject_tokens) or (want != "*" and want != subject_tokens[i]):
            return False
    return len(subject_tokens) == len(filter_tokens)


def subject_matches(filter_subject: str, subject: str) -> bool:
    return matches(filter_subject.split("."), subject.split("."))


def check_durable(durable: str) -> str:
    if not _DURABLE.fullmatch(durable):
        raise ValueError(
            f"durable name {durable!r} must be 1-64 characters from A-Z, a-z, 0-9, '_' and '-'"
        )
    return durable


def check_message_id(message_id: str) -> str:
    if not message_id or len(message_id) > 256 or not message_id.isprintable():
        raise ValueError(f"message id {message_id!r} must be 1-256 printable characters")
    return message_id


def check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    if not headers:
        return {}
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"header name {name!r} must be printable ASCII without ':'")
        if name.lower().startswith(RESERVED_HEADER_PREFIX):
            raise ValueError(f"header {name!r}: names starting with 'Nats-' are reserved")
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r}: the value may not contain line breaks")
    return dict(headers)
