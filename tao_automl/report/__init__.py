"""Reports of a run: one model (``ReportModel``) rendered for the terminal, markdown, HTML and MCP.

``write_report(workspace)`` writes ``report/summary.md``, the self-contained ``report/report.html``
and ``report/plots/*.png``.
"""

from tao_automl.report.console import print_summary, rich_table
from tao_automl.report.markdown import markdown
from tao_automl.report.model import ReportModel, build_report, headline, load_result
from tao_automl.report.writer import write_report, write_report_files

__all__ = [
    "ReportModel",
    "build_report",
    "headline",
    "load_result",
    "markdown",
    "print_summary",
    "rich_table",
    "write_report",
    "write_report_files",
]
