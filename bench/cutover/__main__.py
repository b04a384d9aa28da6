"""``python -m bench.cutover``: what a client sees during a promotion, and how fast ``undo`` moves traffic.

On the sandbox (emulator API server, real podinfo pods, the apex Service's proxy, the real controller
process), a recording client sends back-to-back requests, a new connection each, through the apex Service
and records the podinfo version of every response (``bench/cutover/recorder.py``):

1. a promotion as Flagger does it (primary rolling-updated in place): how often the version flips and how
   many requests got the old version after a client had already received the new one;
2. the same with ``flagman.app/selector-switch: "true"``;
3. ``flagman.app/scale-down-delay-seconds`` then ``undo`` under traffic, ``--rounds`` times: from the
   request annotation written to all traffic on the previous version; the last round through the real
   ``kubectl-flagman undo`` process, from the command's start (its Python start-up included).

    .venv/bin/python -m bench.cutover [--backend emulator|real] [--rounds 2] [--replicas 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.cutover.recorder import Cutover, analyse
from bench.cutover.sandbox import NAMESPACE, NEW, CutoverSandbox, cutover_sandbox, real_cutover_sandbox
from controller.api.bluegreen_options import SCALE_DOWN_DELAY_ANNOTATION, SELECTOR_SWITCH_ANNOTATION
from controller.kube.api import SERVICES
from sandbox.controlplane.testing import availability


def load_average() -> str:
    with open("/proc/loadavg") as stat:
        return " ".join(stat.read().split()[:3])


def promotion_row(label: str, cutover: Cutover) -> str:
    window = (
        f"{max(0.0, cutover.all_moved - cutover.first_new):.3f}"
        if cutover.all_moved is not None and cutover.first_new is not None and cutover.mixed
        else "0"
    )
    cells = (label, cutover.requests, cutover.errors, cutover.changes, cutover.stale, window)
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


async def wait_apex_on_primary(sandbox: CutoverSandbox, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        service = await sandbox.api.get(SERVICES, NAMESPACE, "podinfo")
        if (service["spec"].get("selector") or {}).get("app") == "podinfo-primary":
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("the apex did not return to the primary")


def sandbox_for(backend: str) -> Callable[..., contextlib.AbstractAsyncContextManager[CutoverSandbox]]:
    """``cutover_sandbox`` or ``real_cutover_sandbox`` with the control plane's binaries bound."""
    if backend == "emulator":
        return cutover_sandbox
    binaries = availability().binaries
    if binaries is None:
        raise SystemExit(f"--backend real: {availability().reason}")
    return functools.partial(real_cutover_sandbox, binaries=binaries)


async def run(backend: str, rounds: int, replicas: int, workdir: Path) -> None:
    sandbox_at = sandbox_for(backend)
    print(f"backend: {backend}")
    print(f"load average before: {load_average()}")
    print("| promotion | requests | errors | version changes | stale responses | mixed window (s) |")
    print("|---|---|---|---|---|---|")
    async with sandbox_at(workdir / "off", annotations={}, replicas=replicas) as sandbox:
        print(promotion_row("in place (Flagger)", analyse(await sandbox.promote(NEW), NEW)), flush=True)
    options = {SELECTOR_SWITCH_ANNOTATION: "true", SCALE_DOWN_DELAY_ANNOTATION: "600"}
    undo_rows: list[str] = []
    async with sandbox_at(workdir / "on", annotations=options, replicas=replicas) as sandbox:
        old = "6.0.0"
        for index in range(rounds):
            new = f"6.0.{index + 1}"
            cutover = analyse(await sandbox.promote(new), new)
            print(promotion_row(f"selector switch ({old} to {new})", cutover), flush=True)
            await sandbox.wait_ready("podinfo-previous")
            via_plugin = index == rounds - 1
            asked, written, samples = await sandbox.undo(via_plugin=via_plugin)
            back = analyse(samples, old)
            moved = back.all_moved - asked if back.all_moved is not None else float("nan")
            how = "`kubectl-flagman undo` (command start)" if via_plugin else "request annotation written"
            cells = (how, f"{moved:.3f}", f"{written - asked:.3f}", back.changes, back.stale, back.errors)
            undo_rows.append("| " + " | ".join(str(cell) for cell in cells) + " |")
            await wait_apex_on_primary(sandbox)
            await sandbox.wait_ready("podinfo-primary")
    print()
    print("| undo, from | all traffic moved (s) | request written (s) | version changes | stale | errors |")
    print("|---|---|---|---|---|---|")
    print("\n".join(undo_rows))
    print(f"load average after: {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cutover", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("emulator", "real"), default="emulator", help="API server")
    parser.add_argument("--rounds", type=int, default=2, help="promotion + undo rounds with the switch on")
    parser.add_argument("--replicas", type=int, default=2, help="podinfo replicas")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-cutover-") as workdir,
        contextlib.suppress(KeyboardInterrupt),
    ):
        asyncio.run(run(args.backend, args.rounds, args.replicas, Path(workdir)))


if __name__ == "__main__":
    main()
