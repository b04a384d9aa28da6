"""`flagman report`: the HTML, PNG and SVG of a run, from a file and from the sandbox API server."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
from xml.etree import ElementTree

import pytest
from PIL import Image

from dashboard.history import HistoryFormatError, parse_history
from dashboard.plots import run_image
from dashboard.report import render_html, write_image, write_report
from dashboard.report_cli import Destination, destination, main
from sandbox.apiserver.testing import ApiServer
from tests.dashboard.samples import history_document


def test_report_shows_each_metric_against_its_band_and_marks_failures(tmp_path: pathlib.Path) -> None:
    history = parse_history(history_document())
    files = write_report(history, history.run(), tmp_path)
    page = files.html.read_text()
    assert files.html.name == "podinfo-run4.html"
    assert "podinfo.test analysis run 4" in page and 'id="outcome">Failed<' in page
    assert "band: ≤ 500ms; 4 checks" in page and '<span class="fail">2 failed</span>' in page
    assert "band: ≥ 99%; 1 checks" in page
    assert page.count("<svg") == 3, "timeline + one plot per metric, inline"
    assert "smoke&lt;script&gt;" in page and "<script" not in page, "text is escaped; no script at all"
    assert "failed: exit status 1" in page and "1.500s" in page
    assert "Halt podinfo.test advancement request duration 720ms &gt; 500ms" in page
    assert not re.search(r"(src|href)=\"?(https?:)?//", page), "nothing loaded from the network"
    names = sorted(path.name for path in files.svgs)
    assert names == [
        "podinfo-run4-request-duration.svg",
        "podinfo-run4-request-success-rate.svg",
        "podinfo-run4-timeline.svg",
    ]
    duration_svg = (tmp_path / "podinfo-run4-request-duration.svg").read_text()
    assert duration_svg.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in duration_svg
    # The failed points are drawn as crosses in the failure colour, the band in green.
    assert "#d62728" in duration_svg and "#2ca02c" in duration_svg


def test_same_run_same_bytes() -> None:
    history = parse_history(history_document())
    assert render_html(history, history.run()) == render_html(history, history.run())
    assert run_image(history, history.run(), "png") == run_image(history, history.run(), "png")


def _red_pixels(image: Image.Image) -> int:
    """Pixels of the failure colour (#d62728): the failed checks' crosses and the Failed phase bar."""
    colours: list[tuple[int, tuple[int, int, int]]] = image.convert("RGB").getcolors(1 << 24) or []  # type: ignore[assignment]
    return sum(n for n, (r, g, b) in colours if abs(r - 214) < 20 and abs(g - 39) < 20 and abs(b - 40) < 20)


def test_png_image_of_a_run_decodes_and_holds_one_plot_per_metric(tmp_path: pathlib.Path) -> None:
    failed = parse_history(history_document())
    passed = parse_history(history_document(outcome=None))
    # A run with only the passing success-rate metric (and no failure anywhere).
    document = history_document(outcome=None)
    del document["runs"][0]["metrics"]["request-duration"]
    document["runs"][0]["webhooks"] = document["runs"][0]["webhooks"][:1]
    one_metric = parse_history(document)
    images = {}
    for label, history in (("failed", failed), ("running", passed), ("one", one_metric)):
        path = write_image(history, history.run(), tmp_path / f"{label}.png", "png")
        with Image.open(path) as image:
            image.load()
            assert image.format == "PNG"
            images[label] = image.copy()
    width, height = images["failed"].size
    assert 560 <= width <= 720, "6.4 in at 100 dpi, cropped to the drawing"
    assert height - images["one"].size[1] >= 200, "one more metric: one more 2.6 in panel"
    assert _red_pixels(images["failed"]) > 100, "failed checks and the Failed phase in red"
    assert _red_pixels(images["one"]) < 10, "no failure: nothing red"


def test_svg_image_of_a_run_is_one_document_with_every_plot(tmp_path: pathlib.Path) -> None:
    history = parse_history(history_document())
    path = write_image(history, history.run(), tmp_path / "run.svg", "svg")
    root = ElementTree.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    axes = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("id", "").startswith("axes_")]
    assert len(axes) == 4, "timeline, two metrics, the text of webhooks and events"
    text = path.read_text()
    assert "<!-- request-duration -->" in text and "<!-- request-success-rate -->" in text
    with pytest.raises(ValueError, match="choose one of png, svg"):
        run_image(history, history.run(), "gif")


def test_output_and_format_choose_the_file(tmp_path: pathlib.Path) -> None:
    assert destination(str(tmp_path / "r.png"), None) == Destination("png", tmp_path, "r")
    assert destination(str(tmp_path / "out"), "svg") == Destination("svg", tmp_path / "out", None)
    assert destination(str(tmp_path), None) == Destination("html", tmp_path, None)
    (tmp_path / "dir.png").mkdir()
    assert destination(str(tmp_path / "dir.png"), None).kind == "html", "an existing directory stays one"
    with pytest.raises(ValueError, match=r"is a \.svg file but --format is png"):
        destination(str(tmp_path / "x.svg"), "png")


def test_bad_documents_say_what_is_wrong() -> None:
    with pytest.raises(HistoryFormatError, match="version 2 is not supported"):
        parse_history({"version": 2})
    with pytest.raises(HistoryFormatError, match="runs must be a list"):
        parse_history({"version": 1, "runs": {}})
    with pytest.raises(HistoryFormatError, match=r"run 9 of podinfo.test is not kept \(kept: 4\)"):
        parse_history(history_document()).run(9)
    with pytest.raises(HistoryFormatError, match="has no analysis run recorded yet"):
        parse_history({"version": 1, "canary": {"name": "a", "namespace": "b"}, "runs": []}).run()


def test_cli_from_file(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "history.json"
    source.write_text(json.dumps(history_document(outcome=None)))
    assert main(["podinfo", "--from-file", str(source), "-o", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == str(tmp_path / "out" / "podinfo-run4.html")
    assert "plotting run 4 (Running, 2 metrics)" in err
    assert main(["podinfo", "--from-file", str(source), "--run", "1"]) == 1
    assert "run 1 of podinfo.test is not kept" in capsys.readouterr().err
    assert main(["podinfo", "--from-file", str(source), "-o", str(tmp_path / "run.png")]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [str(tmp_path / "run.png")] and "as png" in err
    with Image.open(tmp_path / "run.png") as image:
        assert image.format == "PNG"
    assert main(["podinfo", "--from-file", str(source), "-o", str(tmp_path), "--format", "svg"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(tmp_path / "podinfo-run4.svg")]
    wrong = ["-o", str(tmp_path / "a.svg"), "--format", "png"]
    assert main(["podinfo", "--from-file", str(source), *wrong]) == 1
    assert "a.svg is a .svg file but --format is png" in capsys.readouterr().err


@pytest.mark.slow
def test_flagman_report_reads_the_configmap_with_the_users_kubeconfig(
    apiserver: ApiServer, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", "--kubeconfig", apiserver.kubeconfig, *args],
            input=stdin, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip

    kubectl("create", "namespace", "test")
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "flagman-history-podinfo", "namespace": "test"},
        "data": {"history.json": json.dumps(history_document())},
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(configmap))
    command = [sys.executable, "-m", "flagman", "report", "podinfo", "-n", "test", "--kubeconfig"]
    done = subprocess.run(
        [*command, apiserver.kubeconfig, "-o", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "podinfo-run4.html").exists()
    assert "reading the analysis history of podinfo.test" in done.stderr
    assert main(["absent", "-n", "test", "--kubeconfig", apiserver.kubeconfig]) == 1
    assert "canary absent.test has no analysis history (configmap flagman-history-absent not found)" in (
        capsys.readouterr().err
    )


def test_kubectl_flagman_hands_report_and_dashboard_over() -> None:
    from dashboard.plugin import command_of

    assert command_of(["-n", "test", "report", "podinfo"]) == ("report", ["-n", "test", "podinfo"])
    assert command_of(["--kubeconfig", "k", "dashboard", "--allow-actions"]) == (
        "dashboard",
        ["--kubeconfig", "k", "--allow-actions"],
    )
    assert command_of(["status", "report"]) is None, "a Canary named report"
    assert command_of(["-n", "report", "get"]) is None, "a namespace named report"


@pytest.mark.slow
def test_kubectl_flagman_report_runs(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "history.json"
    source.write_text(json.dumps(history_document()))
    plugin = pathlib.Path(sys.executable).parent / "kubectl-flagman"
    done = subprocess.run(
        [str(plugin), "report", "podinfo", "--from-file", str(source), "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == str(tmp_path / "podinfo-run4.html")
