"""Privacy scan: a scan of report, logs, manifests and error output finds no person id.

A small synthetic evaluation (the flow tests' smallest setup: ``bipdask synth`` at scale 0.02,
B = 20) runs through the command line twice — once with ``--debug`` (every log level of Prefect,
Dask and bipdask, in this process, in the workers and in the Prefect API) and once on a broken
delivery (exit 2) — followed by ``report``, ``runs``, ``show`` and ``validate``. The generator
numbers persons from 1, so small ids would be indistinguishable from counts: the delivery's
person ids are first shifted to distinctive eleven-digit numbers (``ID_OFFSET`` + id). Every
number in the scanned text — plain, with thousands separators, or in scientific notation — is
compared with the set of input ids.

Scanned: the HTML reports (and the text chunks of their PNGs), ``published_estimates.csv``,
``_manifest.json``, ``runs/latest.json``, Python log records of every logger (caplog), the
flow's and tasks' logs stored by the Prefect API, and everything written to stdout/stderr at the
file-descriptor level (so the Dask worker processes too). Not scanned: the run's ``staged/``,
``model_input/``, ``replicates/`` and ``quarantine/`` layers, which hold microdata by design and
never go into the report folder.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from _deliveries import write_spec
from fake_runs import digit_tokens, png_text_chunks

from bipdask.cli import main
from bipdask.errors import EXIT_BAD_INPUT, EXIT_OK

ID_OFFSET = 73_104_000_000
SCALE, SEED = 0.02, 8
WORKER_DEBUG_ENV = {"PREFECT_LOGGING_LEVEL": "DEBUG", "PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL": "DEBUG",
                    "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL": "DEBUG", "DASK_LOGGING__DISTRIBUTED": "debug"}
LOGGERS = ("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.flow_engine", "prefect.task_engine",
           "distributed", "prefect_dask")  # levels set by the CLI's --debug, restored after the test


def distinctive_delivery(src: Path, dst: Path) -> set[int]:
    """Copy a delivery with every person id shifted by ``ID_OFFSET``; the new ids.

    ``truth.json`` and ``_truth/`` (the generator's side files) are left out: they are not
    part of a delivery.
    """
    ids: set[int] = set()
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_dir() or rel.parts[0] == "_truth" or path.name == "truth.json":
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".parquet" and "person_id" in pq.read_schema(path).names:
            table = pq.read_table(path)
            i = table.schema.get_field_index("person_id")
            shifted = pc.add(table.column(i), pa.scalar(ID_OFFSET, pa.int64()))
            table = table.set_column(i, table.schema.field(i), shifted)
            ids.update(shifted.to_pylist())
            pq.write_table(table, target)
        else:
            shutil.copy(path, target)
    return ids


def break_delivery(src: Path, dst: Path) -> Path:
    """A copy whose persons table has a person id that is not a number (``x<id>``): the
    delivery stops at validation (exit 2), with the value right next to a real id."""
    shutil.copytree(src, dst)
    persons = pq.read_table(dst / "persons.parquet").to_pandas()
    persons["person_id"] = persons["person_id"].astype(str)
    persons.loc[3, "person_id"] = "x" + persons.loc[3, "person_id"]
    persons.to_parquet(dst / "persons.parquet", index=False)
    return dst


NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?[eE][-+]?\d+")


def leaked_ids(text: str, ids: set[int]) -> set[int]:
    """The person ids among the numbers in ``text``: whole digit runs (also with thousands
    separators) and numbers in scientific notation whose value is an id."""
    found = {int(t) for t in digit_tokens(text) if t.isdigit() and len(t) < 19} & ids
    for t in NUMBER.findall(text):
        v = float(t)
        if v.is_integer() and int(v) in ids:
            found.add(int(v))
    return found


def report_texts(run_dir: Path) -> dict[str, str]:
    """Every text of a run's report folder, plus the text chunks of each embedded or written PNG."""
    out = {}
    for path in sorted((run_dir / "report").rglob("*")):
        if path.suffix == ".png":
            out[str(path)] = "\n".join(c.decode("latin-1") for c in png_text_chunks(path.read_bytes()))
        elif path.is_file():
            text = path.read_text(encoding="utf-8")
            out[str(path)] = text
            for i, src in enumerate(re.findall(r'src="data:image/png;base64,([^"]+)"', text)):
                chunks = png_text_chunks(base64.b64decode(src))
                out[f"{path}#img{i}"] = "\n".join(c.decode("latin-1") for c in chunks)
    return out


def prefect_api_logs(page: int = 200) -> list[str]:
    """Every log the Prefect API (the test harness's server) stored: "<logger> <message>"."""
    from prefect.client.orchestration import get_client

    out: list[str] = []
    with get_client(sync_client=True) as client:
        while True:
            logs = client.read_logs(limit=page, offset=len(out))
            out += [f"{log.name} {log.message}" for log in logs]
            if len(logs) < page:
                return out


def prefect_artifacts() -> list[str]:
    """Every artifact the Prefect API stored: "<key> <type> <data>" (the run's headline table and links)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return [f"{a.key} {a.type} {json.dumps(a.data, default=str)}" for a in client.read_artifacts()]


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory) -> dict:
    from bipdask.synth import generate

    base = tmp_path_factory.mktemp("privacy")
    generate(base / "synth", scale=SCALE, seed=SEED)
    good = base / "input"
    ids = distinctive_delivery(base / "synth", good)
    return {"ids": ids, "good": good, "bad": break_delivery(good, base / "broken"),
            "spec": write_spec(base / "hir_b20.toml")}


def test_the_scan_finds_planted_ids_in_every_spelling(deliveries):
    """The scan can fail: an id in a message, with separators, or as a float is found; counts are not."""
    ids = deliveries["ids"]
    one = min(ids)
    assert all(i > ID_OFFSET for i in ids) and len(ids) > 100
    for text in (f"row with person {one} rejected", f"person_id={one:,}", f"{float(one):.10e}",
                 f"id {one:,}".replace(",", "."), f"x{one}"):
        assert leaked_ids(text, ids) == {one}, text
    assert leaked_ids("1,234 persons, 97.1 %, 2018-03-01, n=73, 5e+03", ids) == set()


@pytest.mark.prefect
@pytest.mark.dask
def test_no_person_id_in_report_manifests_logs_or_error_output(deliveries, tmp_path, harness, caplog, capfd,
                                                                monkeypatch):
    ids, out = deliveries["ids"], tmp_path / "out"
    monkeypatch.delenv("BIPDASK_DEBUG", raising=False)  # main(--debug) sets it; restored afterwards
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    records: list[logging.LogRecord] = []
    factory = logging.getLogRecordFactory()

    def record_all(*args, **kwargs) -> logging.LogRecord:
        # every record a logger of this process creates, whatever handlers Prefect's logging
        # configuration installs or removes (caplog's handler on the root may not see them)
        record = factory(*args, **kwargs)
        records.append(record)
        return record

    logging.setLogRecordFactory(record_all)
    from distributed import LocalCluster

    # Started here, after capfd took fds 1 and 2, so the worker processes' output is captured too;
    # the workers log at DEBUG as well (their environment is read when they start).
    for name, value in WORKER_DEBUG_ENV.items():
        monkeypatch.setenv(name, value)
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0")
    address = cluster.scheduler_address
    try:
        with caplog.at_level(logging.DEBUG):
            good = main(["--debug", "--no-progress", "run", "--input", str(deliveries["good"]), "--output", str(out),
                         "--spec", str(deliveries["spec"]), "--dask-address", address])
            monkeypatch.delenv("BIPDASK_DEBUG", raising=False)
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
            assert good == EXIT_OK
            assert main(["runs", str(out)]) == EXIT_OK
            assert main(["show", str(out), "did", "--analysis", "share_internship_or_hours"]) == EXIT_OK
            assert main(["show", str(out), "no_such_estimand"]) == EXIT_BAD_INPUT
            assert main(["report", str(out), "--lang", "da", "--out", str(tmp_path / "again")]) == EXIT_OK
            assert main(["validate", str(deliveries["bad"])]) == EXIT_BAD_INPUT
            bad = main(["--no-progress", "run", "--input", str(deliveries["bad"]), "--output", str(tmp_path / "bad"),
                        "--spec", str(deliveries["spec"]), "--dask-address", address])
            assert bad == EXIT_BAD_INPUT
    finally:
        cluster.close()
        logging.setLogRecordFactory(factory)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    std = capfd.readouterr()
    error = std.err[std.err.index("bipdask run: error"):].splitlines()[:3]
    assert error[1].startswith("  persons.person_id") and not any("Traceback" in line for line in error)

    run_dir = next((out / "runs").glob("r*"))
    staged = set(pq.read_table(run_dir / "staged" / "persons.parquet", columns=["person_id"]).column(0).to_pylist())
    assert len(staged) > 100 and staged <= ids  # the run really processed the distinctive ids
    texts = report_texts(run_dir)
    texts.update({str(p): p.read_text(encoding="utf-8") for p in (tmp_path / "again").glob("*.html")})
    assert any(k.endswith("report.html") for k in texts) and any(k.endswith("report.da.html") for k in texts)
    assert sum("#img" in k for k in texts) >= 7
    for path in (run_dir / "_manifest.json", out / "runs" / "latest.json"):
        texts[str(path)] = path.read_text(encoding="utf-8")
    json.loads(texts[str(run_dir / "_manifest.json")])
    logged = [f"{r.name} {r.getMessage()}" + (f"\n{r.exc_text}" if r.exc_text else "")
              for r in [*records, *caplog.records]]
    assert len(records) > 20 and any(r.name.startswith("prefect.flow_runs") for r in records)
    texts["log records"] = "\n".join(logged)
    api_logs = prefect_api_logs()
    assert sum(line.startswith("prefect.task_runs") for line in api_logs) > 20  # the workers' task logs, at DEBUG
    texts["prefect api logs"] = "\n".join(api_logs)
    texts["prefect artifacts"] = "\n".join(prefect_artifacts())
    assert "bipdask-headline-estimates" in texts["prefect artifacts"]
    texts["stdout"], texts["stderr"] = std.out, std.err
    assert "report:" in std.out and "run " in std.out

    leaks = {where: sorted(leaked_ids(text, ids))[:3] for where, text in texts.items()}
    assert not {k: v for k, v in leaks.items() if v}, "person ids found"
    assert not (run_dir / "report" / "replicates").exists()
    assert not [p for p in (run_dir / "report").rglob("*") if p.suffix in (".parquet", ".json")]
