"""`python -m bench.scale.apiserver --port P`: the sandbox API server in its own process, for the scale bench.

The same application as `flagman sandbox apiserver`, plus one read-only route the bench needs from
another process: `GET /bench/requests?since=K`, the request log from record K on, summed per user agent
and verb (so the controller's requests per tick are counted by the server, not by the controller).
"""

from __future__ import annotations

import argparse
import collections
import sys

from aiohttp import web

from sandbox.apiserver.app import make_app
from sandbox.apiserver.routes import REQUEST_LOG


async def request_counts(request: web.Request) -> web.Response:
    log = request.app[REQUEST_LOG]
    since = int(request.query.get("since", "0"))
    records = list(log)[since:]
    counts: collections.Counter[str] = collections.Counter(
        f"{record.user_agent.split('/')[0]} {record.verb or record.method} {record.resource or record.path}"
        for record in records
    )
    return web.json_response({"next": since + len(records), "counts": dict(counts)})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale.apiserver")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args(argv)
    app = make_app()
    # Before the catch-all API routes would see it: aiohttp matches routes in the order added, so the
    # route goes on a sub-application mounted under a prefix no Kubernetes path uses.
    bench = web.Application()
    bench.router.add_get("/requests", request_counts)
    bench[REQUEST_LOG] = app[REQUEST_LOG]
    app.add_subapp("/bench", bench)
    web.run_app(app, host="127.0.0.1", port=options.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
