"""The report's figures, one colour per condition throughout. As in seaborn, each plot draws on
the axes it is given (`axes=None`: a new figure of its own) and returns them, so a notebook can
compose plots; `save` writes a plot's figure as the report's PNG."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .metrics import LABELS
from .tables import conditions  # noqa: E402
from .trajectories import mean_with_ci, paired_differences  # noqa: E402

DPI = 110


def condition_colours(runs):
    cycle = plt.get_cmap("tab10").colors
    return {c: cycle[i % len(cycle)] for i, c in enumerate(conditions(runs))}


def _axes(axes, rows, cols, figsize, **kwargs):
    """The given axes, or a new figure's (rows × cols, as a 2-D array either way)."""
    if axes is None:
        _, axes = plt.subplots(rows, cols, figsize=figsize, squeeze=False, **kwargs)
    return np.asarray(axes, dtype=object).reshape(rows, cols)


def save(axes, path, legend=True, tight=True):
    """Writes the figure the axes belong to (then closes it), with the first panel's legend below
    the panels when `legend`; returns the path."""
    first = np.ravel(axes)[0]
    fig = first.figure
    if tight:
        fig.tight_layout()
    extra = []
    if legend:
        handles, labels = first.get_legend_handles_labels()
        if handles:
            extra.append(fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                                    ncol=min(3, len(labels)), fontsize=8, frameon=False))
    fig.savefig(path, dpi=DPI, bbox_inches="tight", bbox_extra_artists=extra)
    plt.close(fig)
    return path


def _band(ax, frame, runs, column, colours, label=True):
    """Per condition: the mean over its runs at each step, and a band from the lowest to the highest."""
    frame = frame.merge(runs[["run", "condition"]], on="run")
    for condition in conditions(runs):
        rows = frame[frame["condition"] == condition]
        if rows.empty or column not in rows or rows[column].isna().all():
            continue
        by_step = rows.groupby("step")[column]
        mean, low, high = by_step.mean(), by_step.min(), by_step.max()
        ax.plot(mean.index, mean.values, color=colours[condition], label=condition if label else None, lw=1.4)
        if rows["run"].nunique() > 1:
            ax.fill_between(mean.index, low.values, high.values, color=colours[condition], alpha=0.18, lw=0)


def loss_curves(study, axes=None):
    """Validation and training loss per condition (mean over seeds, band from min to max), with the
    corpus's unigram entropy: a model at that line has learnt only token frequencies. Two panels."""
    colours = condition_colours(study.runs)
    axes = _axes(axes, 1, 2, (11, 4.6))
    val, train = axes[0]
    _band(val, study.evals, study.runs, "val_loss", colours)
    _band(train, study.trajectory, study.runs, "ce_loss", colours, label=False)
    entropy = study.runs["unigram_entropy"].dropna()
    for ax, title in ((val, "validation loss"), (train, "training cross-entropy")):
        if len(entropy):
            ax.axhline(entropy.mean(), color="grey", ls="--", lw=1, label="unigram entropy" if ax is val else None)
        ax.set(title=title, xlabel="step", ylabel="nats / token")
        ax.grid(alpha=0.3)
    return axes


def schedules(study, axes=None):
    """Learning rates and the load-balancing coefficient per condition (its first run): a panel per
    schedule the records hold."""
    colours = condition_colours(study.runs)
    columns = [c for c in ("lr_muon", "lr_adamw", "aux_coef") if c in study.trajectory]
    axes = _axes(axes, 1, len(columns), (4 * len(columns), 3.4))
    first = study.runs.groupby("condition", sort=False)["run"].first()
    for ax, column in zip(axes[0], columns):
        for condition, run in first.items():
            rows = study.trajectory[study.trajectory["run"] == run]
            ax.plot(rows["step"], rows[column], color=colours[condition], lw=1.2, label=condition)
        ax.set(title=column, xlabel="step")
        ax.grid(alpha=0.3)
    return axes


def _layer_means_over_steps(study, panels, axes):
    """One panel per (router-layer column, title): its mean over layers and seeds per step."""
    colours = condition_colours(study.runs)
    per_step = study.router_layers.groupby(["run", "step"], as_index=False).mean(numeric_only=True)
    axes = _axes(axes, 1, len(panels), (13, 3.8))
    for i, (column, title) in enumerate(panels):
        ax = axes[0, i]
        _band(ax, per_step, study.runs, column, colours, label=i == 0)
        ax.set(title=title, xlabel="step")
        ax.grid(alpha=0.3)
    return axes


def routing_over_steps(study, axes=None):
    """Largest and smallest expert share and router entropy per step (mean over layers and seeds).
    Three panels."""
    return _layer_means_over_steps(study, (("max_load_frac", "largest expert share"),
                                           ("min_load_frac", "smallest expert share"),
                                           ("entropy", "router entropy (nats)")), axes)


def balance_over_steps(study, axes=None):
    """Dead experts, busiest-over-mean load and KL(load ‖ uniform) per step (mean over layers and
    seeds). Three panels."""
    return _layer_means_over_steps(study, (("dead_experts", "dead experts per layer"),
                                           ("max_over_mean_load", "busiest / mean expert load"),
                                           ("load_kl_uniform", "KL(load ‖ uniform) (nats)")), axes)


def routing_change(study, axes=None):
    """The routing probe per condition: the fraction of the probe batch's (token, expert) pairs
    routed differently from the previous evaluation (mean over layers; band over seeds). One panel."""
    colours = condition_colours(study.runs)
    axes = _axes(axes, 1, 1, (6, 3.8))
    ax = axes[0, 0]
    _band(ax, study.evals, study.runs, "routing_change", colours)
    ax.set(title="routing changed since the previous evaluation", xlabel="step", ylabel="share of (token, expert) pairs")
    ax.grid(alpha=0.3)
    return axes


def coactivation_heat_maps(study, axes=None):
    """The last evaluation's expert co-activation on the probe batch, for each condition's first run
    (rows) and layer (columns): the share of probe tokens routed to both experts (the diagonal: to
    the expert)."""
    frame = study.coactivation
    first = study.runs.groupby("condition", sort=False)["run"].first()
    first = first[first.isin(frame["run"])]
    layers, experts = frame["layer"].max() + 1, frame["expert_i"].max() + 1
    axes = _axes(axes, len(first), layers, (2.3 * layers + 1, 2.1 * len(first)))
    image = None
    for row, (condition, run) in enumerate(first.items()):
        rows = frame[(frame["run"] == run) & (frame["step"] == frame.loc[frame["run"] == run, "step"].max())]
        counts = rows.sort_values(["layer", "expert_i", "expert_j"])["tokens"].to_numpy(float)
        counts = counts.reshape(layers, experts, experts)
        tokens = int(study.runs.loc[study.runs["run"] == run, "probe_tokens"].iloc[0])
        for layer in range(layers):
            ax = axes[row, layer]
            share = counts[layer] / max(tokens, 1)
            image = ax.imshow(share, cmap="magma", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks(range(experts))
            ax.set_yticks(range(experts))
            ax.tick_params(labelsize=6)
            if row == 0:
                ax.set_title(f"layer {layer}", fontsize=8)
            if layer == 0:
                ax.set_ylabel(condition, fontsize=8)
    if image is not None:
        axes[0, 0].figure.colorbar(image, ax=axes.ravel().tolist(), fraction=0.02, pad=0.01,
                                   label="share of probe tokens")
    return axes


def load_heat_map(study, run, axes=None):
    """One run's expert load share, layer by layer: experts down, steps across. A panel per layer."""
    rows = study.router[study.router["run"] == run]
    steps = np.sort(rows["step"].unique())
    layers, experts = rows["layer"].max() + 1, rows["expert"].max() + 1
    load = rows.sort_values(["step", "layer", "expert"])["load"].to_numpy(float).reshape(len(steps), layers, experts)
    share = load / np.maximum(load.sum(axis=2, keepdims=True), 1)
    axes = _axes(axes, layers, 1, (9, 0.5 + 1.0 * layers * max(1, experts / 8)), sharex=True)
    for layer, ax in enumerate(axes[:, 0]):
        image = ax.imshow(share[:, layer, :].T, aspect="auto", cmap="viridis", vmin=0, vmax=share.max(),
                          extent=(steps[0] - 0.5, steps[-1] + 0.5, experts - 0.5, -0.5), interpolation="nearest")
        ax.set_ylabel(f"layer {layer}\nexpert", fontsize=8)
    axes[-1, 0].set_xlabel("step")
    axes[0, 0].set_title(f"expert load share: {run}", fontsize=9)
    axes[0, 0].figure.colorbar(image, ax=axes[:, 0].tolist(), fraction=0.03, pad=0.01, label="share of assignments")
    return axes


def condition_bars(study, summary, columns, axes=None):
    """Mean ± std per condition with each run as a dot: a panel per column."""
    colours = condition_colours(study.runs)
    axes = _axes(axes, 1, len(columns), (5.5 * len(columns), 4.2))
    names = list(summary["condition"])
    for ax, column in zip(axes[0], columns):
        x = np.arange(len(names))
        ax.bar(x, summary[column + "_mean"], yerr=summary[column + "_std"].fillna(0), capsize=3,
               color=[colours[c] for c in names], alpha=0.75)
        for i, condition in enumerate(names):
            values = study.runs.loc[study.runs["condition"] == condition, column].dropna()
            ax.scatter(np.full(len(values), i), values, color="black", s=10, zorder=3)
        ax.set_xticks(x, names, rotation=35, ha="right", fontsize=7)
        ax.set_title(LABELS.get(column, column))
        ax.grid(alpha=0.3, axis="y")
        finite = summary[column + "_mean"].dropna()
        if len(finite) and column.endswith("ppl"):
            low = (summary[column + "_mean"] - summary[column + "_std"].fillna(0)).min()
            ax.set_ylim(bottom=max(0, low - 0.1 * (finite.max() - low + 1)))
    return axes


def difference_curves(study, reference, axes=None):
    """Each condition's validation loss and expert CV minus the reference's, paired by seed at each
    evaluation: the mean difference and its 95 % CI band over the seeds. Small effects that the
    absolute curves hide show here; zero is the reference. Two panels."""
    colours = condition_colours(study.runs)
    axes = _axes(axes, 1, 2, (11, 4.2))
    for ax, (column, title) in zip(axes[0], (("val_loss", "validation loss"), ("expert_cv_mean", "expert CV"))):
        paired = paired_differences(study, reference, column)
        for condition in conditions(study.runs):
            rows = paired[paired["condition"] == condition]
            if rows.empty:
                continue
            summary = [(step, *mean_with_ci(g["diff"])) for step, g in rows.groupby("step")]
            steps, mean, low, high, _ = map(np.asarray, zip(*summary))
            ax.plot(steps, mean, color=colours[condition], lw=1.4, marker="o", ms=3,
                    label=condition if ax is axes[0][0] else None)
            if np.isfinite(low).any():
                ax.fill_between(steps, low, high, color=colours[condition], alpha=0.18, lw=0)
        ax.axhline(0, color="grey", lw=1)
        ax.set(title=f"{title} minus the reference's (same seed)", xlabel="step", ylabel="difference")
        ax.grid(alpha=0.3)
    return axes
