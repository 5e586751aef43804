"""The report's methods, data and links sections (bipdask.publish.report.about): present in
English and Danish, made from the run's manifest and rows (a changed spec changes them), links
that resolve, no person id."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fake_runs import NAMES, PLANTED_IDS, digit_tokens, make_fake_run

from bipdask.publish.report import about
from bipdask.publish.report.build import write_report

FLOW_RUN = "0b7c1a2e-5f3d-4c1b-9a8e-123456789abc"


def _manifest(b: int = 499, cluster: str = "jobcentre", inference: str = "wild", **extra) -> dict:
    spec = {"disclosure_min_persons": 5, "seed": 7, "bip_top_quartile": "split", "bip_count_caseworker": "citizens",
            "bootstrap_replicates": b, "bootstrap_scheme": "poisson", "cluster": cluster,
            "inference_method": inference, "match_rate_floor": 0.9, "last_months": 3,
            "before": {"start": "2017-03-01", "end": "2018-02-28"},
            "intervention": {"start": "2018-03-01", "end": "2019-03-31"},
            "caseload_baseline": {"start": "2018-01-01", "end": "2018-02-28"},
            "treated_jobcentres": ["Favrskov", "Haderslev", "Varde"]}
    return {
        "spec": {"name": "hir", "source": "hir", "content": spec},
        "estimation": {"bootstrap_replicates": b, "bootstrap_scheme": "poisson", "cluster": f"{cluster}_id",
                       "inference": inference, "notes": {}},
        "validation": {"week_span": ["2016-01-04", "2019-03-25"]},
        "jobcentres": {"staged": 4, "treated_ids": [11, 12, 13], "treated_names_not_found": []},
        "row_counts": {"input": {"persons": 4354, "weeks": 1234567, "assignments": 9100},
                       "staged": {"persons": 4350, "weeks": 1234000, "assignments": 9100},
                       "quarantined": {"persons": 4, "weeks": 567}, "estimates": 10},
        "linkage": {"available": True, "match_rate": 0.9712, "floor": 0.9},
        "code_version": {"bipdask": "0.1.0", "source_sha256": "f" * 64, "git_sha": "abc1234"},
        "packages": {"numpy": "2.3.1", "pandas": "2.3.0", "pyarrow": "26.0.1", "dask": "2026.1.0",
                     "prefect": "3.9.1"},
        **extra,
    }


def _with_inference(frame):
    """The fake estimates with the inference columns a wild run writes on the share DiD."""
    s = (frame["analysis"] == "share_internship_or_hours") & (frame["estimand"] == "did")
    frame.loc[s, "inference"] = "wild"
    frame.loc[s, "cluster_level"] = "jobcentre"
    frame.loc[s, "n_clusters"] = 97
    frame.loc[s, "n_replicates"] = 999
    return frame


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_fake_run(tmp_path_factory.mktemp("about"), edit=_with_inference, manifest_extra=_manifest(
        prefect={"flow_run_id": FLOW_RUN, "api": "configured", "ui_url": "https://prefect.agency.example",
                 "flow_run_url": f"https://prefect.agency.example/runs/flow-run/{FLOW_RUN}"}))


def _section(text: str, key: str) -> str:
    start = text.index(f'<h2 id="{key}"')
    end = text.find("<section>", start)
    return text[start:end if end > 0 else len(text)]


def _plain(html_text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_text)).replace("&#x27;", "'")


def test_sections_are_present_in_english_and_danish(run):
    en = (Path(run.url) / "report" / "report.html").read_text(encoding="utf-8")
    da = (Path(run.url) / "report" / "report.da.html").read_text(encoding="utf-8")
    for key in ("methods", "data", "links", "descriptives"):
        assert f'<h2 id="{key}"' in en and f'<h2 id="{key}"' in da, key
        assert f'href="#{key}"' in en  # in the contents
    assert ">Methods<" in en and ">Metode<" in da
    assert "Rows per table" in en and "Rækker pr. tabel" in da
    assert "Deltagende jobcentre" in _section(da, "data") and "Koblingsrate" in _section(da, "data")
    assert "De offentliggjorte estimater (Parquet)" in _section(da, "links")
    assert "97,1 %" in _section(da, "data") and "97.1 %" in _section(en, "data")  # decimal comma


def test_methods_show_the_runs_inference_b_cluster_and_disclosure_rule(run):
    methods = _plain(_section((Path(run.url) / "report" / "report.html").read_text(encoding="utf-8"), "methods"))
    for fact in ("Inference (spec) wild bootstrap test", "Cluster level job centre",
                 "Clusters of the design-based tests 97", "Bootstrap replicates (B) 499", "Replicate weights poisson",
                 "Minimum persons per published cell 5", "Minimum linkage rate 90 %",
                 "BIP top-quartile estimator split-sample ranking"):
        assert fact in methods, fact
    assert "fewer than 5 persons is suppressed (primary:" in methods
    # the models table: each table's model, and the inference its published rows carry
    assert "Weibull proportional-hazards DiD" in methods and "stratified by job centre" in methods
    share = methods[methods.index("Tables A, 6"):]
    share = share[:share.index("Table 8")]
    assert "Saturated 2×2 cell DiD" in share and "wild bootstrap test" in share
    assert "job centre: 97" in share and "999" in share
    assert "top-quartile mean by split-sample ranking" in methods


def test_the_methods_section_follows_the_spec(tmp_path):
    """Another B, cluster and inference in the run's spec: the section says so (nothing hard-coded)."""
    a = make_fake_run(tmp_path / "a", manifest_extra=_manifest(b=499, cluster="jobcentre", inference="wild"))
    b = make_fake_run(tmp_path / "b", manifest_extra=_manifest(b=1999, cluster="person", inference="pairs"))
    ma = _plain(_section((Path(a.url) / "report" / "report.html").read_text(encoding="utf-8"), "methods"))
    mb = _plain(_section((Path(b.url) / "report" / "report.html").read_text(encoding="utf-8"), "methods"))
    assert "Bootstrap replicates (B) 499" in ma and "Bootstrap replicates (B) 1,999" in mb
    assert "Cluster level job centre" in ma and "Cluster level person" in mb
    assert "Inference (spec) wild bootstrap test" in ma and "Inference (spec) pairs cluster bootstrap" in mb
    assert "resamples persons (B = 1999)" in mb


def test_data_section_shows_periods_jobcentres_row_counts_linkage_and_versions(run):
    data = _plain(_section((Path(run.url) / "report" / "report.html").read_text(encoding="utf-8"), "data"))
    for fact in ("Year before the intervention period 2017-03-01 2018-02-28",
                 "Intervention period 2018-03-01 2019-03-31",
                 "Last 3 months of the intervention period 2019-01-01 2019-03-31",
                 "Caseload baseline 2018-01-01 2018-02-28", "Weeks in the delivery 2016-01-04 2019-03-25",
                 "persons 4,354 4,350 4", "weeks 1,234,567 1,234,000 567", "assignments 9,100 9,100 0",
                 "97.1 % of person-weeks matched", "(floor 90 %)",
                 "numpy 2.3.1", "pandas 2.3.0", "pyarrow 26.0.1", "dask 2026.1.0", "prefect 3.9.1", "bipdask 0.1.0",
                 "3 participating and 1 comparison job centres"):
        assert fact in data, fact
    names = data[data.index("Participating job centres"):data.index("Rows per table")]
    assert [n for n in NAMES.values() if n in names] == ["Favrskov", "Haderslev", "Varde"]


def test_links_point_at_the_published_table_and_the_flow_run(run):
    report = Path(run.url) / "report" / "report.html"
    links = _section(report.read_text(encoding="utf-8"), "links")
    hrefs = re.findall(r'href="([^"]+)"', links)
    assert hrefs[:2] == ["../published/estimates.parquet", "published_estimates.csv"]
    for rel in hrefs[:2]:
        assert (report.parent / rel).resolve().is_file(), rel  # relative links that resolve
    assert hrefs[2] == f"https://prefect.agency.example/runs/flow-run/{FLOW_RUN}"


def test_a_report_written_elsewhere_links_its_release_copy(run, tmp_path):
    path = Path(write_report(run.url, out_dir=tmp_path / "elsewhere"))
    hrefs = re.findall(r'href="([^"]+)"', _section(path.read_text(encoding="utf-8"), "links"))
    assert hrefs[0] == "published_estimates.parquet" and (path.parent / hrefs[0]).is_file()


def test_no_flow_run_link_without_a_ui_and_never_one_with_credentials():
    plain = about.links_section({"prefect": {"flow_run_id": FLOW_RUN, "api": "temporary", "ui_url": None,
                                             "flow_run_url": None}}, "../published/estimates.parquet",
                                "published_estimates.csv", "en")
    assert "http" not in plain and FLOW_RUN in plain and "no Prefect UI" in plain
    secret = about.links_section({"prefect": {"flow_run_id": FLOW_RUN,
                                              "flow_run_url": "https://user:pw@prefect.example/runs/x"}},
                                 "../published/estimates.parquet", "published_estimates.csv", "da")
    assert "pw@" not in secret and "user:" not in secret
    assert "Prefect" not in about.links_section({}, "a.parquet", "a.csv", "en")  # runs without the record


def test_sections_hold_no_person_id(run):
    ids = {str(i) for i in PLANTED_IDS}
    for name in ("report.html", "report.da.html"):
        text = (Path(run.url) / "report" / name).read_text(encoding="utf-8")
        for key in ("methods", "data", "links"):
            assert not ids & digit_tokens(_section(text, key)), (name, key)


def test_period_rows_of_a_spec_without_periods_and_an_old_manifest():
    assert about.period_rows({}, None, "en") == []
    html_text = about.data_section({}, {}, "en")  # a run committed before these keys existed
    assert "Participating job centres" in html_text and "bipdask" in html_text
