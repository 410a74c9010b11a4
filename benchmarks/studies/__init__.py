"""The reproduction studies of docs/results.md, one module each, in page
order. Each has `TITLE`, `run(bench)` (trains and measures, caching every
result) and `section(results, figures)` (its tables, figures and prose)."""

from benchmarks.studies import atfr, clustering, clustering_hard, inception, mtconv, sfc, speed

STUDIES = {"atfr": atfr, "clustering": clustering, "clustering_hard": clustering_hard,
           "sfc": sfc, "inception": inception, "mtconv": mtconv, "speed": speed}
