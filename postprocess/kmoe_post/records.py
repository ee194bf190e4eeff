"""Run records (finished `.h5`, in-progress or killed `.h5.partial`) into tidy pandas frames."""
import dataclasses
import glob
import os
import tomllib
import warnings

import h5py
import numpy as np
import pandas as pd

from .load_balance import load_balance

FINALS = ("val_loss", "val_accuracy", "val_ppl", "best_val_ppl", "expert_cv", "test_loss", "test_ppl",
          "train_seconds", "eval_seconds", "peak_host_memory_mib", "peak_device_memory_mib", "early_stop_step")
TRAIN_COLUMNS = ("tokens", "lr_muon", "lr_adamw", "ce_loss", "lb_loss", "z_loss", "total_loss", "accuracy",
                 "aux_coef", "grad_norm", "ms_per_step", "tokens_per_s", "nonfinite")
EVAL_COLUMNS = ("val_loss", "val_accuracy", "val_ppl", "best_val_ppl", "expert_cv_mean", "seconds")
ROUTER_LAYER_COLUMNS = ("entropy", "max_load_frac", "min_load_frac", "dropped", "unrouted_tokens", "lb_loss",
                        "z_loss")


@dataclasses.dataclass
class Study:
    name: str
    runs: pd.DataFrame
    trajectory: pd.DataFrame
    router: pd.DataFrame
    router_layers: pd.DataFrame
    evals: pd.DataFrame
    varied: list  # the run columns the study varies (short keys, e.g. "noise_std"), seed last
    left_out: list = dataclasses.field(default_factory=list)  # (record path, why it is not in the study)
    # The routing probe's co-activation counts: run, step, layer, expert_i, expert_j, tokens
    # (probe tokens routed to both; the diagonal: to expert_i). Empty for records without it.
    coactivation: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)


def _flatten(table, prefix=""):
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, prefix + key + "."))
        else:
            out[prefix + key] = value
    return out


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def _record_paths(directory):
    pattern = os.path.join(glob.escape(directory), "*")  # a directory named like "glob[1]" is a name
    finished = sorted(p for p in glob.glob(pattern + ".h5") if not p.endswith(".weights.h5"))
    partial = sorted(glob.glob(pattern + ".h5.partial"))
    names = {os.path.basename(p)[:-len(".h5")] for p in finished}
    return finished + [p for p in partial if os.path.basename(p)[:-len(".h5.partial")] not in names]


def _routing_summary(f):
    """Validation routing at the last evaluation (layer means) and the training run's dropped
    assignments and tokens left behind (summed over steps and layers)."""
    out = {"router_entropy": np.nan, "max_load_frac": np.nan, "dropped_tokens": np.nan, "unrouted_tokens": np.nan}
    if "eval/router_entropy" in f and f["eval/router_entropy"].shape[0] > 0:
        out["router_entropy"] = float(np.mean(f["eval/router_entropy"][-1]))
    if "eval/load" in f and f["eval/load"].shape[0] > 0:
        load = f["eval/load"][-1].astype(float)
        out["max_load_frac"] = float(np.mean(load.max(axis=1) / load.sum(axis=1)))
    if "router/dropped" in f:
        out["dropped_tokens"] = float(np.sum(f["router/dropped"][:]))
    if "router/unrouted_tokens" in f:
        out["unrouted_tokens"] = float(np.sum(f["router/unrouted_tokens"][:]))
    return out


def _read_run(path):
    """One record: its run row and its per-step, per-router-row and per-evaluation frames."""
    partial = path.endswith(".partial")
    name = os.path.basename(path)[:-len(".h5.partial" if partial else ".h5")]
    with h5py.File(path, "r") as f:
        deck = _flatten(tomllib.loads(_text(f.attrs["deck"])))
        status = _text(f.attrs["status"])
        row = {"run": name, "path": path, "status": status, "partial": partial,
               "stop_reason": _text(f.attrs.get("stop_reason", "")),
               "total_params": int(f.attrs["total_params"]), "active_params": int(f.attrs["active_params"]),
               "unigram_entropy": float(f.attrs.get("unigram_entropy", np.nan)),
               "data": _text(f.attrs.get("data", "")), "steps": int(f["train/step"].shape[0]),
               "backend": _text(f.attrs.get("backend", "")), "precision": _text(f.attrs.get("precision", "fp32")),
               "probe_tokens": int(f.attrs.get("routing_probe_tokens", 0)),
               "routing_causal": _text(f.attrs.get("routing_causal", ""))}
        row.update({k: v for k, v in deck.items()})
        row["seed"] = deck.get("run.seed")
        final = f.get("final")
        for key in FINALS:
            row[key] = float(final[key][()]) if final is not None and key in final else np.nan
        row.update(_routing_summary(f))
        rates = f["train/tokens_per_s"][:] if "train/tokens_per_s" in f else np.array([])
        row["tokens_per_s"] = float(np.median(rates)) if rates.size else np.nan
        row["training_time_minutes"] = row["train_seconds"] / 60
        # The research's column is the GPU's peak; a run on the host has only the host's.
        on_gpu = "Cuda" in row["backend"] and not np.isnan(row["peak_device_memory_mib"])
        row["peak_memory_gb"] = (row["peak_device_memory_mib"] if on_gpu else row["peak_host_memory_mib"]) / 1024
        steps = f["train/step"][:]
        trajectory = pd.DataFrame({"run": name, "step": steps})
        for column in TRAIN_COLUMNS:
            if column in f["train"]:
                trajectory[column] = f["train"][column][:]
        evals = pd.DataFrame({"run": name, "step": f["eval/step"][:]})
        for column in EVAL_COLUMNS:
            if column in f["eval"]:
                evals[column] = f["eval"][column][:]
        coactivation = pd.DataFrame()
        if "eval/routing_change" in f and len(evals):
            with warnings.catch_warnings():  # the first evaluation has no change (NaN in every layer)
                warnings.simplefilter("ignore", RuntimeWarning)
                evals["routing_change"] = np.nanmean(f["eval/routing_change"][:], axis=1)
            counts = f["eval/coactivation"][:]
            n_evals, layers, experts, _ = counts.shape
            grid = np.indices((n_evals, layers, experts, experts)).reshape(4, -1)
            coactivation = pd.DataFrame({"run": name, "step": evals["step"].to_numpy()[grid[0]], "layer": grid[1],
                                         "expert_i": grid[2], "expert_j": grid[3], "tokens": counts.reshape(-1)})
        router, router_layers = pd.DataFrame(), pd.DataFrame()
        if "router" in f and f["router/load"].shape[0] > 0:
            load = f["router/load"][:]
            importance = f["router/importance"][:]
            n_steps, layers, experts = load.shape
            router = pd.DataFrame({
                "run": name,
                "step": np.repeat(steps, layers * experts),
                "layer": np.tile(np.repeat(np.arange(layers), experts), n_steps),
                "expert": np.tile(np.arange(experts), n_steps * layers),
                "load": load.reshape(-1),
                "importance": importance.reshape(-1),
            })
            router_layers = pd.DataFrame({"run": name, "step": np.repeat(steps, layers),
                                          "layer": np.tile(np.arange(layers), n_steps)})
            for column in ROUTER_LAYER_COLUMNS:
                if column in f["router"]:
                    router_layers[column] = f["router"][column][:].reshape(-1)
            for column, values in load_balance(load).items():
                router_layers[column] = values.reshape(-1)
    return row, trajectory, router, router_layers, evals, coactivation


def study_output_dir(study_path):
    """The study's name and its output directory (output_dir, relative to the study file)."""
    with open(study_path, "rb") as f:
        study = tomllib.load(f)["study"]
    return study["name"], os.path.normpath(os.path.join(os.path.dirname(study_path), study["output_dir"]))


def _study_cells(study_path):
    """The study's name, its runs directory and, from the manifest, each cell's state and varied values."""
    name, output = study_output_dir(study_path)
    cells = {}
    manifest = os.path.join(output, "manifest.toml")
    if os.path.exists(manifest):
        with open(manifest, "rb") as f:
            for cell in tomllib.load(f).get("cells", []):
                cells[cell["name"]] = {"state": cell["state"], "condition": cell.get("condition", cell["name"]),
                                       **{k.split(".")[-1]: v for k, v in _flatten(cell.get("varied", {})).items()}}
    return name, os.path.join(output, "runs"), cells


def _lock_held(lock_file):
    """Whether a process holds a lock on the file (/proc/locks; the lock is not taken)."""
    try:
        st = os.stat(lock_file)
    except FileNotFoundError:
        return False
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    with open("/proc/locks") as locks:
        return any(len(f) > 5 and f[5] == wanted for f in (line.split() for line in locks))


def study_running(source):
    """Whether a `kmoe-study run` holds the study deck's runner lock (<output_dir>/study.lock)."""
    if not (isinstance(source, str) and source.endswith(".toml") and os.path.isfile(source)):
        return False
    return _lock_held(os.path.join(study_output_dir(source)[1], "study.lock"))


def unfinished_cells(source):
    """The cells of a study deck's manifest that were pending or running when it was written and
    have no final record yet ([] for a directory of records)."""
    if not (isinstance(source, str) and source.endswith(".toml") and os.path.isfile(source)):
        return []
    _, runs, cells = _study_cells(source)
    return [name for name, cell in cells.items()
            if cell["state"] in ("pending", "running") and not os.path.exists(os.path.join(runs, name + ".h5"))]


def _cells_from_names(names):
    """Without a manifest: runs named key=value,...,seed=N (as studies name them) form conditions
    of their pairs less the seed; any other name is a condition of its own."""
    cells = {}
    for name in names:
        pairs = [p.split("=", 1) for p in name.split(",")]
        if not all(len(p) == 2 for p in pairs):
            return {}
        values = {k: _toml_value(v) for k, v in pairs}
        condition = ",".join(f"{k}={v}" for k, v in pairs if k != "seed") or name
        cells[name] = {"condition": condition, **values}
    return cells


def _toml_value(text):
    """A name's value as TOML reads it (0.5, 42, true), else the text itself."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


# Deck keys that say where files are or which run this is, not what was trained.
_NOT_SETTINGS = {"run.name", "run.seed", "run.output_dir", "output.hdf5", "output.log_every",
                 "output.checkpoint_every", "train.debug_signal_step", "data.data_dir", "data.corpus",
                 "data.train_shard", "data.val_shard", "model.init_weights"}


# Deck keys whose default is another key's value (the resolved deck in a record spells it out): when
# the study varies the other key, they vary with it.
_FOLLOWS = {"load_balancing_weight_end": "load_balancing_weight"}


def _settings(row, varied_keys):
    """The run's deck outside the keys the study varies: runs of one study agree on it."""
    varied = set(varied_keys) | {k for k, followed in _FOLLOWS.items() if followed in varied_keys}
    return tuple(sorted((k, repr(v)) for k, v in row.items()
                        if "." in k and k not in _NOT_SETTINGS and k.split(".")[-1] not in varied))


def load(source):
    """A study deck (reads <output_dir>/runs and the manifest), a directory of records, or a
    list of record paths."""
    name, cells = "records", {}
    if isinstance(source, (list, tuple)):
        paths = list(source)
    elif os.path.isfile(source) and source.endswith(".toml"):
        name, directory, cells = _study_cells(source)
        paths = _record_paths(directory)
    elif os.path.isdir(source):
        name, paths = os.path.basename(os.path.normpath(source)), _record_paths(source)
    else:
        raise FileNotFoundError(f"{source}: not a study deck, a directory of records or a list of records")
    if not cells:
        cells = _cells_from_names([os.path.basename(p).split(".h5")[0] for p in paths])
    rows, trajectories, routers, router_layers, evals, coactivations, left_out = [], [], [], [], [], [], []
    from_manifest = bool(cells) and isinstance(source, str) and source.endswith(".toml")
    for path in paths:
        try:
            row, trajectory, router, layers, ev, coactivation = _read_run(path)
        except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as error:
            left_out.append((path, f"unreadable ({type(error).__name__}: {error})"))
            continue
        if from_manifest and row["run"] not in cells:
            left_out.append((path, "not a cell of the study deck (removed from its grid?)"))
            continue
        cell = cells.get(row["run"], {})
        row["state"] = cell.get("state", "running" if row["partial"] else row["status"])
        if row["partial"] and row["state"] == "pending":  # started since the manifest was written
            row["state"] = "running"
        row["condition"] = cell.get("condition", row["run"])
        for key, value in cell.items():
            if key not in ("state", "condition"):
                row[key] = value
        rows.append(row)
        trajectories.append(trajectory)
        routers.append(router)
        router_layers.append(layers)
        evals.append(ev)
        coactivations.append(coactivation)
    varied = []  # in the study's order (the manifest's), seed last
    for cell in cells.values():
        varied += [k for k in cell if k not in ("state", "condition", "seed") and k not in varied]
    if any("seed" in c for c in cells.values()):
        varied.append("seed")
    # Only runs trained under the same settings outside the varied keys are one study (records
    # of two studies in one directory would otherwise merge): the most common settings win.
    if rows:
        settings = [_settings(r, set(varied)) for r in rows]
        common = max(set(settings), key=settings.count)
        kept = [i for i, s in enumerate(settings) if s == common]
        for i, s in enumerate(settings):
            if s != common:
                differ = sorted({k for k, _ in set(s) ^ set(common)})
                left_out.append((rows[i]["path"], "trained under other settings than the rest: "
                                 + ", ".join(differ[:6]) + (" …" if len(differ) > 6 else "")))
        pick = (lambda items: [items[i] for i in kept])
        rows, trajectories, routers, router_layers, evals, coactivations = map(
            pick, (rows, trajectories, routers, router_layers, evals, coactivations))
    if from_manifest:  # the manifest's order: its first condition is the study's first grid point
        position = {name: i for i, name in enumerate(cells)}
        order = sorted(range(len(rows)), key=lambda i: position.get(rows[i]["run"], len(position)))
        pick = (lambda items: [items[i] for i in order])
        rows, trajectories, routers, router_layers, evals, coactivations = map(
            pick, (rows, trajectories, routers, router_layers, evals, coactivations))
    frame = pd.DataFrame(rows)
    concat = (lambda frames: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame())
    present = (lambda frames: concat([f for f in frames if not f.empty]))
    return Study(name, frame, concat(trajectories), present(routers), present(router_layers), concat(evals), varied,
                 left_out, present(coactivations))
