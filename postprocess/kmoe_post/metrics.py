"""Every per-run metric the report shows, said once: its column, heading, format, and whether the
statistics test it and the bar plots draw it."""
import dataclasses


@dataclasses.dataclass(frozen=True)
class Metric:
    column: str
    label: str
    fmt: str
    tested: bool = False  # compared between conditions (each its own family for Holm)
    bars: bool = False    # drawn per condition, and analysed by the two-way ANOVA


# In the order the summary table shows them.
METRICS = (
    Metric("best_val_ppl", "best val PPL", ".2f", tested=True, bars=True),
    Metric("val_loss", "val loss", ".4f", tested=True),
    Metric("val_accuracy", "val accuracy", ".4f"),
    Metric("val_ppl", "val PPL", ".2f"),
    Metric("test_ppl", "test PPL", ".2f"),
    Metric("expert_cv", "expert CV", ".3f", tested=True, bars=True),
    Metric("router_entropy", "router entropy", ".3f"),
    Metric("max_load_frac", "max-load fraction", ".3f"),
    Metric("dropped_tokens", "dropped tokens", ".0f"),
    Metric("unrouted_tokens", "tokens left behind", ".0f"),
    Metric("tokens_per_s", "tokens/s", ".0f"),
    Metric("training_time_minutes", "training time (min)", ".2f"),
    Metric("peak_memory_gb", "peak memory (GB)", ".3f"),
)
LABELS = {m.column: m.label for m in METRICS}
FORMATS = {m.column: m.fmt for m in METRICS}
TESTED = tuple(m.column for m in METRICS if m.tested)
BARS = tuple(m.column for m in METRICS if m.bars)
