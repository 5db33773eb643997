"""Evaluation: metrics (one module per family), benchmark cases, runner, summary and HTML report.

Metric code talks to perception through the small protocols in `backends.py`; the world
perception models, dlib or ArcFace plug in behind them.
"""
