"""The landing page of the embedded set-up: where each node lives and what it holds now."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from silkway import __version__
from silkway.bootstrap import Node
from silkway.transit import service as transit
from silkway.transit.domain.movement import MovementStatus
from silkway.transit.ports import MovementFilter


def _counts(node: Node) -> dict[str, int]:
    out: dict[str, int] = {}
    for status in MovementStatus:
        page = transit.list_movements(
            node.transit, MovementFilter(status=status), offset=0, limit=1
        )
        if page.total:
            out[status.value] = page.total
    return out


def landing_page(nodes: Mapping[str, Node]) -> str:
    rows = []
    for state, node in nodes.items():
        base = f"/nodes/{state.lower()}"
        counts = _counts(node)
        summary = ", ".join(f"{escape(k)}: {v}" for k, v in counts.items()) or "no movements yet"
        rows.append(
            f"<tr><td><b>{escape(state)}</b></td>"
            f'<td><a href="{base}/docs">{base}/api/v1</a></td>'
            f'<td><a href="{base}/api/v1/movements">movements</a></td>'
            f"<td>{summary}</td></tr>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Silkway</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1d2733; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #d5dbe3; padding: .5rem; text-align: left; }}
code {{ background: #f1f4f8; padding: .1rem .3rem; }}
</style></head>
<body>
<h1>Silkway {escape(__version__)}</h1>
<p>One transit declaration, lodged once, valid along the whole route. Each member state runs its
own node with its own database; the Commission (EEC) runs its own.</p>
<table><thead><tr><th>Node</th><th>API (OpenAPI docs)</th><th>Browse</th><th>Movements</th></tr>
</thead><tbody>
{"".join(rows)}
</tbody></table>
<p>Lodge a declaration: <code>curl -X POST -H 'Content-Type: application/json'
--data @examples/western-road.json http://HOST/nodes/kz/api/v1/declarations</code></p>
</body></html>"""
