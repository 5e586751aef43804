"""The command line: runs, show, report, gc; exit codes 0/2/3, one- or two-line errors, --help examples."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fake_runs import PLANTED_IDS, SMALL_JC, digit_tokens, make_fake_run

from bipdask.cli import main
from bipdask.errors import InfrastructureError, InputError
from bipdask.runtime import storage


@pytest.fixture(autouse=True)
def _quiet_logging_afterwards():
    """``--debug`` turns the run loggers up on this process's terminal and sets BIPDASK_DEBUG for the
    workers it starts, for the rest of the process (a CLI process is one command); later tests in
    the same pytest process expect the default."""
    yield
    from flows import configure_logging

    os.environ.pop("BIPDASK_DEBUG", None)
    configure_logging(False)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("cliroot")
    make_fake_run(r)
    make_fake_run(r, "r00000000000000b2", "2026-11-01T06:00:00+00:00", shift=0.01, seed=8)
    (r / "runs" / "rhalfwritten0000").mkdir()  # an attempt that never committed
    return r


def _no_ids(text: str) -> None:
    assert not {str(i) for i in PLANTED_IDS} & digit_tokens(text)


def test_runs_lists_committed_runs_with_status_date_spec_seed_and_b(root, capsys):
    assert main(["runs", str(root)]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].split()[:6] == ["run_id", "status", "committed_at", "spec", "seed", "B"]
    first = next(x for x in lines if x.startswith("r00000000000000a1"))
    latest = next(x for x in lines if x.startswith("r00000000000000b2"))
    assert "2026-10-01" in first and " hir " in first and " 7 " in first and " 199 " in first
    assert "committed, latest" in latest and "committed, latest" not in first
    assert any(x.startswith("rhalfwritten0000") and "incomplete" in x for x in lines)
    _no_ids(out)


def test_runs_of_an_empty_root(tmp_path, capsys):
    assert main(["runs", str(tmp_path)]) == 0
    assert "no committed runs" in capsys.readouterr().out


def test_show_prints_one_estimate_with_its_ci(root, capsys):
    assert main(["show", str(root), "did", "--analysis", "share_internship_or_hours", "--period", "intervention"]) == 0
    out = capsys.readouterr().out
    assert "r00000000000000b2" in out  # the latest run
    line = out.strip().splitlines()[-1]
    assert "+2.7 pp" in line and "95% CI [+1.7, +3.7]" in line and "n=3,073 persons" in line
    assert main(["show", f"{root}/runs/r00000000000000a1", "did_weeks", "--analysis", "hir_table4"]) == 0
    out = capsys.readouterr().out
    assert "r00000000000000a1" in out and "weeks" in out
    _no_ids(out)


def test_show_respects_disclosure_control(root, capsys):
    assert main(["show", str(root), "did", "--analysis", "share_internship_or_hours",
                 "--jobcentre", str(SMALL_JC), "--period", "intervention"]) == 0
    out = capsys.readouterr().out
    assert "suppressed" in out and "CI" not in out


def test_show_unknown_estimand_exits_2_in_two_lines(root, capsys):
    assert main(["show", str(root), "no_such_thing"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) <= 2 and "no_such_thing" in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def test_report_writes_html_and_prints_its_path(root, capsys, tmp_path):
    assert main(["report", f"{root}/runs/r00000000000000b2", "--lang", "da", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"report: {tmp_path / 'report.da.html'}"
    assert "Deltagende jobcentre" in (tmp_path / "report.da.html").read_text(encoding="utf-8")
    _no_ids(out)


def test_missing_run_exits_2_without_traceback_unless_debug(root, capsys):
    assert main(["report", f"{root}/runs/rnothere00000000"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) <= 2 and "Traceback" not in err and "not found" in err
    assert main(["report", f"{root}/runs/rhalfwritten0000"]) == 2  # not committed: does not exist
    capsys.readouterr()
    with pytest.raises(InputError):
        main(["--debug", "report", f"{root}/runs/rnothere00000000"])


def test_storage_failure_exits_3(root, capsys, monkeypatch):
    def broken(*a, **k):
        raise InfrastructureError("storage: reading results failed (OSError)")

    monkeypatch.setattr(storage, "read_bytes", broken)
    assert main(["show", str(root), "did"]) == 3
    err = capsys.readouterr().err
    assert "storage" in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2


@pytest.mark.parametrize("command", ["report", "runs", "show", "verify", "gc"])
def test_help_has_examples_and_exit_codes(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out and f"bipdask {command}" in out and "exit codes" in out


def test_top_level_help_keeps_the_existing_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("synth", "validate", "run", "demo", "report", "runs", "show", "gc"):
        assert command in out


def test_the_progress_bar_draws_each_stage_on_a_terminal_and_nothing_elsewhere():
    import io

    from bipdask.cli.progress import StageBar

    terminal = io.StringIO()
    with StageBar(terminal, force=True) as bar:
        bar("validate and stage", 0, 1)
        bar("validate and stage", 1, 1)
        bar("model inputs (job centre batches)", 3, 12)
        bar("Dask dashboard: http://127.0.0.1:8787/status", 0, 0)
    drawn = terminal.getvalue()
    assert "Dask dashboard: http://127.0.0.1:8787/status" in drawn
    assert "validate and stage" in drawn and "model inputs (job centre batches)" in drawn and "3/12" in drawn
    pipe = io.StringIO()
    with StageBar(pipe) as bar:
        bar("validate and stage", 1, 1)
    assert pipe.getvalue() == ""


# --------------------------------------------------------------------------- run: checks before any work


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the delivery is hashed or the flow machinery is imported/started."""
    def hashed(*a, **k):
        raise AssertionError("the delivery was hashed")

    monkeypatch.setattr(storage, "hash_delivery", hashed)


def _delivery(tmp_path):
    (tmp_path / "delivery").mkdir()
    (tmp_path / "delivery" / "persons.parquet").write_bytes(b"not read")
    return str(tmp_path / "delivery")


def test_a_bad_spec_is_exit_2_one_line_per_problem_before_any_work(tmp_path, capsys, no_work):
    spec = tmp_path / "bad.toml"
    spec.write_text('name = "x"\ntreated_jobcentres = "Favrskov"\nbootstrap_replicate = 49\nseed = "x"\n'
                    'disclosure_min_persons = 0\n[periods]\nbefore = ["2017-03-01", "2018-02-28"]\n'
                    'intervention = ["2018-03-01", "2019-03-31"]\n', encoding="utf-8")
    assert main(["run", "--input", _delivery(tmp_path), "--output", str(tmp_path / "out"), "--spec", str(spec)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "bipdask run: error" and len(err) == 5
    assert "  spec.bootstrap_replicate: unknown key: did you mean 'bootstrap_replicates'?" in err
    assert any(line.startswith("  spec.treated_jobcentres: must be a list") for line in err)
    assert not (tmp_path / "out").exists()


def test_an_unknown_spec_name_lists_the_builtin_specs(tmp_path, capsys, no_work):
    assert main(["run", "--input", _delivery(tmp_path), "--output", str(tmp_path / "out"), "--spec", "hri"]) == 2
    err = capsys.readouterr().err
    assert "no built-in spec named 'hri': did you mean 'hir'? built-in specs: hir" in err


@pytest.mark.parametrize("url, scheme", [("gs://bucket/x", "gs://"), ("ftp://host/x", "ftp://"),
                                         ("http://host/x", "http://")])
def test_an_unsupported_output_scheme_is_exit_2_before_hashing(tmp_path, capsys, no_work, url, scheme):
    assert main(["run", "--input", _delivery(tmp_path), "--output", url]) == 2
    err = capsys.readouterr().err
    assert f"unsupported URL scheme '{scheme}'" in err and "s3://bucket/prefix" in err and "Traceback" not in err


def test_debug_is_accepted_after_the_subcommand(root, tmp_path, capsys, no_work):
    with pytest.raises(InputError):
        main(["report", f"{root}/runs/rnothere00000000", "--debug"])
    with pytest.raises(InputError, match="unsupported URL scheme"):
        main(["run", "--input", _delivery(tmp_path), "--output", "gs://b/x", "--debug"])
    assert main(["runs", str(root), "--no-progress"]) == 0
    # given before the subcommand it is not reset by the subcommand's parser
    with pytest.raises(InputError):
        main(["--debug", "show", str(root), "no_such_thing"])


# --------------------------------------------------------------------------- committed files are checked


def _tamper(path):
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x01  # one bit, somewhere in the file
    path.write_bytes(bytes(data))


def test_verify_passes_an_intact_run_and_names_a_tampered_file(tmp_path, capsys):
    run = make_fake_run(tmp_path, report=False)
    assert main(["verify", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"run {run.run_id}: all {len(run.manifest['files'])} files match")
    _tamper(tmp_path / "runs" / run.run_id / "replicates" / "hir_table4.parquet")
    (tmp_path / "runs" / run.run_id / "results" / "figure1_raw_hazard.parquet").unlink()
    (tmp_path / "runs" / run.run_id / "results" / "extra.csv").write_text("x\n")
    assert main(["verify", f"{tmp_path}/runs/{run.run_id}"]) == 3
    err = capsys.readouterr().err
    assert "replicates/hir_table4.parquet does not match the sha256 in its manifest" in err
    assert "results/figure1_raw_hazard.parquet is missing" in err
    assert "results/extra.csv is not in its manifest" in err and "Traceback" not in err


@pytest.mark.parametrize("rel", ["results/estimates.parquet", "staged/jobcentres.parquet",
                                 "replicates/hir_table4.parquet"])
def test_show_and_report_refuse_an_edited_file_naming_it(tmp_path, capsys, rel):
    run = make_fake_run(tmp_path, report=False)
    _tamper(tmp_path / "runs" / run.run_id / rel)
    for argv in (["report", str(tmp_path), "--out", str(tmp_path / "r")],
                 *([["show", str(tmp_path), "did"]] if rel.startswith("results") else [])):
        assert main(argv) == 3
        err = capsys.readouterr().err
        assert f"{rel} does not match the sha256 in its manifest" in err and "not read" in err
    assert not (tmp_path / "r" / "report.html").exists()


def test_the_next_run_refuses_the_previous_runs_edited_release(tmp_path, capsys):
    """The previous month's release (published/estimates.parquet) is the basis of this month's
    protection: an edited one (flags removed) is exit 3, not a weaker release."""
    first = make_fake_run(tmp_path)
    second = make_fake_run(tmp_path, "r00000000000000b2", "2026-11-01T06:00:00+00:00", shift=0.01, seed=8)
    path = tmp_path / "runs" / first.run_id / "published" / "estimates.parquet"
    release = pq.read_table(path)
    flags = pa.array([""] * release.num_rows, pa.string())
    pq.write_table(release.set_column(release.schema.get_field_index("suppressed"), "suppressed", flags), path)
    assert main(["report", second.url, "--out", str(tmp_path / "elsewhere")]) == 3
    assert "published/estimates.parquet does not match" in capsys.readouterr().err


def test_report_never_rewrites_a_committed_runs_report(tmp_path, capsys):
    run = make_fake_run(tmp_path)
    before = (tmp_path / "runs" / run.run_id / "report" / "report.html").read_bytes()
    assert main(["report", str(tmp_path)]) == 0  # the same report again: nothing written
    assert main(["verify", str(tmp_path)]) == 0
    capsys.readouterr()
    other = make_fake_run(tmp_path / "other", "r00000000000000c3", shift=0.02)
    assert main(["report", str(tmp_path), "--previous", other.url]) == 2  # would differ
    assert "cannot be rewritten" in capsys.readouterr().err
    assert (tmp_path / "runs" / run.run_id / "report" / "report.html").read_bytes() == before


def test_a_negative_seed_is_exit_2_before_hashing(tmp_path, capsys, no_work):
    assert main(["run", "--input", _delivery(tmp_path), "--output", str(tmp_path / "out"), "--seed", "-1"]) == 2
    assert "run.seed: must be within 0..9223372036854775807" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["BIPDASK_MAX_UNIT_ROWS", "BIPDASK_BIP_BLOCK_REPLICATES"])
def test_a_bad_environment_setting_is_exit_2_before_hashing(tmp_path, capsys, no_work, monkeypatch, name):
    monkeypatch.setenv(name, "-1")
    assert main(["run", "--input", _delivery(tmp_path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"environment.{name}: must be a positive whole number: got '-1'" in err and "Traceback" not in err


def test_gc_lists_then_removes_an_incomplete_run_and_keeps_the_committed_ones(tmp_path, capsys):
    r = tmp_path / "gcroot"
    make_fake_run(r)
    failed = r / "runs" / "rfailed000000000" / "staged"
    failed.mkdir(parents=True)
    (failed / "persons.parquet").write_bytes(b"rows")
    committed = storage.list_runs(r)
    assert main(["gc", str(r), "--older-than", "1d"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "nothing to remove"  # written just now
    assert out[1].startswith("cross-run table published/: 1 runs added")  # its append never ran
    assert storage.exists(storage.join(str(r), "published", f"run={committed[0]}", "estimates.parquet"))
    assert main(["gc", str(r), "--older-than", "0", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would remove" in out and "rfailed000000000" in out and failed.exists()
    _no_ids(out)
    assert main(["gc", str(r), "--older-than", "0"]) == 0
    out = capsys.readouterr().out
    assert "removed 1 incomplete run(s)" in out and "cross-run" not in out  # the table was already whole
    assert not failed.parent.exists() and storage.list_runs(r) == committed


def test_gc_with_a_bad_age_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["gc", str(tmp_path), "--older-than", "two days"])
    assert exc.value.code == 2 and "not an age" in capsys.readouterr().err


def test_show_reads_the_runs_release(root, capsys):
    """``show`` prints the committed release: hazard-ratio SEs on the log scale, Table 4's before
    groups in period 'before', Table 3's counts as caseworkers."""
    assert main(["show", str(root), "hr_casemiss", "--analysis", "hir_table9"]) == 0
    assert "(log scale)" in capsys.readouterr().out
    assert main(["show", str(root), "other_before", "--analysis", "hir_table4", "--period", "before"]) == 0
    assert "other_before [all participating, before]" in capsys.readouterr().out
    assert main(["show", str(root), "job_2y", "--analysis", "hir_table3", "--period", "pre"]) == 0
    assert "n=81 caseworkers" in capsys.readouterr().out


def test_a_bad_bootstrap_override_is_exit_2_before_any_work(tmp_path, capsys, no_work):
    argv = ["run", "--input", _delivery(tmp_path), "--output", str(tmp_path / "out"), "--bootstrap", "-5"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "run.bootstrap: must be within 0.." in err and "Traceback" not in err


@pytest.mark.parametrize("during_cleanup", [RuntimeError("comm closed"), InfrastructureError("storage: closing")])
def test_sigterm_exits_143_even_when_the_unwinding_raises_another_error(monkeypatch, capsys, during_cleanup):
    """SIGTERM while a cluster starts: tearing it down may raise (a closed comm) and replace the
    Terminated exception; the process was still terminated, so exit 143 with the one line."""
    import signal
    import sys

    cli = sys.modules["bipdask.cli.main"]

    def command(args):
        try:
            signal.raise_signal(signal.SIGTERM)
        finally:
            raise during_cleanup

    monkeypatch.setitem(cli.COMMANDS, "runs", command)
    assert main(["runs", "/nowhere"]) == 143
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["bipdask runs: terminated (SIGTERM)"]
    assert signal.getsignal(signal.SIGTERM) is not cli._raise_terminated  # the handler was restored
    monkeypatch.setitem(cli.COMMANDS, "runs", lambda args: (_ for _ in ()).throw(RuntimeError("boom")))
    assert main(["runs", "/nowhere"]) == 3  # without SIGTERM an internal error stays one
    assert "internal error (RuntimeError)" in capsys.readouterr().err
