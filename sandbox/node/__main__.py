"""`python -m sandbox.node CONFIG.json`: run the node agent until SIGTERM (`--clean-up`: only clean up)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from sandbox.node.agent import AgentSettings, NodeAgent, clean_up
from sandbox.node.netns import NetnsError


async def serve(settings: AgentSettings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with NodeAgent(settings):
        print(f"node {settings.node_name} ready", flush=True)
        await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.node", description=__doc__)
    parser.add_argument("config", type=Path, help="the agent's settings (JSON, see AgentSettings)")
    parser.add_argument("--clean-up", action="store_true", help="kill leftover pods, delete namespaces")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = AgentSettings.from_json(args.config.read_text())
    except (OSError, ValueError, TypeError) as exc:
        print(f"node agent: cannot read {args.config}: {exc}", file=sys.stderr)
        return 2
    try:
        if args.clean_up:
            killed, namespaces = asyncio.run(clean_up(settings))
            print(f"killed {killed} processes, deleted {len(namespaces)} network namespaces")
            return 0
        return asyncio.run(serve(settings))
    except NetnsError as exc:
        print(f"node agent: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
