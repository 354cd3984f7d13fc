"""What a sweep says: latency per target, what explains it, and which targets agree.

From a sweep's partitions (:func:`dse.sweep.engine.load_results`):

- per target, how many members run at all and fit on chip, and the spread of their latency
  (a histogram of log latency);
- latency against MACs (log-log scatter): how far MACs alone predict latency on each target;
- which architecture features explain latency on which target: Spearman's rank correlation of
  each feature with latency over the members feasible there (monotone association, robust to the
  features' heavy tails), and a standardised linear regression of log latency on the features
  (``log1p``, then z-scored) whose coefficients say which feature matters given the others;
- the rank agreement between targets: Spearman's rho and Kendall's tau of the members' latency
  on each pair (over the members feasible on both), and the overlap of their fastest ``k``:
  when two targets rank architectures alike, the best architecture for one is the best for the
  other; when they do not, the members that rank far better on one target than on the others
  are the architectures that suit it.

``summary.md`` in the sweep folder states these with the figures beside it; :func:`write_report`
regenerates it from the Parquet files at any time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dse.files import atomic_path, save_figure
from dse.report.markdown import markdown_table
from dse.sweep.engine import load_results

__all__ = ["KENDALL_AT_MOST", "SweepReport", "analyse", "feature_columns", "write_report"]

#: Kendall's tau is computed on at most this many members (a seeded sample) per pair.
KENDALL_AT_MOST = 50_000
#: A member "suits" a target when its latency rank there is at least this much (a share of the
#: members) better than its mean rank on the other targets.
SUITS_MARGIN = 0.05
#: Points drawn per target in the scatter plot (a seeded sample beyond).
_SCATTER_AT_MOST = 20_000


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The feature columns of a sweep frame: every numeric column that is neither the index nor
    a per-target column."""
    return [c for c in frame.columns if c not in ("index", "name") and ":" not in c
            and pd.api.types.is_numeric_dtype(frame[c])]


@dataclass(frozen=True)
class SweepReport:
    """The analysis of one sweep.

    Attributes:
        targets: The targets, in the sweep's order.
        stats: Per target: members, feasible, fits on chip, latency median / p10 / p90 (s),
            energy median (J), and the median latency of the members that do not fit on chip
            over that of those that fit (``fits_slow_ratio``).
        importance: Spearman rho of each feature (rows) with latency per target (columns).
        regression: Standardised regression coefficients of log latency, features x targets,
            and an ``R^2`` row.
        spearman / kendall: Targets x targets rank correlation of latency (symmetric, ones on
            the diagonal; NaN where fewer than 3 members are feasible on both).
        topk: Targets x targets share of the fastest ``k`` on one that are among the fastest
            ``k`` on the other.
        k: The ``k`` of ``topk``.
        suits: Per target, the members ranking best on it relative to their mean rank on the
            others (name, rank there, mean rank elsewhere).
    """

    targets: tuple[str, ...]
    stats: pd.DataFrame
    importance: pd.DataFrame
    regression: pd.DataFrame
    spearman: pd.DataFrame
    kendall: pd.DataFrame
    topk: pd.DataFrame
    k: int
    suits: dict[str, pd.DataFrame] = field(default_factory=dict)


def _latency(frame: pd.DataFrame, target: str) -> pd.Series:
    ok = frame[f"feasible:{target}"].astype(bool)
    return frame[f"latency_s:{target}"].where(ok)


def _fits_ratio(frame: pd.DataFrame, target: str) -> float:
    """Median latency of the members whose weights do not fit on chip over that of those that
    fit (NaN unless both kinds exist)."""
    lat = _latency(frame, target)
    fits = frame[f"fits:{target}"].astype(bool)
    a, b = lat[~fits].dropna(), lat[fits].dropna()
    return float(a.median() / b.median()) if len(a) and len(b) else np.nan


def _stats(frame: pd.DataFrame, targets: Sequence[str]) -> pd.DataFrame:
    rows = []
    for t in targets:
        lat = _latency(frame, t).dropna()
        energy = frame[f"energy_j:{t}"].where(frame[f"feasible:{t}"].astype(bool)).dropna()
        rows.append({
            "target": t, "members": len(frame),
            "feasible": int(frame[f"feasible:{t}"].astype(bool).sum()),
            "fits_on_chip": int(frame[f"fits:{t}"].astype(bool).sum()),
            "latency_median_s": float(lat.median()) if len(lat) else np.nan,
            "latency_p10_s": float(lat.quantile(0.1)) if len(lat) else np.nan,
            "latency_p90_s": float(lat.quantile(0.9)) if len(lat) else np.nan,
            "energy_median_j": float(energy.median()) if len(energy) else np.nan,
            "fits_slow_ratio": _fits_ratio(frame, t)})
    return pd.DataFrame(rows).set_index("target")


def _importance(frame: pd.DataFrame, targets: Sequence[str], features: list[str]
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    from scipy.stats import spearmanr

    rho = pd.DataFrame(index=features, columns=list(targets), dtype=float)
    coef = pd.DataFrame(index=[*features, "R^2"], columns=list(targets), dtype=float)
    for t in targets:
        lat = _latency(frame, t)
        ok = lat.notna().to_numpy()
        if ok.sum() < 3:
            continue
        y = np.log(lat.to_numpy()[ok])
        usable = []
        for f in features:
            x = frame[f].to_numpy(dtype=float)[ok]
            if np.nanstd(x) == 0 or np.std(y) == 0:
                continue
            rho.loc[f, t] = float(spearmanr(x, y).statistic)
            usable.append(f)
        if not usable:
            continue
        x = np.log1p(np.clip(frame[usable].to_numpy(dtype=float)[ok], 0, None))
        x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        yz = (y - y.mean()) / (y.std() or 1.0)
        # least squares with a small ridge: features such as MACs and params are collinear
        lam = 1e-3 * len(yz)
        beta = np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T @ yz)
        resid = yz - x @ beta
        coef.loc[usable, t] = beta
        coef.loc["R^2", t] = float(1 - resid @ resid / max(yz @ yz, 1e-300))
    return rho, coef


def _agreement(frame: pd.DataFrame, targets: Sequence[str], k: int
               ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from scipy.stats import kendalltau, spearmanr

    names = list(targets)
    sp = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    kt = sp.copy()
    top = sp.copy()
    rng = np.random.default_rng(0)
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b = names[j]
            la, lb = _latency(frame, a), _latency(frame, b)
            both = (la.notna() & lb.notna()).to_numpy()
            x, y = la.to_numpy()[both], lb.to_numpy()[both]
            if len(x) < 3:
                for m in (sp, kt, top):
                    m.loc[a, b] = m.loc[b, a] = np.nan
                continue
            s = float(spearmanr(x, y).statistic)
            pick = (rng.choice(len(x), KENDALL_AT_MOST, replace=False)
                    if len(x) > KENDALL_AT_MOST else slice(None))
            tau = float(kendalltau(x[pick], y[pick]).statistic)
            kk = min(k, len(x))
            fast_a = set(np.argsort(x, kind="stable")[:kk])
            fast_b = set(np.argsort(y, kind="stable")[:kk])
            share = len(fast_a & fast_b) / kk
            sp.loc[a, b] = sp.loc[b, a] = s
            kt.loc[a, b] = kt.loc[b, a] = tau
            top.loc[a, b] = top.loc[b, a] = share
    return sp, kt, top


def _suits(frame: pd.DataFrame, targets: Sequence[str], n: int = 5) -> dict[str, pd.DataFrame]:
    if len(targets) < 2:
        return {}
    lat = pd.DataFrame({t: _latency(frame, t) for t in targets})
    ok = lat.notna().all(axis=1)
    if ok.sum() < 2:
        return {}
    ranks = lat[ok].rank(pct=True)
    out = {}
    for t in targets:
        others = ranks.drop(columns=[t]).mean(axis=1)
        gain = others - ranks[t]
        best = gain.sort_values(ascending=False, kind="stable").index[:n]
        out[t] = pd.DataFrame({"name": frame.loc[best, "name"].to_numpy(),
                               "rank_here": ranks.loc[best, t].to_numpy(),
                               "mean_rank_elsewhere": others.loc[best].to_numpy()})
    return out


def analyse(frame: pd.DataFrame, targets: Sequence[str], *, k: int | None = None
            ) -> SweepReport:
    """The analysis of a sweep's frame over its targets (see the module docstring).

    Args:
        frame: One row per member (:func:`dse.sweep.engine.load_results`).
        targets: The sweep's targets.
        k: The ``k`` of the top-``k`` overlap (default: 10% of the members, at least 1).
    """
    targets = tuple(targets)
    k = k or max(1, len(frame) // 10)
    features = feature_columns(frame)
    rho, coef = _importance(frame, targets, features)
    sp, kt, top = _agreement(frame, targets, k)
    return SweepReport(targets, _stats(frame, targets), rho, coef, sp, kt, top, k,
                       _suits(frame, targets))


# ----- figures --------------------------------------------------------------------------------

def _figure(width: float = 7.0, height: float = 4.5) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def plot_latency_histogram(frame: pd.DataFrame, targets: Sequence[str], stem: Path) -> None:
    """Per target, the distribution of log latency (step histograms on one axis)."""
    fig = _figure()
    ax = fig.subplots()
    values = {t: _latency(frame, t).dropna().to_numpy() for t in targets}
    finite = np.concatenate([v[v > 0] for v in values.values()]) if values else np.zeros(0)
    if len(finite):
        lo, hi = np.log10(finite.min()), np.log10(finite.max())
        bins = np.logspace(lo - 0.05, hi + 0.05, 40)
        for t, v in values.items():
            if len(v):
                ax.hist(v, bins=bins, histtype="step", linewidth=1.5, label=f"{t} ({len(v):,})")
        ax.set_xscale("log")
        ax.legend(fontsize=8)
    ax.set_xlabel("latency per inference (s)")
    ax.set_ylabel("members")
    ax.set_title("Latency distribution per target")
    save_figure(fig, stem)


def plot_latency_vs_macs(frame: pd.DataFrame, targets: Sequence[str], stem: Path) -> None:
    """Latency against MACs, log-log, one colour per target."""
    fig = _figure()
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    for t in targets:
        lat = _latency(frame, t)
        ok = (lat.notna() & (frame["macs"] > 0)).to_numpy()
        x, y = frame["macs"].to_numpy()[ok], lat.to_numpy()[ok]
        if len(x) > _SCATTER_AT_MOST:
            pick = rng.choice(len(x), _SCATTER_AT_MOST, replace=False)
            x, y = x[pick], y[pick]
        ax.scatter(x, y, s=6, alpha=0.5, label=t)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("MACs per inference")
    ax.set_ylabel("latency per inference (s)")
    ax.set_title("Latency against MACs")
    if targets:
        ax.legend(fontsize=8, markerscale=2)
    save_figure(fig, stem)


def plot_importance(rho: pd.DataFrame, stem: Path) -> None:
    """Spearman rho of each feature with latency, grouped bars per target."""
    data = rho.dropna(how="all")
    fig = _figure(8.0, max(3.0, 0.35 * len(data) + 1.5))
    ax = fig.subplots()
    n = max(len(data.columns), 1)
    height = 0.8 / n
    y = np.arange(len(data))
    for i, t in enumerate(data.columns):
        ax.barh(y + i * height, data[t].fillna(0).to_numpy(), height=height, label=t)
    ax.set_yticks(y + 0.4 - height / 2, list(data.index))
    ax.invert_yaxis()  # features top to bottom in the table's order
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlim(-1, 1)
    ax.set_xlabel("Spearman rho with latency")
    ax.set_title("Which features explain latency on which target")
    if len(data.columns):
        ax.legend(fontsize=8)
    save_figure(fig, stem)


def plot_agreement(matrix: pd.DataFrame, stem: Path, title: str) -> None:
    """A targets x targets matrix as a heat map with its values."""
    fig = _figure(1.2 * len(matrix) + 3, 1.0 * len(matrix) + 2)
    ax = fig.subplots()
    image = ax.imshow(matrix.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu")
    ax.set_xticks(range(len(matrix)), list(matrix.columns), rotation=45, ha="right")
    ax.set_yticks(range(len(matrix)), list(matrix.index))
    for i in range(len(matrix)):
        for j in range(len(matrix)):
            v = matrix.iat[i, j]
            ax.text(j, i, "-" if pd.isna(v) else f"{v:.2f}", ha="center", va="center",
                    fontsize=9)
    fig.colorbar(image, ax=ax)
    ax.set_title(title)
    save_figure(fig, stem)


# ----- summary --------------------------------------------------------------------------------

def _md_table(frame: pd.DataFrame, fmt: str = "{:.3g}", *, ints: Sequence[str] = ()) -> str:
    """A Markdown table of ``frame`` and its index; the columns ``ints`` as whole numbers with
    thousands separators."""
    rows = []
    for idx in frame.index:
        cells = [str(idx)]
        for c in frame.columns:
            v = frame.at[idx, c]
            if isinstance(v, float | np.floating | int | np.integer) and pd.isna(v):
                cells.append("-")
            elif c in ints:
                cells.append(f"{int(v):,}")
            elif isinstance(v, float | np.floating):
                cells.append(fmt.format(v))
            else:
                cells.append(str(v))
        rows.append(cells)
    return markdown_table(["", *(str(c) for c in frame.columns)], rows)


def _ms(seconds: float) -> str:
    return "-" if pd.isna(seconds) else f"{seconds * 1e3:.3g} ms"


def summary_markdown(report: SweepReport, manifest: dict[str, Any], members: int) -> str:
    """``summary.md``: the answers first, then the tables."""
    targets = report.targets
    lines = [f"# Sweep: {manifest.get('family')} over {', '.join(targets)}", "",
             f"{members:,} members of {manifest.get('family_size', members):,} "
             f"({manifest.get('sample')}), {manifest.get('calibration')} device values, dse {manifest.get('dse_version')}.",
             "", "## Answers", ""]
    st = report.stats
    for t in targets:
        s = st.loc[t]
        precision = (manifest.get("precision") or {}).get(t, "?")
        lines.append(f"- **{t}** ({precision}): {int(s['feasible']):,} of "
                     f"{int(s['members']):,} run, {int(s['fits_on_chip']):,} keep all weights "
                     f"on chip; median latency "
                     f"{_ms(s['latency_median_s'])} (p10 {_ms(s['latency_p10_s'])}, p90 "
                     f"{_ms(s['latency_p90_s'])}).")
    for t in targets:
        s = st.loc[t]
        if s["fits_slow_ratio"] > 1.5:
            lines.append(f"- On **{t}**, the members whose weights do not fit on chip (streamed "
                         f"every inference) have a median latency {s['fits_slow_ratio']:.1f}x "
                         "that of those that fit: on-chip parameter memory, not compute, "
                         "decides their latency.")
    for t in targets:
        col = report.importance[t].dropna()
        if col.empty:
            continue
        top = col.abs().sort_values(ascending=False, kind="stable").index[:3]
        r2 = report.regression.loc["R^2", t]
        macs = col.get("macs", np.nan)
        lines.append(f"- Latency on **{t}** follows {', '.join(f'{f} (rho {col[f]:+.2f})' for f in top)}"
                     f"; MACs alone rho {macs:+.2f}; the features together explain "
                     f"R^2 = {r2:.2f} of log latency.")
    if len(targets) > 1:
        sp = report.spearman.where(~np.eye(len(targets), dtype=bool))
        stacked = sp.stack().dropna()
        if not stacked.empty:
            lo_pair, hi_pair = stacked.idxmin(), stacked.idxmax()
            if lo_pair == hi_pair or lo_pair == hi_pair[::-1]:
                text = (f"- Rank agreement of {lo_pair[0]} and {lo_pair[1]}: Spearman "
                        f"{stacked.min():.3f}")
            else:
                text = (f"- Rank agreement: the closest pair is {hi_pair[0]} / {hi_pair[1]} "
                        f"(Spearman {stacked.max():.3f}), the least alike {lo_pair[0]} / "
                        f"{lo_pair[1]} (Spearman {stacked.min():.3f})")
            lines.append(f"{text}; of the fastest {report.k:,} on {lo_pair[0]}, "
                         f"{report.topk.loc[lo_pair[0], lo_pair[1]]:.0%} are among the "
                         f"fastest {report.k:,} on {lo_pair[1]}.")
        notable = {t: best[best["mean_rank_elsewhere"] - best["rank_here"] >= SUITS_MARGIN]
                   for t, best in report.suits.items()}
        if report.suits and not any(len(b) for b in notable.values()):
            lines.append(f"- No member ranks {SUITS_MARGIN:.0%} (of the members) faster on one "
                         "target than on average on the others: these targets favour the same "
                         "architectures.")
        for t, best in notable.items():
            if len(best):
                names = ", ".join(f"{r['name']} ({r['rank_here']:.0%} here vs "
                                  f"{r['mean_rank_elsewhere']:.0%})" for _, r in
                                  best.head(3).iterrows())
                lines.append(f"- Suits **{t}** better than the others (latency rank "
                             f"percentile, lower is faster): {names}.")
    shown = pd.DataFrame({
        "runs": st["feasible"], "fits on chip": st["fits_on_chip"],
        "median ms": st["latency_median_s"] * 1e3, "p10 ms": st["latency_p10_s"] * 1e3,
        "p90 ms": st["latency_p90_s"] * 1e3, "median mJ": st["energy_median_j"] * 1e3})
    lines += ["", "## Latency per target", "",
              _md_table(shown, "{:.4g}", ints=("runs", "fits on chip")),
              "", "![latency histogram](latency_hist.png)", "",
              "![latency against MACs](latency_vs_macs.png)", "",
              "## Which features explain latency", "",
              "Spearman rho of each feature with latency (members feasible on the target):", "",
              _md_table(report.importance.dropna(how="all"), "{:+.2f}"), "",
              "Standardised regression coefficients of log latency (log1p features, z-scored; "
              "small ridge):", "", _md_table(report.regression.dropna(how="all"), "{:+.2f}"),
              "", "![feature importance](importance.png)", ""]
    if len(targets) > 1:
        lines += ["## Rank agreement between targets", "",
                  "Spearman rho of latency:", "", _md_table(report.spearman, "{:.2f}"), "",
                  f"Kendall tau (on at most {KENDALL_AT_MOST:,} members per pair):", "",
                  _md_table(report.kendall, "{:.2f}"), "",
                  f"Top-{report.k:,} overlap (share of the fastest {report.k:,} on the row target "
                  "also fastest on the column target):", "", _md_table(report.topk, "{:.0%}"),
                  "", "![rank agreement](rank_agreement.png)", ""]
    return "\n".join(lines)


def write_report(out: Path | str, *, k: int | None = None) -> Path:
    """Analyse the sweep in ``out`` from its Parquet files and write ``summary.md``, the
    figures (``latency_hist``, ``latency_vs_macs``, ``importance``, ``rank_agreement``, as PNG
    and SVG) and the tables (``importance.csv``, ``rank_spearman.csv``, ``rank_kendall.csv``,
    ``topk_overlap.csv``); returns the summary's path.

    Raises:
        DseError: ``out`` is not a sweep folder or has no partitions.
    """
    folder = Path(out)
    frame, manifest = load_results(folder)
    targets = [t for t in manifest.get("targets", []) if f"latency_s:{t}" in frame]
    report = analyse(frame, targets, k=k)
    plot_latency_histogram(frame, targets, folder / "latency_hist")
    if "macs" in frame:
        plot_latency_vs_macs(frame, targets, folder / "latency_vs_macs")
    plot_importance(report.importance, folder / "importance")
    if len(targets) > 1:
        plot_agreement(report.spearman, folder / "rank_agreement",
                       "Rank agreement of latency (Spearman rho)")
    for name, table in (("importance", report.importance), ("regression", report.regression),
                        ("rank_spearman", report.spearman), ("rank_kendall", report.kendall),
                        ("topk_overlap", report.topk), ("latency_stats", report.stats)):
        with atomic_path(folder / f"{name}.csv") as tmp:
            table.to_csv(tmp)
    path = folder / "summary.md"
    with atomic_path(path) as tmp:
        tmp.write_text(summary_markdown(report, manifest, len(frame)))
    return path

