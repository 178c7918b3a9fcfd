"""The embedded Union as a caller sees it: each node's HTTP API, signed in as one of its accounts.

The demo traffic goes through here and nowhere else: it lodges, acts and registers as the
declarants, officers and administrators of the demo would, with a token of each got from the
node's token endpoint (OAuth 2.0 password grant) and asked for again when the node answers
that it has expired. It never calls a service or reads a table.
"""

from __future__ import annotations

from typing import Any

import httpx2

__all__ = ["CallRefused", "UnionClient"]


class CallRefused(Exception):
    """A node refused a call: its status and the problem document's code."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class UnionClient:
    """Calls ``/nodes/{state}/api/v1`` of one Union as named accounts sharing ``password``."""

    def __init__(self, http: httpx2.Client, password: str) -> None:
        self._http = http
        self._password = password
        self._tokens: dict[tuple[str, str], str] = {}

    def call(
        self,
        state: str,
        username: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """The decoded answer of ``method path`` at ``state``'s node, as ``username``.

        A refusal raises :class:`CallRefused`; an expired token is renewed once."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._token(state, username)}"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            answer = self._http.request(
                method,
                self._url(state, path),
                json=json,
                content=content,
                params=params,
                headers=headers,
            )
            if answer.status_code == 401 and attempt == 1:
                self._tokens.pop((state, username), None)
                continue
            break
        if answer.status_code >= 400:
            raise _refusal(answer)
        return answer.json() if answer.content else None

    def _token(self, state: str, username: str) -> str:
        key = (state, username)
        if key not in self._tokens:
            answer = self._http.post(
                self._url(state, "/auth/token"),
                data={"grant_type": "password", "username": username, "password": self._password},
            )
            if answer.status_code != 200:
                raise _refusal(answer)
            self._tokens[key] = str(answer.json()["access_token"])
        return self._tokens[key]

    @staticmethod
    def _url(state: str, path: str) -> str:
        return f"/nodes/{state.lower()}/api/v1{path}"


def _refusal(answer: httpx2.Response) -> CallRefused:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return CallRefused(
        answer.status_code,
        str(body.get("code") or body.get("error") or "refused"),
        str(body.get("detail") or body.get("error_description") or answer.text[:200]),
    )
