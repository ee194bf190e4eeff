"""kmoe's study reports, from the runs' HDF5 records alone. Usable from a notebook:

    import kmoe_post
    study = kmoe_post.load("inputs/studies/noise-lb-small.toml")
    study.runs        # one row per run: deck values, varied values, state, final metrics
    study.trajectory  # one row per step per run
    study.router      # one row per step x layer x expert per run (MoE runs): load, importance
    study.router_layers  # one row per step x layer per run: entropy, max/min load fraction, dropped
    study.evals       # one row per evaluation per run
"""
from .records import Study, load

__all__ = ["Study", "load"]
