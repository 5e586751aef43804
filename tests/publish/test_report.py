"""The HTML report of a committed run: content, disclosure first, Danish labels, month over month,
no person id anywhere, and (marker ``browser``) every figure loads in headless Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fake_runs import (
    NAMES,
    SMALL_JC,
    _est,
    digit_tokens,
    fake_estimates,
    fake_replicates,
    make_fake_run,
    png_text_chunks,
)

from bipdask.analyses.estimates import estimates_table
from bipdask.publish.disclosure import SUPPRESSED
from bipdask.publish.report.i18n import number


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    from bipdask.publish.report.build import write_report

    root = tmp_path_factory.mktemp("root")
    first = make_fake_run(root)
    second = make_fake_run(root, "r00000000000000b2", "2026-11-01T06:00:00+00:00", shift=0.01, seed=8)
    return {"root": root, "first": first, "second": second,
            "en": write_report(second.url), "da": write_report(second.url, lang="da"),
            "first_en": write_report(first.url)}


# --------------------------------------------------------------------------- content


def test_report_holds_every_table_and_figure_with_run_metadata(reports):
    text = Path(reports["en"]).read_text(encoding="utf-8")
    assert Path(reports["en"]) == Path(reports["second"].url) / "report" / "report.html"
    for key in ("tableA", "table3", "table4", "table6", "table7", "table8", "table9", "table10", "bip_table1",
                "caseload_table", "table1_persons", "table2_background", "table5_lab_mix", "figure1", "figure2",
                "forest6", "forest4", "coef", "bip_quartiles"):
        assert f'id="{key}"' in text, key
    imgs = re.findall(r'<img src="([^"]+)"', text)
    assert len(imgs) >= 7
    for src in imgs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in text and "https://" not in text and "<script" not in text
    for fact in ("r00000000000000b2", "Seed", ">8<", ">199<", "ab" * 32, "persons.parquet"):
        assert fact in text, fact
    assert "[" in text and "n=73" in text  # CIs and persons next to the estimates


def test_table4_caps_durations_above_52_weeks(reports):
    text = Path(reports["en"]).read_text(encoding="utf-8")
    text = text[text.index('id="table4"'):]  # Haderslev is also a row of the caseload table
    haderslev = text[text.index(">Haderslev<"):]
    haderslev = haderslev[:haderslev.index("</tr>")]
    assert "&gt;52" in haderslev and ("&gt;0" in haderslev or "&lt;0" in haderslev)


def test_suppression_is_applied_before_tables_and_figures_are_built(reports, monkeypatch, tmp_path):
    from bipdask.publish.report import build, figures
    from bipdask.publish.report.build import write_report

    seen = []
    real_tables, real_forest = build.all_tables, figures.forest

    def spy_tables(est, lang, names):
        seen.append(est.frame)
        return real_tables(est, lang, names)

    def spy_forest(frame, *a, **k):
        seen.append(frame)
        return real_forest(frame, *a, **k)

    monkeypatch.setattr(build, "all_tables", spy_tables)
    monkeypatch.setattr(figures, "forest", spy_forest)
    write_report(reports["second"].url, out_dir=tmp_path)
    assert len(seen) >= 3
    for frame in seen:
        small = frame[(frame["jobcentre_id"] == SMALL_JC) & (frame["estimand"] == "mean_participating")
                      & (frame["period"] == "before") & (frame["analysis"] == "share_internship_or_hours")]
        assert (small[SUPPRESSED] == "primary").all() and small["estimate"].isna().all()
        did = frame[(frame["jobcentre_id"] == SMALL_JC) & (frame["estimand"] == "did")]
        assert did[SUPPRESSED].isin(["secondary", "previous"]).all()  # "previous": hidden last month too
    csv = pd.read_csv(tmp_path / "published_estimates.csv")
    hidden = csv[csv[SUPPRESSED].fillna("") != ""]
    assert len(hidden) >= 3 and hidden["estimate"].isna().all() and hidden["n_persons"].isna().all()
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    table6 = html[html.index('id="table6"'):]
    varde = table6[table6.index(">Varde<"):]
    assert "×" in varde[:varde.index("</tr>")]
    assert "87.7" not in html and "87,7" not in html


def test_danish_labels_use_the_reports_terms(reports):
    text = Path(reports["da"]).read_text(encoding="utf-8")
    assert Path(reports["da"]).name == "report.da.html" and 'lang="da"' in text
    for term in ("Deltagende jobcentre", "Året før indsatsperioden", "Indsatsperioden", "Effekt",
                 "Forventet tid mellem LAB-indsatser, uger", "Tabel 4", "diskretioneret"):
        assert term in text, term
    assert re.search(r">\d+,\d<", text)  # decimal comma


def test_month_over_month_compares_with_the_previous_committed_run(reports):
    second = Path(reports["en"]).read_text(encoding="utf-8")
    first = Path(reports["first_en"]).read_text(encoding="utf-8")
    assert 'id="mom"' in second and "r00000000000000a1" in second
    assert "seed 7 → 8" in second and "0 of 2 input files changed" in second
    mom = second[second.index('id="mom"'):]
    assert "+1.0" in mom  # the DiD moved by one percentage point (shift 0.01)
    assert 'id="mom"' not in first
    assert "Protected against the previous run&#x27;s report (r00000000000000a1)" in second
    assert "Protected against" not in first


def test_report_folder_holds_no_replicates_or_microdata(reports):
    folder = Path(reports["second"].url) / "report"
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert all(f in ("report.html", "report.da.html", "published_estimates.csv") or
               re.fullmatch(r"figures/(en|da)/\w+\.png", f) for f in files), files
    assert not any("replicate" in f or "staged" in f or "persons" in f for f in files)


def test_no_person_id_in_report_png_metadata_or_csv(reports):
    ids = {str(i) for i in pd.read_parquet(Path(reports["second"].url) / "staged" / "persons.parquet")["person_id"]}
    folder = Path(reports["second"].url) / "report"
    for html_file in folder.glob("*.html"):
        text = html_file.read_text(encoding="utf-8")
        assert not ids & digit_tokens(text)
        for src in re.findall(r'src="data:image/png;base64,([^"]+)"', text):
            for chunk in png_text_chunks(base64.b64decode(src)):
                assert not ids & digit_tokens(chunk.decode("latin-1"))
                assert b"Software" not in chunk
    for png in folder.rglob("*.png"):
        for chunk in png_text_chunks(png.read_bytes()):
            assert not ids & digit_tokens(chunk.decode("latin-1"))
    assert not ids & digit_tokens((folder / "published_estimates.csv").read_text())


def _section(text: str, key: str) -> str:
    t = text[text.index(f'id="{key}"'):]
    return t[:t.index("</table>") + 2000]


def _row(section: str, row_label: str) -> list[str]:
    """The cells of the first table row with ``row_label``, tags stripped."""
    tr = section[section.index(f">{row_label}<"):]
    tr = tr[:tr.index("</tr>")]
    return [re.sub(r"<[^>]+>", " ", "<td" + c).split() for c in tr.split("<td")[1:]]


def test_difference_columns_carry_the_replicates_ci_or_say_why_not(reports):
    text = Path(reports["en"]).read_text(encoding="utf-8")
    reps = fake_replicates()
    d = (reps["participating_intervention|all|intervention"] - reps["participating_before|all|intervention"]).dropna()
    lo, hi = np.quantile(d, [0.025, 0.975])
    expected = f"[{number(lo, 0, sign=True)}, {number(hi, 0, sign=True)}]"
    table4 = _section(text, "table4")
    diff = _row(table4, "All participating job centres")[2]
    assert diff[0] == "−2" and " ".join(diff[1:3]) == expected  # 41 − 43, CI of the replicate differences
    assert expected != "[−2, −2]" and lo < -2 < hi
    favrskov = _row(table4, "Favrskov")[2]
    assert favrskov[0] == "−7" and favrskov[1].startswith("[")  # per job centre from its own columns
    assert _row(table4, "Varde")[2] == ["+2", "—"]  # no replicate columns for this job centre
    assert "percentile interval of the same bootstrap replicates" in table4 and "—: no CI" in table4
    table6 = _section(text, "table6")
    assert _row(table6, "Favrskov")[2] == ["+11.0", "—"]  # share means: analytic cells, correlated → no CI
    assert "—: no CI" in table6 and "percentile interval" not in table6[:table6.index("</table>") + 900]
    table3 = _section(text, "table3")
    assert "—" not in table3[:table3.index("</table>")]  # Table 3's difference is its own bootstrapped row


def test_difference_intervals_are_percentiles_of_the_replicate_differences():
    from bipdask.publish.report.tables import difference_intervals

    reps = pd.DataFrame({"replicate": range(5),
                         "participating_before|all|intervention": [40.0, 41, 42, 43, np.nan],
                         "participating_intervention|all|intervention": [38.0, 40, 39, 45, 50],
                         "other_before|7|intervention": [1.0, 2, 3, 4, 5],
                         "other_intervention|7|intervention": [1.0, 1, 1, 1, 1],
                         "did_weeks|all|intervention": [0.0] * 5})
    out = difference_intervals(reps, "hir_table7")
    # 1 failed replicate of 5 (20 % > 1 %): that interval is withheld, not computed from the other 4
    assert set(out) == {("hir_table7", "other", 7, "intervention")}
    assert out[("hir_table7", "other", 7, "intervention")] == tuple(np.quantile([0.0, -1, -2, -3, -4], [0.025, 0.975]))
    # 1 of 200 (0.5 %): the failure counts as extreme in both tails, the interval widens
    before = np.r_[np.nan, np.zeros(199)]
    after = np.r_[0.0, np.arange(199.0)]
    wide = difference_intervals(pd.DataFrame({"participating_before|all|intervention": before,
                                              "participating_intervention|all|intervention": after}), "hir_table7")
    lo, hi = wide[("hir_table7", "participating", None, "intervention")]
    assert (lo, hi) == (np.interp(199 * 0.025 - 1, range(199), np.arange(199.0)),
                        np.interp(199 * 0.975, range(199), np.arange(199.0)))
    assert lo < np.quantile(np.arange(199.0), 0.025) and hi > np.quantile(np.arange(199.0), 0.975)


def test_table7_shows_the_new_course_share_block_only_when_estimated():
    from bipdask.publish.disclosure import NEW_COURSE_SHARE_ANALYSIS, protect_estimates
    from bipdask.publish.report.tables import Estimates, duration_table

    base = estimates_table(fake_estimates()).to_pandas()
    t7 = duration_table(Estimates(protect_estimates(base, 5), 5), "hir_table7", "en", NAMES, per_jobcentre=False)
    share_rows = [r for r in t7.rows if r.label == "Participating job centres"]
    assert [c.text for c in share_rows[0].cells] == ["·"] * 4
    assert any("not estimated by this version" in n for n in t7.notes)
    a = NEW_COURSE_SHARE_ANALYSIS
    extra = estimates_table([_est(a, "mean_participating", None, "before", 0.10, 300, 9000),
                             _est(a, "mean_participating", None, "intervention", 0.11, 320, 9500),
                             _est(a, "mean_others", None, "before", 0.09, 3000, 90000),
                             _est(a, "mean_others", None, "intervention", 0.12, 3100, 91000),
                             _est(a, "did", None, "intervention", -0.02, 6720, 199500, 0.01, 0.2)]).to_pandas()
    est = Estimates(protect_estimates(pd.concat([base, extra], ignore_index=True), 5), 5)
    t7 = duration_table(est, "hir_table7", "en", NAMES, per_jobcentre=False)
    texts = [[c.text for c in r.cells] for r in t7.rows if not r.heading]
    assert ["10.0", "11.0", "+1.0", "−2.0"] in texts and ["9.0", "12.0", "+3.0", ""] in texts  # the source's layout
    assert not any("not estimated by this version" in n for n in t7.notes)


def _more_persons_in_favrskov(frame: pd.DataFrame) -> pd.DataFrame:
    """Month 2: two more persons (80 person-weeks) in Favrskov's before-period share cell."""
    sel = ((frame["analysis"] == "share_internship_or_hours") & (frame["jobcentre_id"] == 11)
           & (frame["estimand"] == "mean_participating") & (frame["period"] == "before"))
    frame.loc[sel, "n_persons"] += 2
    frame.loc[sel, "n_obs"] += 80
    frame.loc[sel, "estimate"] = 0.26
    return frame


def test_the_report_is_protected_against_the_previous_runs_release(tmp_path):
    from bipdask.publish.report import build
    from bipdask.publish.report.build import load_published, release_of, write_report
    from bipdask.runtime import storage

    first = make_fake_run(tmp_path)
    write_report(first.url)
    # the first report had also hidden Haderslev's last-3-months share (e.g. against ITS previous run)
    release_path = Path(first.url) / "published" / "estimates.parquet"
    release = pq.read_table(release_path)
    frame = release.to_pandas()
    haderslev = ((frame["analysis"] == "share_internship_or_hours") & (frame["jobcentre_id"] == 12)
                 & (frame["estimand"] == "mean_participating") & (frame["period"] == "last_3_months"))
    assert haderslev.sum() == 1 and frame.loc[haderslev, SUPPRESSED].iloc[0] == ""
    flags = frame[SUPPRESSED].where(~haderslev, "previous")
    pq.write_table(release.set_column(release.schema.get_field_index(SUPPRESSED), SUPPRESSED,
                                      pa.array(flags.tolist(), pa.string())), release_path)
    first = storage.commit(storage.RunLayout.create(tmp_path, first.run_id), first.manifest)  # as if committed so
    basis = release_of(first)
    assert (basis[SUPPRESSED] == "previous").sum() == 1 and basis["estimate"].notna().all()  # true values, flags

    second = make_fake_run(tmp_path, "r00000000000000b2", "2026-11-01T06:00:00+00:00", edit=_more_persons_in_favrskov)
    alone = load_published(second, previous=None).estimates
    together = load_published(second).estimates
    key = ["analysis", "estimand", "jobcentre_id", "period"]
    flags = together.set_index(key)[SUPPRESSED]
    alone_flags = alone.set_index(key)[SUPPRESSED]
    cell = ("share_internship_or_hours", "mean_participating", 11, "before")
    assert alone_flags[cell] == "" and flags[cell] == "previous"  # 30 → 32 persons: the difference is 2 persons
    hidden = ("share_internship_or_hours", "mean_participating", 12, "last_3_months")
    assert alone_flags[hidden] == "" and flags[hidden] == "previous"  # unchanged and hidden last month: stays hidden
    assert build.previous_run(second).run_id == first.run_id

    path = write_report(second.url)
    html = Path(path).read_text(encoding="utf-8")
    assert _row(_section(html, "table6"), "Favrskov")[0] == ["×"]
    assert "26.0" not in html[html.index('id="table6"'):html.index('id="forest6"')]
    published = pd.read_csv(Path(second.url) / "report" / "published_estimates.csv")
    assert set(published[SUPPRESSED].dropna()) >= {"primary", "previous"}


def test_unknown_run_is_an_input_error(tmp_path):
    from bipdask.errors import InputError
    from bipdask.publish.report.build import write_report

    with pytest.raises(InputError, match="not found"):
        write_report(str(tmp_path / "runs" / "rnothere"))


# --------------------------------------------------------------------------- browser


@pytest.mark.browser
def test_report_opens_in_headless_chromium_and_every_figure_loads(reports, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no chromium binary on PATH (install it, e.g. apt-get install -y chromium, to run this test)")
    shot = tmp_path / "report.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    url = Path(reports["en"]).resolve().as_uri()
    subprocess.run([chromium, *flags, f"--screenshot={shot}", "--window-size=1280,2000", url],
                   check=True, capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    dom = subprocess.run([chromium, *flags, "--dump-dom", url], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    imgs = re.findall(r"<img[^>]*>", dom)
    assert len(imgs) >= 7
    for tag in imgs:
        src = re.search(r'src="([^"]+)"', tag).group(1)
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        width, height = struct.unpack(">II", png[16:24])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and width > 100 and height > 100
    assert "Table 4" in dom


def test_the_flow_can_write_the_report_before_committing(tmp_path):
    """The flow writes report/ and then the manifest: write_report takes the manifest to come."""
    from bipdask.publish.report.build import write_report

    run = make_fake_run(tmp_path)
    manifest = dict(run.manifest)
    (Path(run.url) / "_manifest.json").unlink()
    (tmp_path / "runs" / "latest.json").unlink()
    path = write_report(run.url, manifest=manifest)
    assert Path(path).is_file() and not (Path(run.url) / "_manifest.json").exists()


def test_share_difference_intervals_come_from_the_cell_mean_replicates():
    import numpy as np

    from bipdask.publish.report.tables import share_difference_intervals

    rng = np.random.default_rng(0)
    before = rng.normal(0.17, 0.01, 999)
    after = before + rng.normal(0.03, 0.002, 999)  # correlated: the same persons in both periods
    reps = pd.DataFrame({"replicate": range(999), "mean_participating|all|before": before,
                         "mean_participating|all|intervention": after,
                         "mean_participating|7|before": before, "mean_others|all|before": before,
                         "mean_others|all|intervention": after - 0.01})
    out = share_difference_intervals(reps, "share_internship_or_hours")
    assert set(out) == {("share_internship_or_hours", "participating", None, "intervention"),
                        ("share_internship_or_hours", "other", None, "intervention")}
    lo, hi = out[("share_internship_or_hours", "participating", None, "intervention")]
    assert lo == pytest.approx(np.quantile(after - before, 0.025))
    assert hi == pytest.approx(np.quantile(after - before, 0.975))
    assert hi - lo < 0.01  # far narrower than the cells' own intervals (±0.02): correlation used


def test_figure2_number_at_risk_row_reads_the_protected_curve():
    from bipdask.publish.report import figures

    km = pd.DataFrame({"group": ["other_before"] * 4 + ["participating_before"] * 2,
                       "time": [0.0, 1.0, 12.0, 25.0, 0.0, 3.0], "n_risk": [40.0, 38.0, 20.0, 7.0, 9.0, 6.0],
                       "surv": [1, 0.9, 0.6, 0.5, 1, 0.8], "lower": 0.0, "upper": 1.0})
    risk = figures.at_risk_table(km, every=10)
    assert list(risk.columns) == [0, 10, 20]
    assert list(risk.index) == ["participating_before", "other_before"]  # the figure's group order
    # at week 10 the risk set is that of the next observed time (12): 20; at week 20, that of 25
    assert risk.loc["other_before"].tolist() == [40, 20, 7]
    # the participating curve was cut after week 3 (disclosure): blank, never a small count
    assert risk.loc["participating_before", 0] == 9 and np.isnan(risk.loc["participating_before", 10])
    assert figures.curves(km, "km").startswith(b"\x89PNG")


def test_a_run_recording_n_below_the_floor_is_still_published_at_the_floor(tmp_path):
    """A manifest saying disclosure_min_persons = 0 (a run committed before the floor was enforced)
    does not switch disclosure control off in the report, show or the rerun's summary."""
    from bipdask.errors import InputError
    from bipdask.publish.report.build import load_published
    from bipdask.runtime import storage

    run = make_fake_run(tmp_path)
    manifest = dict(run.manifest, spec={"name": "hir", "source": "hir", "content": {"disclosure_min_persons": 0}})
    run = storage.commit(storage.RunLayout.create(tmp_path, run.run_id), manifest)
    published = load_published(run, previous=None)
    assert published.min_persons == 5
    small = published.estimates[published.estimates["jobcentre_id"] == SMALL_JC]
    assert (small[SUPPRESSED] != "").any()
    with pytest.raises(InputError, match="disclosure floor"):
        load_published(run, min_persons=0)


def test_tables_4_and_7_show_the_restricted_mean_and_hazard_ratio_under_the_total(reports):
    text = Path(reports["en"]).read_text(encoding="utf-8")
    for key in ("tableA", "table4", "table7"):
        table = text[text.index(f'id="{key}"'):]
        table = table[:table.index("</table>")]
        block = table[table.index("restricted mean"):]
        assert "31" in block and "29.5" not in block  # levels in whole weeks
        assert "−1.9" in block and "1.087" in block, key  # the DiD (weeks, 1 decimal) and exp(δ)
    # the participating side's difference carries the interval of the replicate differences
    table4 = text[text.index('id="table4"'):]
    row = table4[table4.index("restricted mean"):]
    row = row[row.index("<tr"):]
    row = row[:row.index("</tr>")]
    assert "−2" in row and "[" in row


def test_table8_shows_the_share_of_persons_exiting_with_the_weekly_effect_beside_it(reports):
    text = Path(reports["en"]).read_text(encoding="utf-8")
    table = text[text.index('id="table8"'):]
    table = table[:table.index("</table>")]
    assert "Effect on the weekly exit probability" in table
    pension = table[table.index("Disability pension") if "Disability pension" in table else table.index("isability"):]
    row = pension[pension.index("Participating"):]
    row = row[:row.index("</tr>")]
    # per cent of persons (10.0 → 12.8), their difference, the persons DiD (−0.1 pp), the weekly β (−0.05 pp)
    for value in ("10.0", "12.8", "+2.8", "−0.1", "−0.05"):
        assert value in row, (value, row)


def test_table7_states_how_many_new_courses_started_with_a_lab_and_were_kept(reports):
    from bipdask.publish.report.build import first_week_lab_note

    text = Path(reports["en"]).read_text(encoding="utf-8")
    section = text[text.index('id="table7"'):]
    assert "first week is already a LAB week: 37" in section[:section.index("</section>")]
    estimation = {"notes": {"hir_table7": {"first_week_lab": 3}}}
    assert "fewer than 5" in first_week_lab_note(estimation, 5, "en")  # a small count is not shown
    assert "færre end 5" in first_week_lab_note(estimation, 5, "da")
    assert first_week_lab_note({}, 5, "en") == ""  # a run from before the count existed


def test_bip_table1_says_which_top_quartile_estimator_produced_it(reports):
    from bipdask.publish.report.build import bip_method_note

    text = Path(reports["en"]).read_text(encoding="utf-8")
    after = text[text.index('id="bip_table1"'):]
    assert "estimated by empirical Bayes" in after[:after.index('id="bip_change"')]
    split = {"spec": {"content": {"bip_top_quartile": "split", "bip_count_caseworker": "responses"}}}
    assert "split-sample ranking" in bip_method_note(split, "en") and "10 responses" in bip_method_note(split, "en")
    assert "empirisk Bayes" in bip_method_note({"spec": {"content": {"bip_top_quartile": "eb"}}}, "da")
    assert bip_method_note({"spec": {"content": {}}}, "en") == ""  # a run from before the choice existed
