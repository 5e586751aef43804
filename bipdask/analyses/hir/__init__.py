"""The HIR caseload experiment's tables (HIR quantitative report): durations (Tables A, 4, 7 and
Figures 1–2), shares (Tables 6–7), exits (Table 8), beliefs (Table 3), mediators (Tables 9–10)."""
