"""Report labels in English and Danish, and number formatting per language.

The Danish labels are the source reports' own terms (the HIR quantitative report, Metrica
2019: "Deltagende jobcentre", "Året før indsatsperioden", "Indsatsperioden", "Forskel",
"Effekt"; the BIP caseworker report, Rosholm et al.: "Sagsbehandler-kvartil", "Policy
eksperiment").
"""

from __future__ import annotations

import math

LANGUAGES = ("en", "da")

LABELS: dict[str, dict[str, str]] = {
    "report_title": {"en": "Evaluation report", "da": "Evalueringsrapport"},
    "contents": {"en": "Contents", "da": "Indhold"},
    "run": {"en": "Run", "da": "Kørsel"},
    "committed": {"en": "Committed", "da": "Afsluttet"},
    "spec": {"en": "Evaluation spec", "da": "Evalueringsspecifikation"},
    "seed": {"en": "Seed", "da": "Seed"},
    "bootstrap": {"en": "Bootstrap replicates (B)", "da": "Bootstrap-replikationer (B)"},
    "scheme": {"en": "Bootstrap scheme, clusters", "da": "Bootstrap-metode, klynger"},
    "code_version": {"en": "Code version", "da": "Kodeversion"},
    "inputs": {"en": "Inputs (sha256)", "da": "Inddata (sha256)"},
    "file": {"en": "File", "da": "Fil"},
    "disclosure": {"en": "Disclosure control", "da": "Diskretionering"},
    "disclosure_text": {
        "en": "Every published number rests on at least {n} persons. Cells below that are suppressed (×), "
              "and complementary cells are suppressed so that no suppressed cell can be recovered from "
              "totals, differences or the previous run's report; a cell that changed since then by fewer "
              "than {n} persons is suppressed too. {k} of {m} estimates are suppressed.",
        "da": "Alle offentliggjorte tal bygger på mindst {n} personer. Celler under denne grænse er "
              "diskretioneret (×), og komplementære celler er diskretioneret, så ingen diskretioneret "
              "celle kan genskabes fra totaler, differencer eller forrige kørsels rapport; en celle, der "
              "siden da har ændret sig med færre end {n} personer, er også diskretioneret. "
              "{k} af {m} estimater er diskretioneret."},
    "disclosure_previous": {"en": "Protected against the previous run's report ({run}).",
                            "da": "Beskyttet mod forrige kørsels rapport ({run})."},
    "how_to_read": {
        "en": "Each cell: estimate, 95% bootstrap confidence interval in brackets, number of persons (n). "
              "Effects in bold are statistically significant at the 5% level.",
        "da": "Hver celle: estimat, 95 % bootstrap-konfidensinterval i klammer, antal personer (n). "
              "Effekter angivet med fed skrift er statistisk signifikante på 5 procents niveau."},
    "inference": {"en": "Inference", "da": "Inferens"},
    "sec_methods": {"en": "How the uncertainty is computed", "da": "Sådan er usikkerheden beregnet"},
    "methods_wild": {
        "en": "The caseload cap was assigned to job centres, not to persons, so every HIR difference-in-differences "
              "is tested at job-centre level ({g} job centres): the weeks between LAB interventions (Tables A, 4, 7) "
              "and the hazard ratios (Tables 9, 10) by the wild score bootstrap; the shares and exits (Tables 6, 7, "
              "8 and the share rows of Tables 9, 10) by the wild cluster restricted bootstrap, with the p-value of "
              "no effect and the interval found by inverting that test. The pooled share effect is also tested by "
              "randomization inference over which job centres participate (row 'did_randomization'). One job "
              "centre's own effect rests on a single treated centre, where no bootstrap works: its interval comes "
              "from the comparison centres' placebo effects (Conley–Taber), and it is in bold only when it lies "
              "outside them. The levels (shares, weeks per group) keep person-level intervals. BIP results resample "
              "citizens and Table 3 caseworkers, the units of those designs. Person-level intervals would ignore "
              "shocks that job centres share and overstate the evidence.",
        "da": "Loftet over sagsstammer blev tildelt jobcentre, ikke personer, så alle HIR-forskel-i-forskelle testes "
              "på jobcenterniveau ({g} jobcentre): ugerne mellem LAB-indsatser (tabel A, 4, 7) og hazard ratios "
              "(tabel 9, 10) med wild score bootstrap; andele og afgange (tabel 6, 7, 8 og andelsrækkerne i tabel 9, "
              "10) med wild cluster restricted bootstrap, med p-værdien for ingen effekt og intervallet fundet ved at "
              "invertere testen. Den samlede effekt på andelen testes også med randomiseringsinferens over, hvilke "
              "jobcentre der deltager (rækken 'did_randomization'). Et enkelt jobcenters egen effekt hviler på ét "
              "behandlet jobcenter, hvor ingen bootstrap virker: intervallet kommer fra sammenligningsjobcentrenes "
              "placebo-effekter (Conley–Taber), og effekten er kun med fed, når den ligger uden for dem. Niveauerne "
              "(andele, uger pr. gruppe) har intervaller på personniveau. BIP-resultater gentrækker borgere og tabel 3 "
              "sagsbehandlere, enhederne i de designs. Intervaller på personniveau ville overse stød, som jobcentre "
              "deler, og overdrive evidensen."},
    "methods_pairs": {
        "en": "Every interval is a percentile interval of a pairs cluster bootstrap that resamples {unit} (B = {b}); "
              "the p-value is the share of centred replicates at least as far from zero as the estimate. The caseload "
              "cap was assigned to job centres: with person clusters these intervals ignore shocks that job centres "
              "share (the spec's inference = \"wild\" tests at job-centre level).",
        "da": "Alle intervaller er percentilintervaller fra en pairs cluster bootstrap, der gentrækker {unit} "
              "(B = {b}); p-værdien er andelen af centrerede replikationer mindst lige så langt fra nul som estimatet. "
              "Loftet blev tildelt jobcentre: med personklynger overser intervallerne stød, som jobcentre deler "
              "(specifikationens inference = \"wild\" tester på jobcenterniveau)."},
    "methods_analytic": {
        "en": "Intervals are analytic (cluster-robust, {unit}); no bootstrap was run.",
        "da": "Intervallerne er analytiske (klyngerobuste, {unit}); der er ikke kørt bootstrap."},
    "unit_jobcentre": {"en": "job centres", "da": "jobcentre"},
    "unit_person": {"en": "persons", "da": "personer"},
    "suppressed_note": {"en": "× suppressed (disclosure control); · not estimated.",
                        "da": "× diskretioneret; · ikke estimeret."},
    "sec_summary": {"en": "Summary", "da": "Sammenfatning"},
    "sec_belief": {"en": "The caseworker's belief in the citizen", "da": "Sagsbehandlerens tro på borgeren"},
    "sec_new_courses": {"en": "Newly granted resource courses", "da": "Nytilkendte ressourceforløb"},
    "sec_exits": {"en": "Exits from the resource course", "da": "Afgang fra ressourceforløb"},
    "sec_mediators": {"en": "Mediating factors", "da": "Medierende faktorer"},
    "sec_bip": {"en": "BIP: caseworker effectiveness", "da": "BIP: sagsbehandlernes effektivitet"},
    "sec_progression": {"en": "BIP: progression", "da": "BIP: progression"},
    "participating": {"en": "Participating job centres", "da": "Deltagende jobcentre"},
    "total_participating": {"en": "All participating job centres", "da": "I alt, deltagende jobcentre"},
    "others": {"en": "Other job centres", "da": "Landets øvrige jobcentre"},
    "others_short": {"en": "Other job centres", "da": "Øvrige jobcentre"},
    "before": {"en": "Year before the intervention period", "da": "Året før indsatsperioden"},
    "intervention": {"en": "Intervention period", "da": "Indsatsperioden"},
    "difference": {"en": "Difference", "da": "Forskel"},
    "effect": {"en": "Effect", "da": "Effekt"},
    "effect_last3": {"en": "Effect, last 3 months of the intervention period",
                     "da": "Effekt sidste 3 mdr. af indsatsperioden"},
    "whole_period": {"en": "whole period", "da": "hele perioden"},
    "weeks_between_lab": {"en": "Expected time between LAB interventions, weeks",
                          "da": "Forventet tid mellem LAB-indsatser, uger"},
    "share_internship": {"en": "Share in company internship or with ordinary hours, per cent",
                         "da": "Andel i virksomhedspraktik eller med ordinære timer, procent"},
    "effect_last3_pp": {"en": "Effect in the last three months of the intervention period, percentage points",
                        "da": "Effekt de sidste tre måneder af indsatsperioden, procentpoint"},
    "effect_pct": {"en": "Effect in per cent of the before level", "da": "Effekt i procent af niveauet før"},
    "tableA": {"en": "Table A. Overall development and effects", "da": "Tabel A. Overordnet udvikling og effekter"},
    "table3": {"en": "Table 3. Effect on the caseworker's belief in the citizen",
               "da": "Tabel 3. Effekt på sagsbehandlerens tro på borgeren"},
    "belief_pre": {"en": "Pre-survey, per cent", "da": "Før-måling, procent"},
    "belief_post": {"en": "Post-survey, per cent", "da": "Efter-måling, procent"},
    "belief_effect": {"en": "Effect, percentage points", "da": "Effekt, procentpoints"},
    "belief_internship_3m": {"en": "1. Take part in a company internship within 3 months",
                             "da": "1. Deltage i virksomhedspraktik inden for 3 mdr."},
    "belief_ordinary_hours_1y": {"en": "2. Obtain ordinary paid hours within 1 year",
                                 "da": "2. Opnå ordinære løntimer inden for 1 år"},
    "belief_job_2y": {"en": "3. Obtain a flex job, part- or full-time job within 2 years",
                      "da": "3. Opnå fleksjob, halvtid eller heltidsstilling inden for 2 år"},
    "table4": {"en": "Table 4. Average estimated time between LAB interventions, weeks",
               "da": "Tabel 4. Gennemsnitlig estimeret tid mellem LAB-indsatser, uger"},
    "table4_note": {"en": ">52: so few start a LAB intervention that the expected duration exceeds 52 weeks.",
                    "da": ">52 angiver, at der er ganske få der påbegynder en LAB-indsats i det pågældende "
                          "jobcenter og derfor, at den forventede varighed er højere end 52 uger."},
    "table6": {"en": "Table 6. Effect on the share in company internship or with ordinary hours, whole "
                     "intervention period and its last 3 months, per cent and percentage points",
               "da": "Tabel 6. Effekt på andel i virksomhedspraktik eller med ordinære timer, hele "
                     "indsatsperioden og de sidste 3 måneder heraf, procentpoints"},
    "table7": {"en": "Table 7. Effects for newly granted resource courses",
               "da": "Tabel 7. Effekter for nytilkendte ressourceforløb"},
    "table7_share_missing": {
        "en": "The share in company internship or with ordinary hours for new courses (the second block of the "
              "source's Table 7) is not estimated by this version of bipdask.",
        "da": "Andelen i virksomhedspraktik eller med ordinære timer for nytilkendte forløb (tabellens anden "
              "blok i kilden) estimeres ikke af denne version af bipdask."},
    "difference_ci": {
        "en": "Difference: intervention period − year before; its 95% CI is the percentile interval of the same "
              "bootstrap replicates as both periods' estimates.",
        "da": "Forskel: indsatsperioden − året før; 95 % KI er percentilintervallet af de samme "
              "bootstrap-replikationer som begge perioders estimater."},
    "difference_no_ci": {
        "en": "—: no CI for this difference. The same persons are in both periods, so the two cells are "
              "correlated, and the run stores no replicates of these means from which to derive one.",
        "da": "—: intet KI for denne forskel. De samme personer indgår i begge perioder, så de to celler er "
              "korrelerede, og kørslen gemmer ingen replikationer af disse gennemsnit, som et KI kan udledes af."},
    "effect_weekly_exit": {"en": "Effect on the weekly exit probability, pp",
                           "da": "Effekt på den ugentlige afgangssandsynlighed, procentpoint"},
    "table8_note": {
        "en": "Levels: per cent of the persons in a resource course in the period whose course ended in the period "
              "to the destination; Effect: the difference-in-differences of these shares, in percentage points. "
              "The last column is the effect on the weekly exit probability (eq. 3), in percentage points.",
        "da": "Niveauer: procent af personerne i ressourceforløb i perioden, hvis forløb sluttede i perioden med "
              "afgang til destinationen; Effekt: forskel-i-forskelle for disse andele, i procentpoint. Sidste "
              "kolonne er effekten på den ugentlige afgangssandsynlighed (lign. 3), i procentpoint."},
    "bip_method_note": {
        "en": "The top-quartile mean is estimated by {method}; caseworkers with at least 10 {rule}.",
        "da": "Gennemsnittet for den bedste kvartil er estimeret med {method}; sagsbehandlere med mindst 10 {rule}."},
    "bip_method_eb": {"en": "empirical Bayes (shrunken caseworker effects)",
                      "da": "empirisk Bayes (krympede sagsbehandlereffekter)"},
    "bip_method_split": {"en": "split-sample ranking (rank on one half, evaluate on the other)",
                         "da": "opdelt stikprøve (rangordnet på den ene halvdel, målt på den anden)"},
    "bip_method_raw": {"en": "the raw fixed effects (the report's rule; biased upward by the winner's curse)",
                       "da": "de rå faste effekter (rapportens metode; overvurderet pga. vinderens forbandelse)"},
    "bip_count_citizens": {"en": "citizens", "da": "borgere"},
    "bip_count_responses": {"en": "responses", "da": "besvarelser"},
    "first_week_lab_note": {
        "en": "New courses whose first week is already a LAB week: {n}. They are kept in the time-to-first-LAB model "
              "as starts within the first week, not dropped.",
        "da": "Nytilkendte forløb, hvis første uge allerede er en LAB-uge: {n}. De indgår i modellen for tid til "
              "første LAB-indsats som start i første uge og udelades ikke."},
    "fewer_than": {"en": "fewer than {n}", "da": "færre end {n}"},
    "rmst52": {"en": "Weeks without a new LAB intervention in the first 52 (restricted mean)",
               "da": "Uger uden ny LAB-indsats af de første 52 (begrænset middelværdi)"},
    "hazard_ratio_de": {"en": "Hazard ratio of a new LAB, exp(δ) (no effect = 1)",
                        "da": "Hazard ratio for ny LAB-indsats, exp(δ) (ingen effekt = 1)"},
    "rmst52_participating": {"en": "Participating job centres, weeks of 52", "da": "Deltagende jobcentre, uger af 52"},
    "rmst52_others": {"en": "Other job centres, weeks of 52", "da": "Landets øvrige jobcentre, uger af 52"},
    "rmst52_note": {
        "en": "Expected weeks are the Weibull model's mean of continuous time and extrapolate its tail beyond "
              "the 56 weeks observed; a spell's whole weeks average about ½ week more. The restricted mean counts "
              "the whole weeks, of the first 52, without a new LAB intervention, which the data observe; exp(δ) "
              "is the change in the hazard of a new LAB intervention.",
        "da": "Forventede uger er Weibull-modellens middelværdi af kontinuert tid og ekstrapolerer dens hale ud "
              "over de 56 observerede uger; et forløbs hele uger er i gennemsnit ca. ½ uge flere. Den begrænsede "
              "middelværdi tæller de hele uger af de første 52 uden ny LAB-indsats, som data observerer; exp(δ) "
              "er ændringen i afgangsraten til ny LAB-indsats."},
    "time_to_first_lab": {"en": "Time to first LAB intervention, weeks", "da": "Tid til første LAB-indsats, uger"},
    "table8": {"en": "Table 8. Exits from the resource course to ordinary employment, flex job, "
                     "ledighedsydelse and disability pension, weekly rate, per cent",
               "da": "Tabel 8. Afgang fra ressourceforløb til ordinær beskæftigelse, fleksjob, "
                     "ledighedsydelse og førtidspension, ugentlig rate, procent"},
    "ordinary_employment": {"en": "Ordinary employment", "da": "Ordinær beskæftigelse"},
    "flex_job": {"en": "Flex job", "da": "Fleksjob"},
    "ledighedsydelse": {"en": "Ledighedsydelse (flex-job waiting benefit)", "da": "Ledighedsydelse"},
    "disability_pension": {"en": "Disability pension", "da": "Førtidspension"},
    "table9": {"en": "Table 9. Caseload and effects on active interventions",
               "da": "Tabel 9. Caseload og effekter på aktive indsatser"},
    "effect_of_caseload": {"en": "Effect of caseload", "da": "Effekt af caseload"},
    "effect_of_caseload_change": {"en": "Effect of change in caseload", "da": "Effekt af ændring i caseload"},
    "lab_hazard": {"en": "Hazard rate to a LAB intervention (hazard ratio)",
                   "da": "Afgangsrate til LAB-indsats (hazard ratio)"},
    "share_coef": {"en": "Share in company internship or with ordinary paid hours (coefficient)",
                   "da": "Andel i virksomhedspraktik eller med ordinære løntimer (koefficient)"},
    "table9_note": {"en": "Hazard ratios from a Cox regression: 1 = no effect; below 1 = a higher caseload "
                          "lowers the rate of starting a LAB intervention.",
                    "da": "Resultatet for afgangsraten er baseret på en COX-regressionsmodel: ingen effekt "
                          "svarer til 1; en værdi under 1 betyder, at højere caseload giver en lavere "
                          "afgangsrate til LAB-indsats."},
    "table10": {"en": "Table 10. The caseworker's belief in the citizen and effects on active interventions",
                "da": "Tabel 10. Sagsbehandlernes tro på borgeren og effekter på aktive indsatser"},
    "internship": {"en": "Company internship", "da": "Virksomhedspraktik"},
    "ordinary_hours": {"en": "Ordinary paid hours", "da": "Ordinære løntimer"},
    "flexjob_job": {"en": "Flex job", "da": "Fleksjob"},
    "figure1": {"en": "Figure 1. Weekly probability of starting a new LAB intervention",
                "da": "Figur 1. Ugentlig sandsynlighed for påbegyndelse af nyt LAB-forløb"},
    "figure2": {"en": "Figure 2. Share who have not yet started a new LAB intervention",
                "da": "Figur 2. Andel som stadig ikke har påbegyndt nyt LAB-forløb"},
    "figure_forest6": {"en": "Effect on the share in internship or with ordinary hours, per job centre (pp, 95% CI)",
                       "da": "Effekt på andel i virksomhedspraktik eller med ordinære timer, pr. jobcenter "
                             "(procentpoint, 95 % KI)"},
    "figure_forest4": {"en": "Effect on expected time between LAB interventions, per job centre (weeks, 95% CI)",
                       "da": "Effekt på forventet tid mellem LAB-indsatser, pr. jobcenter (uger, 95 % KI)"},
    "figure_coef": {"en": "Tables 9–10 as coefficient plots (95% CI)",
                    "da": "Tabel 9–10 som koefficientplot (95 % KI)"},
    "weeks_since_lab": {"en": "Weeks since the end of the last LAB intervention",
                        "da": "Uger siden afslutning af seneste LAB-forløb"},
    "weekly_probability": {"en": "Weekly probability", "da": "Ugentlig sandsynlighed"},
    "share_no_new_lab": {"en": "Share without a new LAB intervention", "da": "Andel uden nyt LAB-forløb"},
    "number_at_risk": {"en": "Number at risk", "da": "Antal i risiko"},
    "participating_before": {"en": "Participating, year before", "da": "Deltagende, året før"},
    "participating_intervention": {"en": "Participating, intervention period", "da": "Deltagende, indsatsperioden"},
    "other_before": {"en": "Others, year before", "da": "Øvrige, året før"},
    "other_intervention": {"en": "Others, intervention period", "da": "Øvrige, indsatsperioden"},
    "hazard_ratio": {"en": "Hazard ratio", "da": "Hazard ratio"},
    "coefficient": {"en": "Coefficient", "da": "Koefficient"},
    "bip_table1": {"en": "BIP Table 1. Policy experiment: all caseworkers as effective as the average of the "
                         "25% most effective",
                   "da": "BIP Tabel 1. Policy eksperiment; alle sagsbehandlere lige så effektive som "
                         "gennemsnittet blandt de 25 % mest effektive"},
    "bip_actual": {"en": "Average share in employment, actual", "da": "Gennemsnitlig andel i beskæftigelse, faktisk"},
    "bip_counterfactual": {"en": "Average share in employment with effective caseworkers",
                           "da": "Gennemsnitlig andel i beskæftigelse med effektive sagsbehandlere"},
    "bip_increase": {"en": "Increase in the share in employment", "da": "Forøget andel i beskæftigelse"},
    "bip_r2": {"en": "R² without / with caseworker fixed effects", "da": "R² uden / med sagsbehandlereffekter"},
    "share_pct": {"en": "Share, per cent", "da": "Andel, procent"},
    "p_value": {"en": "p-value", "da": "P-værdi"},
    "bip_quartiles": {"en": "BIP: caseworkers by effectiveness quartile", "da": "BIP: sagsbehandler-kvartiler"},
    "quartile": {"en": "Caseworker quartile", "da": "Sagsbehandler-kvartil"},
    "bip_fig1": {"en": "Share in employment by caseworker quartile",
                 "da": "Andel i beskæftigelse opdelt i sagsbehandler-kvartiler"},
    "bip_fig2": {"en": "Caseworker effects by quartile", "da": "Fordeling af sagsbehandlereffekter"},
    "bip_fig4": {"en": "Use of activity groups by caseworker quartile", "da": "Sagsbehandlernes brug af indsatser"},
    "bip_change": {"en": "BIP: change of caseworker and the job chance",
                   "da": "BIP: skift af sagsbehandler og jobchancen"},
    "effect_pp": {"en": "Effect of a caseworker change, percentage points",
                  "da": "Effekt af sagsbehandlerskift, procentpoint"},
    "relative_effect": {"en": "Relative effect, per cent", "da": "Relativ effekt, procent"},
    "rate_changed": {"en": "Job rate after a change", "da": "Jobrate efter skift"},
    "rate_changed_without_change": {"en": "… had they not changed", "da": "… hvis de ikke havde skiftet"},
    "rate_unchanged": {"en": "Job rate without a change", "da": "Jobrate uden skift"},
    "bip_progression": {"en": "BIP: mean change between consecutive responses",
                        "da": "BIP: gennemsnitlig ændring mellem besvarelser"},
    "indicator": {"en": "Indicator", "da": "Indikator"},
    "mean_change": {"en": "Mean change (1–5 scale)", "da": "Gennemsnitlig ændring (skala 1–5)"},
    "citizen_avg": {"en": "Citizen questions, average", "da": "Borgerspørgsmål, gennemsnit"},
    "caseworker_avg": {"en": "Caseworker questions, average", "da": "Sagsbehandlerspørgsmål, gennemsnit"},
    "linkage": {"en": "Caseload linkage (Boks 1)", "da": "Kobling af caseload (Boks 1)"},
    "linkage_text": {"en": "{linked} of {pw} person-weeks linked to a caseworker's caseload ({rate}).",
                     "da": "{linked} af {pw} ugentlige observationer koblet med en sagsbehandlers caseload ({rate})."},
    "mom": {"en": "Month over month: what changed since the previous run",
            "da": "Måned for måned: hvad er ændret siden forrige kørsel"},
    "previous": {"en": "Previous run", "da": "Forrige kørsel"},
    "current": {"en": "This run", "da": "Denne kørsel"},
    "change": {"en": "Change", "da": "Ændring"},
    "estimate": {"en": "Estimate", "da": "Estimat"},
    "mom_inputs": {"en": "{k} of {m} input files changed; spec {spec}; seed {seed}.",
                   "da": "{k} af {m} inddatafiler er ændret; specifikation {spec}; seed {seed}."},
    "same": {"en": "unchanged", "da": "uændret"},
    "changed": {"en": "changed", "da": "ændret"},
    "no_estimates": {"en": "Not estimated in this run.", "da": "Ikke estimeret i denne kørsel."},
    "jobcentre": {"en": "Job centre", "da": "Jobcenter"},
    "all_rows": {"en": "All participating job centres", "da": "Deltagende jobcentre i alt"},
    "effect_size": {"en": "Standardized change by activity combination (J/O/S/H)",
                    "da": "Standardiseret ændring efter indsatskombination (J/O/S/H)"},
    # the data and first-stage tables (HIR quantitative report Tabel 1, 2, 5; HIR main report Tabel 1)
    "sec_first_stage": {"en": "Did caseloads fall? (first stage)", "da": "Faldt caseload? (første trin)"},
    "sec_data": {"en": "Persons, background and LAB interventions", "da": "Borgere, baggrund og LAB-indsatser"},
    "caseload_table": {"en": "Main report Table 1. Average caseload per full-time caseworker before and during the "
                             "5 monitoring periods of HIR (cases per 37-hour week)",
                       "da": "Hovedrapport tabel 1. Gennemsnitligt caseload per fuldtidsstilling forud for og under "
                             "de 5 monitoreringsperioder i HIR (sager per 37 timer)"},
    "caseload_note": {"en": "Mean over caseworker-weeks of cases × 37 / weekly hours. 'Average' is the mean of the "
                            "job centres' means. n = caseworkers. The change and the difference-in-differences "
                            "against comparison job centres that report caseloads are tested at job-centre level.",
                      "da": "Gennemsnit over sagsbehandler-uger af antal sager × 37 / ugentligt timetal. "
                            "'Gennemsnit' er gennemsnittet af jobcentrenes gennemsnit. n = sagsbehandlere. "
                            "Ændringen og forskel-i-forskellen over for sammenligningsjobcentre med caseload-data "
                            "testes på jobcenterniveau."},
    "caseload_baseline": {"en": "Before the project (Jan–Feb 2018)", "da": "Før projektet (jan.–feb. 18)"},
    "mar_may_2018": {"en": "1st period (Mar–May 2018)", "da": "1. periode (mar.–maj 18)"},
    "jun_aug_2018": {"en": "2nd period (Jun–Aug 2018)", "da": "2. periode (jun.–aug. 18)"},
    "sep_oct_2018": {"en": "3rd period (Sep–Oct 2018)", "da": "3. periode (sep.–okt. 18)"},
    "nov_dec_2018": {"en": "4th period (Nov–Dec 2018)", "da": "4. periode (nov.–dec. 18)"},
    "jan_mar_2019": {"en": "5th period (Jan–Mar 2019)", "da": "5. periode (jan.–mar. 19)"},
    "average": {"en": "Average", "da": "Gennemsnit"},
    "caseload_change": {"en": "Change, participating (intervention − before)",
                        "da": "Ændring, deltagende (indsatsperiode − før)"},
    "caseload_did": {"en": "Difference-in-differences against comparison job centres",
                     "da": "Forskel-i-forskel over for sammenligningsjobcentre"},
    "table1_persons": {"en": "Table 1. Persons in resource courses in the HIR intervention period and the year before",
                       "da": "Tabel 1. Borgere som har været i ressourceforløb i HIR-indsatsperioden og året før"},
    "persons_note": {"en": "Persons with at least one week with a resource-course code in the period.",
                     "da": "Borgere med mindst én uge med ressourceforløbskode i perioden."},
    "table2_background": {"en": "Table 2. Descriptive statistics", "da": "Tabel 2. Beskrivende statistik"},
    "table2_note": {"en": "Age in years, everything else in per cent or mean number of weeks (where stated).",
                    "da": "Alderen er målt i år, alt andet i procent eller gennemsnitligt antal uger (hvor angivet)."},
    "table5_lab_mix": {"en": "Table 5. Share in the different LAB interventions, per cent of resource-course weeks",
                       "da": "Tabel 5. Andel i forskellige LAB-indsatser, procent af ressourceforløbsuger"},
    "lab_mix_note": {"en": "Each cell: share of the group's resource-course weeks, 95% confidence interval "
                           "(persons as clusters) in brackets, persons with a week of that type (n).",
                     "da": "Hver celle: andel af gruppens ressourceforløbsuger, 95 % konfidensinterval "
                           "(personer som klynger) i klammer, borgere med en uge af den type (n)."},
    "male": {"en": "Male (%)", "da": "Mand (%)"},
    "age": {"en": "Age, years", "da": "Alder, år"},
    "non_western": {"en": "Non-Western immigrant/descendant (%)", "da": "Ikke-vestlig indvandrer/efterkommer (%)"},
    "western": {"en": "Western immigrant/descendant (%)", "da": "Vestlig indvandrer/efterkommer (%)"},
    "married": {"en": "Married/registered partnership (%)", "da": "Gift/reg. partnerskab (%)"},
    "history": {"en": "History", "da": "Historik"},
    "emp_weeks_6y": {"en": "Weeks employed, last 6 years", "da": "Antal ugers beskæftigelse seneste 6 år"},
    "emp_weeks_3y": {"en": "Weeks employed, last 3 years", "da": "Antal ugers beskæftigelse seneste 3 år"},
    "cash_weeks_6y": {"en": "Weeks on cash benefit, last 6 years", "da": "Antal ugers kontanthjælp seneste 6 år"},
    "cash_weeks_3y": {"en": "Weeks on cash benefit, last 3 years", "da": "Antal ugers kontanthjælp seneste 3 år"},
    "selfsupp_weeks_6y": {"en": "Weeks self-supporting, last 6 years",
                          "da": "Antal ugers selvforsørgelse seneste 6 år"},
    "selfsupp_weeks_3y": {"en": "Weeks self-supporting, last 3 years",
                          "da": "Antal ugers selvforsørgelse seneste 3 år"},
    "su_weeks_6y": {"en": "Weeks on SU, last 6 years", "da": "Antal ugers SU seneste 6 år"},
    "su_weeks_3y": {"en": "Weeks on SU, last 3 years", "da": "Antal ugers SU seneste 3 år"},
    "sick_weeks_6y": {"en": "Weeks on sickness benefit, last 6 years", "da": "Antal ugers sygedagpenge seneste 6 år"},
    "sick_weeks_3y": {"en": "Weeks on sickness benefit, last 3 years", "da": "Antal ugers sygedagpenge seneste 3 år"},
    "rf_weeks_6y": {"en": "Weeks in resource course, last 6 years", "da": "Antal ugers ressourceforløb seneste 6 år"},
    "rf_weeks_3y": {"en": "Weeks in resource course, last 3 years", "da": "Antal ugers ressourceforløb seneste 3 år"},
    "lab_none": {"en": "No intervention", "da": "Ingen indsats"},
    "lab_guidance_upskilling": {"en": "Guidance and upskilling", "da": "Vejledning og opkvalificering"},
    "lab_ordinary_education": {"en": "Ordinary education", "da": "Ordinær uddannelse"},
    "lab_wage_subsidy": {"en": "Wage subsidy", "da": "Løntilskud"},
    "lab_company_internship": {"en": "Company internship", "da": "Virksomhedspraktik"},
}

# the methods, data and links sections (bipdask.publish.report.about)
LABELS.update({
    "sec_about_methods": {"en": "Methods", "da": "Metode"},
    "sec_about_data": {"en": "Data", "da": "Data"},
    "sec_links": {"en": "Links", "da": "Links"},
    "models": {"en": "Models", "da": "Modeller"},
    "col_table": {"en": "Table", "da": "Tabel"},
    "col_model": {"en": "Model", "da": "Model"},
    "col_inference": {"en": "Inference", "da": "Inferens"},
    "col_clusters": {"en": "Clusters", "da": "Klynger"},
    "col_replicates": {"en": "Replicates", "da": "Replikationer"},
    "inference_settings": {"en": "Clustering and inference", "da": "Klyngeinddeling og inferens"},
    "inference_method": {"en": "Inference (spec)", "da": "Inferens (specifikation)"},
    "cluster_level": {"en": "Cluster level", "da": "Klyngeniveau"},
    "n_clusters": {"en": "Clusters of the design-based tests", "da": "Klynger i de designbaserede test"},
    "bootstrap_b": {"en": "Bootstrap replicates (B)", "da": "Bootstrap-replikationer (B)"},
    "bootstrap_scheme": {"en": "Replicate weights", "da": "Replikationsvægte"},
    "bootstrap_seed": {"en": "Seed", "da": "Seed"},
    "disclosure_rule": {"en": "Disclosure rule", "da": "Diskretioneringsregel"},
    "disclosure_min": {"en": "Minimum persons per published cell",
                       "da": "Mindste antal personer pr. offentliggjort celle"},
    "disclosure_rule_text": {
        "en": "A cell resting on fewer than {n} persons is suppressed (primary: {primary}); cells that would reveal "
              "it through a total or a difference are suppressed too (secondary: {secondary}), and so are cells "
              "that would reveal one through the previous run's release (previous: {previous}). Curves stop where "
              "fewer than {n} persons are at risk.",
        "da": "En celle, der bygger på færre end {n} personer, diskretioneres (primær: {primary}); celler, der "
              "ville afsløre den gennem en total eller en difference, diskretioneres også (sekundær: {secondary}), "
              "og det samme gælder celler, der ville afsløre en gennem forrige kørsels offentliggørelse (forrige: "
              "{previous}). Kurver stopper, hvor færre end {n} personer er i risiko."},
    "match_rate_floor": {"en": "Minimum linkage rate", "da": "Mindste koblingsrate"},
    "top_quartile": {"en": "BIP top-quartile estimator", "da": "BIP-estimator for top-kvartilen"},
    "periods": {"en": "Periods", "da": "Perioder"},
    "period_from": {"en": "From", "da": "Fra"},
    "period_to": {"en": "To", "da": "Til"},
    "period_before": {"en": "Year before the intervention period", "da": "Året før indsatsperioden"},
    "period_intervention": {"en": "Intervention period", "da": "Indsatsperioden"},
    "period_last_months": {"en": "Last {k} months of the intervention period",
                           "da": "De sidste {k} måneder af indsatsperioden"},
    "period_caseload_baseline": {"en": "Caseload baseline", "da": "Caseload-basisperiode"},
    "delivery_weeks": {"en": "Weeks in the delivery", "da": "Uger i leverancen"},
    "participating": {"en": "Participating job centres", "da": "Deltagende jobcentre"},
    "participating_text": {"en": "{k} participating and {c} comparison job centres in the delivery.",
                           "da": "{k} deltagende og {c} sammenligningsjobcentre i leverancen."},
    "not_found": {"en": "Named in the spec but not in the delivery: {names}.",
                  "da": "Nævnt i specifikationen, men ikke i leverancen: {names}."},
    "row_counts": {"en": "Rows per table", "da": "Rækker pr. tabel"},
    "rows_in": {"en": "Delivered", "da": "Leveret"},
    "rows_staged": {"en": "Staged", "da": "Valideret"},
    "rows_quarantined": {"en": "Quarantined", "da": "I karantæne"},
    "linkage_rate": {"en": "Linkage rate", "da": "Koblingsrate"},
    "linkage_rate_text": {"en": "{rate} of person-weeks matched to a caseworker's caseload (floor {floor}).",
                          "da": "{rate} af personugerne koblet med en sagsbehandlers caseload (mindst {floor})."},
    "linkage_unavailable": {"en": "Not available: {reason}.", "da": "Ikke tilgængelig: {reason}."},
    "versions": {"en": "Software versions", "da": "Softwareversioner"},
    "package": {"en": "Package", "da": "Pakke"},
    "version": {"en": "Version", "da": "Version"},
    "link_release": {"en": "The published estimates (Parquet)", "da": "De offentliggjorte estimater (Parquet)"},
    "link_release_csv": {"en": "The published estimates (CSV)", "da": "De offentliggjorte estimater (CSV)"},
    "link_flow_run": {"en": "The Prefect flow run", "da": "Prefect-flowkørslen"},
    "flow_run_id": {"en": "Prefect flow run id", "da": "Prefect-flowkørslens id"},
    "no_flow_run_link": {"en": "(no Prefect UI configured for this run)",
                         "da": "(ingen Prefect-brugerflade konfigureret for denne kørsel)"},
    "inf_wild": {"en": "wild bootstrap test", "da": "wild bootstrap-test"},
    "inf_pairs": {"en": "pairs cluster bootstrap", "da": "pairs cluster bootstrap"},
    "inf_analytic": {"en": "analytic (cluster-robust)", "da": "analytisk (klyngerobust)"},
    "inf_randomization": {"en": "randomization inference", "da": "randomiseringsinferens"},
    "inf_placebo": {"en": "Conley–Taber placebo", "da": "Conley–Taber placebo"},
    "inf_none": {"en": "none (levels and counts)", "da": "ingen (niveauer og antal)"},
    "level_jobcentre": {"en": "job centre", "da": "jobcenter"},
    "level_person": {"en": "person", "da": "person"},
    "level_caseworker": {"en": "caseworker", "da": "sagsbehandler"},
    "level_citizen": {"en": "citizen", "da": "borger"},
    "model_hir_caseload": {"en": "Mean FTE caseload per caseworker by job centre and period; its change and DiD at "
                                 "job-centre level",
                           "da": "Gennemsnitlig caseload pr. fuldtidssagsbehandler pr. jobcenter og periode; ændring "
                                 "og forskel-i-forskel på jobcenterniveau"},
    "model_descriptive": {"en": "Descriptive: counts, means and shares by group and period",
                          "da": "Beskrivende: antal, gennemsnit og andele pr. gruppe og periode"},
    "model_hir_table3": {"en": "Caseworkers' belief before and after: means and their difference",
                         "da": "Sagsbehandlernes tro før og efter: gennemsnit og forskel"},
    "model_weibull": {"en": "Weibull proportional-hazards DiD (eq. 1): expected weeks, 52-week restricted means, "
                            "hazard ratio exp(δ)",
                      "da": "Weibull proportional hazard forskel-i-forskel (ligning 1): forventede uger, begrænset "
                            "middelværdi over 52 uger, hazard ratio exp(δ)"},
    "model_cell_did": {"en": "Saturated 2×2 cell DiD (eq. 2) of person-week shares",
                       "da": "Mættet 2×2 celle-forskel-i-forskel (ligning 2) af andele af personuger"},
    "model_hir_table8": {"en": "Linear probability DiD of weekly exits (eq. 3); shares of persons exiting",
                         "da": "Lineær sandsynlighedsmodel, forskel-i-forskel for ugentlige afgange (ligning 3); "
                               "andele af personer med afgang"},
    "model_cox": {"en": "Cox regression stratified by job centre (hazard ratios, Efron ties); linear probability "
                        "models of the share",
                  "da": "Cox-regression stratificeret efter jobcenter (hazard ratios, Efron-ties); lineære "
                        "sandsynlighedsmodeller for andelen"},
    "model_bip_fe": {"en": "Linear probability model with caseworker fixed effects; top-quartile mean by {method}",
                     "da": "Lineær sandsynlighedsmodel med faste effekter for sagsbehandlere; top-kvartilens "
                           "gennemsnit ved {method}"},
    "model_bip_change": {"en": "Job rates of citizens whose caseworker changed or did not; their difference",
                         "da": "Jobandele for borgere, hvis sagsbehandler skiftede eller ej; forskellen"},
    "model_bip_progression": {"en": "Mean answer changes between responses; effect sizes by activity combination",
                              "da": "Gennemsnitlige ændringer i svar mellem besvarelser; effektstørrelser pr. "
                                    "aktivitetskombination"},
    "tab_hir_caseload": {"en": "Main report Table 1", "da": "Hovedrapport tabel 1"},
    "tab_hir_table1_persons": {"en": "Table 1", "da": "Tabel 1"},
    "tab_hir_table2_background": {"en": "Table 2", "da": "Tabel 2"},
    "tab_hir_table5_lab_mix": {"en": "Table 5", "da": "Tabel 5"},
    "tab_hir_table3": {"en": "Table 3", "da": "Tabel 3"},
    "tab_hir_table4": {"en": "Tables A, 4", "da": "Tabel A, 4"},
    "tab_hir_table7": {"en": "Table 7", "da": "Tabel 7"},
    "tab_share_internship_or_hours": {"en": "Tables A, 6", "da": "Tabel A, 6"},
    "tab_share_internship_or_hours_new_courses": {"en": "Table 7 (share block)", "da": "Tabel 7 (andele)"},
    "tab_hir_table8": {"en": "Table 8", "da": "Tabel 8"},
    "tab_hir_table9": {"en": "Table 9", "da": "Tabel 9"},
    "tab_hir_table10": {"en": "Table 10", "da": "Tabel 10"},
    "tab_bip_caseworker_effectiveness": {"en": "BIP Tabel 1", "da": "BIP tabel 1"},
    "tab_bip_caseworker_change": {"en": "BIP caseworker change", "da": "BIP skift af sagsbehandler"},
    "tab_bip_progression": {"en": "BIP progression", "da": "BIP progression"},
})


def label(key: str, lang: str = "en") -> str:
    """The label ``key`` in ``lang`` (falls back to English, then to the key itself)."""
    entry = LABELS.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["en"]


def number(x: float | None, decimals: int = 1, lang: str = "en", sign: bool = False) -> str:
    """A number as the report prints it: Danish decimal comma and thousands dot with ``lang="da"``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    r = round(float(x), decimals) + 0.0  # + 0.0: no "-0"
    if r == 0:
        r = 0.0
    text = f"{r:+,.{decimals}f}" if sign and r != 0 else f"{r:,.{decimals}f}"
    if lang == "da":
        text = text.replace(",", "\u0001").replace(".", ",").replace("\u0001", ".")
    return text.replace("-", "\u2212")


def count(n: int | float | None, lang: str = "en") -> str:
    """A person count with thousands separators."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return ""
    return number(float(n), 0, lang)
