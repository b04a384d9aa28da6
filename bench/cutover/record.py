"""``python -m bench.cutover.record URL``: the recording client as a process of its own, for a network the
bench's process is not in (the real control plane's node namespace). Records until SIGTERM, then prints the
samples as JSON lines (``started ended version``; monotonic clocks are the same in every namespace)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from bench.cutover.recorder import VersionRecorder


async def record(url: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    recorder = VersionRecorder(url)
    await recorder.start()
    print("recording", flush=True)
    await stop.wait()
    for sample in await recorder.stop():
        print(json.dumps([sample.started, sample.ended, sample.version]))


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m bench.cutover.record URL")
    asyncio.run(record(sys.argv[1]))


if __name__ == "__main__":
    main()
