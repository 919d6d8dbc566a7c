"""``aip-sdk bench``: strategies x suites x seeds, live, with results, summary and Pareto plot."""
