"""The self-contained HTML report: one file, plots inlined as SVG, no script and no network.

Jinja2 autoescaping keeps parameter values, failure reasons and paths from becoming markup; the
SVG plots are our own matplotlib output and are the only content marked safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from tao_automl.report.model import ReportModel, fmt

if TYPE_CHECKING:
    from tao_automl.report.plots import Plot

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AutoML report: {{ m.metric }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; padding: 0 1rem; }
h1 { margin-bottom: .2rem; } .sub { color: #666; margin-top: 0; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: .8rem 1.2rem; min-width: 12rem; }
.card .v { font-size: 1.6rem; font-weight: 600; } .card .k { color: #666; font-size: .85rem; }
.good { color: #17803d; } .bad { color: #b42318; }
figure { margin: 1.5rem 0; } figure svg { max-width: 100%; height: auto; }
figcaption { font-weight: 600; margin-bottom: .4rem; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { border-bottom: 1px solid #e5e5e5; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f6f6; position: sticky; top: 0; } tr.best { background: #eefbea; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-success { color: #17803d; } .status-failure, .status-lost { color: #b42318; }
.status-invalid_configuration, .status-canceled { color: #9a6700; }
</style>
</head>
<body>
<h1>AutoML report</h1>
<p class="sub">{{ m.algorithm or "?" }} &middot; {{ m.completed }}/{{ m.total }} recommendations &middot;
state {{ m.state or "?" }}{% if m.stop_reason %} ({{ m.stop_reason }}){% endif %} &middot; {{ m.workspace }}</p>
<p id="headline">{{ m.headline }}</p>
<div class="cards" id="headline-cards">
  <div class="card"><div class="k">baseline {{ m.metric }} [{{ m.baseline.status }}]</div>
    <div class="v">{{ f(m.baseline.metric_value) }}</div></div>
  <div class="card"><div class="k">best {{ m.metric }}{% if m.best %} (rec {{ m.best.rec_id }}){% endif %}</div>
    <div class="v">{{ f(m.best.metric_value if m.best else None) }}</div></div>
  <div class="card"><div class="k">final evaluation [{{ m.final_evaluation.status }}]</div>
    <div class="v">{{ f(m.final_evaluation.metric_value) }}</div></div>
  <div class="card"><div class="k">improvement over baseline ({{ m.direction }})</div>
    {% set imp = m.improvement_over_baseline %}
    <div class="v {{ 'good' if imp and imp.improved else 'bad' if imp else '' }}">
      {{ '%+.4g' % imp.delta if imp else '-' }}</div></div>
</div>
{% if m.best %}<p>Best parameters: {% for k, v in m.best.params.items() %}<code>{{ k }}={{ f(v) }}</code>
{% endfor %}{% if m.best.checkpoint %}<br>checkpoint <code>{{ m.best.checkpoint }}</code>{% endif %}</p>{% endif %}
<h2>Plots</h2>
{% for p in plots %}
<figure class="plot" id="plot-{{ p.name }}"><figcaption>{{ p.title }}</figcaption>{{ svg(p.svg) }}</figure>
{% else %}<p>No plots yet: no recommendation has reported a metric.</p>{% endfor %}
{% if m.importance_note and not m.importance %}<p>Parameter importance: {{ m.importance_note }}</p>{% endif %}
<h2>Recommendations</h2>
<div style="overflow-x: auto">
<table id="recommendations">
<thead><tr><th>rec</th><th>status</th><th>{{ m.metric }}</th>{% for p in m.param_names %}<th>{{ p }}</th>{% endfor %}
<th>budget</th><th>epochs</th><th>from</th><th>failure</th><th>adjustments</th></tr></thead>
<tbody>
<tr class="baseline"><td>baseline</td><td>{{ m.baseline.status }}</td>
<td class="num">{{ f(m.baseline.metric_value) }}</td>
{% for p in m.param_names %}<td>default</td>{% endfor %}<td></td><td></td><td></td>
<td>{{ m.baseline.reason or "" }}</td><td></td></tr>
{% for r in m.rows %}
<tr class="{{ 'best' if r.is_best else '' }}"><td>{{ r.rec_id }}{{ ' ★' if r.is_best else '' }}</td>
<td class="status-{{ r.status }}">{{ r.status }}</td><td class="num">{{ f(r.metric) }}</td>
{% for p in m.param_names %}<td class="num">{{ f(r.params.get(p)) }}</td>{% endfor %}
<td class="num">{{ f(r.budget) }}</td><td class="num">{{ f(r.epochs_trained) }}{% if r.early_stop_epoch is not none %}
(stopped){% endif %}</td><td>{{ r.resume_from if r.resume_from is not none else '' }}</td>
<td>{% if r.failure_class %}{{ r.failure_class }}: {{ r.failure_reason or '' }}{% endif %}</td>
<td>{{ r.adjustments | join('; ') }}</td></tr>
{% endfor %}
</tbody></table>
</div>
{% set h = m.llm_health %}{% if h %}
<h2>LLM health</h2>
<p id="llm-health" class="{{ 'bad' if h.status == 'llm_blocked' else '' }}">
{% if h.status == 'llm_blocked' %}<strong>LLM-blocked:</strong> {{ h.reasons | join('; ') }}<br>{% endif %}
{{ h.calls }} calls ({{ h.succeeded }} accepted, {{ h.failed }} failed), {{ h.llm_proposals }} LLM proposals,
{{ h.fallbacks }} fallbacks, {{ h.used_history }} made with results in the prompt;
{{ h.tokens.total }} tokens{% if h.cost is not none %}, cost {{ h.cost }}{% endif %}.</p>
{% if m.experiments %}<table id="experiments"><thead><tr><th>experiment</th><th>decision</th><th>metric</th>
<th>hypothesis</th></tr></thead><tbody>{% for e in m.experiments %}<tr><td>{{ e.experiment_id }}</td>
<td>{{ e.decision }}</td><td class="num">{{ f(e.metric) }}</td><td>{{ e.hypothesis }}</td></tr>{% endfor %}
</tbody></table>{% endif %}{% endif %}
<h2>Final evaluation</h2>
<p id="final-evaluation">{{ m.final_evaluation.status }} {{ f(m.final_evaluation.metric_value) }}
{% if m.final_evaluation.reason %}({{ m.final_evaluation.reason }}){% endif %}</p>
</body>
</html>
"""

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_PAGE = _ENV.from_string(_TEMPLATE)


def render_html(model: ReportModel, plots: list[Plot]) -> str:
    """The report page; ``plots`` are inlined as SVG elements."""
    return _PAGE.render(m=model, plots=plots, f=fmt, svg=Markup)
