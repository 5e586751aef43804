"""Danish geography for the synthetic delivery: the 98 municipalities and their job centres.

Municipality codes and names are the real ones (Danmarks Statistik, kommunekoder since the 2007
reform); populations are rounded 1 January 2018 figures and serve only to split the "other job
centres" totals of the HIR quantitative report's Tabel 1 (Metrica 2019) across job centres.

Every municipality has its own job centre except Vallensbæk (187) and Ishøj (183), which share
the job centre "Vallensbæk-Ishøj" (as in the contract's ``jobcentres`` table). A job centre's
``jobcentre_id`` is the smallest municipality code it serves (so Vallensbæk-Ishøj is 183) —
stable across deliveries and runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bipdask.data.contract import JOBCENTRES

# (municipality_code, name, population 1 Jan 2018, rounded)
MUNICIPALITIES: tuple[tuple[int, str, int], ...] = (
    (101, "København", 613_000), (147, "Frederiksberg", 104_000), (151, "Ballerup", 48_500),
    (153, "Brøndby", 35_000), (155, "Dragør", 14_300), (157, "Gentofte", 75_800),
    (159, "Gladsaxe", 68_900), (161, "Glostrup", 23_100), (163, "Herlev", 28_700),
    (165, "Albertslund", 27_700), (167, "Hvidovre", 53_200), (169, "Høje-Taastrup", 50_000),
    (173, "Lyngby-Taarbæk", 55_800), (175, "Rødovre", 40_200), (183, "Ishøj", 22_900),
    (185, "Tårnby", 43_100), (187, "Vallensbæk", 16_400), (190, "Furesø", 40_900),
    (201, "Allerød", 25_300), (210, "Fredensborg", 40_900), (217, "Helsingør", 62_700),
    (219, "Hillerød", 50_700), (223, "Hørsholm", 24_900), (230, "Rudersdal", 56_400),
    (240, "Egedal", 43_300), (250, "Frederikssund", 45_000), (253, "Greve", 50_500),
    (259, "Køge", 60_200), (260, "Halsnæs", 31_200), (265, "Roskilde", 87_600),
    (269, "Solrød", 22_900), (270, "Gribskov", 41_000), (306, "Odsherred", 32_700),
    (316, "Holbæk", 71_100), (320, "Faxe", 36_200), (326, "Kalundborg", 48_600),
    (329, "Ringsted", 34_700), (330, "Slagelse", 79_000), (336, "Stevns", 22_500),
    (340, "Sorø", 29_700), (350, "Lejre", 27_900), (360, "Lolland", 41_800),
    (370, "Næstved", 82_500), (376, "Guldborgsund", 61_100), (390, "Vordingborg", 45_300),
    (400, "Bornholm", 39_600), (410, "Middelfart", 38_300), (420, "Assens", 41_200),
    (430, "Faaborg-Midtfyn", 51_500), (440, "Kerteminde", 23_900), (450, "Nyborg", 31_900),
    (461, "Odense", 202_300), (479, "Svendborg", 58_300), (480, "Nordfyns", 29_500),
    (482, "Langeland", 12_400), (492, "Ærø", 6_100), (510, "Haderslev", 55_900),
    (530, "Billund", 26_600), (540, "Sønderborg", 74_500), (550, "Tønder", 37_700),
    (561, "Esbjerg", 115_700), (563, "Fanø", 3_400), (573, "Varde", 50_100),
    (575, "Vejen", 42_800), (580, "Aabenraa", 58_900), (607, "Fredericia", 51_200),
    (615, "Horsens", 89_400), (621, "Kolding", 92_400), (630, "Vejle", 114_300),
    (657, "Herning", 88_000), (661, "Holstebro", 58_500), (665, "Lemvig", 19_900),
    (671, "Struer", 21_400), (706, "Syddjurs", 42_300), (707, "Norddjurs", 37_600),
    (710, "Favrskov", 48_200), (727, "Odder", 22_800), (730, "Randers", 97_700),
    (740, "Silkeborg", 92_300), (741, "Samsø", 3_700), (746, "Skanderborg", 61_300),
    (751, "Aarhus", 340_400), (756, "Ikast-Brande", 41_100), (760, "Ringkøbing-Skjern", 56_800),
    (766, "Hedensted", 46_500), (773, "Morsø", 20_300), (779, "Skive", 46_400),
    (787, "Thisted", 43_600), (791, "Viborg", 96_200), (810, "Brønderslev", 35_900),
    (813, "Frederikshavn", 60_200), (820, "Vesthimmerlands", 37_000), (825, "Læsø", 1_800),
    (840, "Rebild", 29_800), (846, "Mariagerfjord", 42_100), (849, "Jammerbugt", 38_500),
    (851, "Aalborg", 213_600), (860, "Hjørring", 65_000),
)

SHARED_JOBCENTRES: dict[int, str] = {183: "Vallensbæk-Ishøj", 187: "Vallensbæk-Ishøj"}
"""Municipalities served by a shared job centre → the job centre's name."""

HIR_JOBCENTRES: tuple[str, ...] = (
    "Favrskov", "Faxe", "Faaborg-Midtfyn", "Gladsaxe", "Greve", "Haderslev", "Hedensted",
    "Herning", "Horsens", "Kolding", "Lyngby-Taarbæk", "Slagelse", "Syddjurs",
    "Vallensbæk-Ishøj", "Varde",
)
"""The 15 job centres of the HIR experiment (``bipdask/specs/hir.toml``; HIR quantitative report, Tabel 1)."""

BIP_JOBCENTRES: tuple[str, ...] = (
    "Faxe", "Horsens", "Rebild", "Silkeborg", "Sønderborg", "Thisted", "Vejen", "Viborg",
    "Vordingborg", "Aarhus",
)
"""The 10 job centres of the BIP survey (BIP caseworker report, sample description)."""


def municipalities() -> pd.DataFrame:
    """The 98 municipalities: ``municipality_code``, ``municipality``, ``population``, ``jobcentre``."""
    df = pd.DataFrame(MUNICIPALITIES, columns=["municipality_code", "municipality", "population"])
    df["jobcentre"] = [SHARED_JOBCENTRES.get(c, n) for c, n in zip(df.municipality_code, df.municipality)]
    return df


def jobcentres() -> pd.DataFrame:
    """The contract table ``jobcentres``: one row per municipality, typed by the contract."""
    m = municipalities()
    jc_id = m.groupby("jobcentre")["municipality_code"].transform("min")
    df = pd.DataFrame(
        {
            "jobcentre_id": jc_id.astype("int32"),
            "name": m["jobcentre"],
            "municipality_code": m["municipality_code"].astype("int32"),
        }
    )
    return df[list(JOBCENTRES.column_names)].sort_values("municipality_code").reset_index(drop=True)


def jobcentre_table() -> pd.DataFrame:
    """One row per job centre (97): ``jobcentre_id``, ``name``, ``municipality_code`` (its main
    municipality, the smallest code), ``population``, ``participating`` (HIR, D=1), ``bip``."""
    m = municipalities()
    g = m.groupby("jobcentre", sort=False).agg(
        municipality_code=("municipality_code", "min"), population=("population", "sum")
    )
    df = g.reset_index().rename(columns={"jobcentre": "name"})
    df.insert(0, "jobcentre_id", df["municipality_code"].astype("int32"))
    df["participating"] = df["name"].isin(HIR_JOBCENTRES)
    df["bip"] = df["name"].isin(BIP_JOBCENTRES)
    return df.sort_values("jobcentre_id").reset_index(drop=True)


def jobcentre_ids(names: tuple[str, ...] | list[str]) -> list[int]:
    """``jobcentre_id`` of each named job centre, in the order given (KeyError if unknown)."""
    t = jobcentre_table().set_index("name")["jobcentre_id"]
    return [int(t[n]) for n in names]


def participating_jobcentre_ids() -> list[int]:
    """The 15 HIR job centres' ids (D=1)."""
    return jobcentre_ids(HIR_JOBCENTRES)


def bip_jobcentre_ids() -> list[int]:
    """The 10 BIP job centres' ids."""
    return jobcentre_ids(BIP_JOBCENTRES)


def apportion(total: int, weights: np.ndarray, minimum: int = 1) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder), each ≥ ``minimum``.

    The parts sum to ``total`` exactly when ``total ≥ minimum × len(weights)``; otherwise every
    part is ``minimum``.
    """
    w = np.asarray(weights, dtype=float)
    k = len(w)
    if total <= minimum * k:
        return np.full(k, minimum, dtype=np.int64)
    rest = total - minimum * k
    raw = rest * w / w.sum()
    base = np.floor(raw).astype(np.int64)
    short = rest - int(base.sum())
    order = np.lexsort((np.arange(k), -(raw - base)))
    base[order[:short]] += 1
    return base + minimum
