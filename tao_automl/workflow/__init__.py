"""The gated launch workflow, as a library: one module per step.

plan -> preflight (``preflight_step``) -> image (``image_step``) -> baseline, measured or knowingly
waived (``baseline_step``) -> review: estimate, first batch, content hash (``review_step``) ->
confirmed launch (``launch_step``) -> status (``status_step``) -> summary (``summary_step``).
Each step takes its pydantic input model (``models``) and a :class:`WorkflowContext` and returns
its output model, or raises :class:`GateRefusal` with the gate, the reason and the fix. State lives
per plan under the context's state directory (``state``), so any process can take the flow on: the
MCP server (``server/app.py``) and the command line (``tao-automl preflight ...``) are thin faces
over these functions and refuse the same things with the same words.
"""
