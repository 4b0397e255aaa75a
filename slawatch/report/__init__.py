"""The monthly SLA report: `slawatch report --month`.

    queries      the month's SQL: counts, sums and order statistics over tickets
    percentiles  nearest-rank percentiles and the bands SQL uses to find them
    attainment   the pure maths: ratios, targets, intervals, availability, budgets
    month        decides the month, asks `queries`, shapes the JSON-ready report
    render       text, markdown, HTML, JSON and CSV from that report
    charts       inline SVG charts for the HTML report
"""

__all__ = ["attainment", "charts", "month", "percentiles", "queries", "render"]
