"""``kubectl flagman undo`` end to end: the real plugin and controller processes on the emulator and on the
real kube-apiserver (the ``bench`` fixture runs each test on both), with the selector switch and the warm
previous version on. Traffic itself is measured with real pods in ``test_cutover_traffic.py``.
"""

from __future__ import annotations

from controller.api.bluegreen_options import SCALE_DOWN_DELAY_ANNOTATION, SELECTOR_SWITCH_ANNOTATION
from controller.kube.api import DEPLOYMENTS, SERVICES
from tests.controller.integration.conftest import Bench
from tests.controller.integration.scenarios import INTERVAL, deploy_podinfo, set_image
from tests.controller.integration.test_release_control import (
    canary_manifest,
    flagman,
    gitops_apply,
    primary_image,
    whoami,
)
from tests.controller.kube.support import eventually

OLD, NEW = "stefanprodan/podinfo:3.1.0", "stefanprodan/podinfo:3.1.1"


async def apex_selects(bench: Bench) -> str:
    service = await bench.api.get(SERVICES, bench.ns, "podinfo")
    return str(service["spec"]["selector"]["app"])


async def test_undo_returns_to_the_warm_previous_version(bench: Bench) -> None:
    await deploy_podinfo(bench)
    manifest = canary_manifest(bench, interval=INTERVAL)
    manifest["spec"]["analysis"]["iterations"] = 2
    manifest["metadata"]["annotations"] = {
        SELECTOR_SWITCH_ANNOTATION: "true",
        SCALE_DOWN_DELAY_ANNOTATION: "600",
    }
    await gitops_apply(bench, manifest)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    user = await whoami(bench)

    # Not promoted yet: nothing to undo (the plugin refuses without writing).
    code, _, err = await flagman(bench, "undo", "podinfo")
    assert code == 1 and "it is Initialized, not Finalising or Promoting or Succeeded" in err, err

    await set_image(bench, NEW)
    await bench.wait_phase("Succeeded")
    messages = await bench.messages()
    switching = f"Switching podinfo.{bench.ns} to the canary pods of podinfo.{bench.ns}"
    assert f"{switching} while podinfo-primary is updated" in messages
    assert f"Switched podinfo.{bench.ns} back to podinfo-primary" in messages
    assert await apex_selects(bench) == "podinfo-primary"
    previous = await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo-previous")
    assert previous["spec"]["template"]["spec"]["containers"][0]["image"] == OLD
    assert previous["spec"]["selector"]["matchLabels"] == {"app": "podinfo-previous"}
    assert previous["metadata"]["ownerReferences"][0]["kind"] == "Canary"

    code, out, err = await flagman(bench, "undo", "podinfo")
    assert code == 0, err
    assert f"Undo of podinfo.{bench.ns} requested by {user} (via kubectl-flagman)" in out, out
    body = await bench.canary()
    assert body["status"]["phase"] == "Failed"

    # The apex serves the previous pods at once; the primary gets their template back, then the apex.
    async def restored() -> bool:
        return await apex_selects(bench) == "podinfo-primary" and await primary_image(bench) == OLD

    await eventually(restored, within=30, interval=0.1, what="apex back on the restored primary")
    await bench.wait_message(
        f"Rollback of podinfo.{bench.ns} finished: podinfo-primary runs the previous version"
        f" {body['status']['lastPromotedSpec']} again"
    )
    messages = await bench.messages()
    assert any(
        m.startswith(f"Rolling back podinfo.{bench.ns} to the previous version")
        and m.endswith(f"undo requested by {user} (via kubectl-flagman)")
        for m in messages
    ), messages
    assert (await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo-previous"))["spec"]["replicas"] == 0

    # Failed for 3.1.1 (the target still asks for it): nothing restarts until it changes; undo is spent.
    code, _, err = await flagman(bench, "undo", "podinfo")
    assert code == 1 and "it is Failed" in err, err
    code, out, _ = await flagman(bench, "status", "podinfo")
    assert "Phase:          Failed" in out
    assert "Rollback:       Restored: podinfo-primary runs the previous version" in out, out
