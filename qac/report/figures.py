"""The report's figures, drawn with matplotlib's object API (no pyplot state) as base64 PNG.

Each function takes plain arrays and returns a ``data:image/png;base64,...`` URI, so the page
embeds every image and renders offline. One colour scale per quantity across the whole page:
weights on ``WEIGHTS_CMAP`` from 0 to the largest weight of any head, differences on
``DIFF_CMAP`` symmetric about 0 with the largest |difference| of any head.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np

WEIGHTS_CMAP = "viridis"
DIFF_CMAP = "RdBu_r"
MASKED = "#d9d9d9"
RAW, MITIGATED, IDEAL = "#d95f02", "#1b9e77", "#1f4e9c"
KERNEL_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4")
STYLE = {"font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
         "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100}
DPI = 150


def figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def png_uri(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def styled(draw):
    """Run a drawing function inside the report's matplotlib style."""

    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    wrapper.__name__, wrapper.__doc__ = draw.__name__, draw.__doc__
    return wrapper


@styled
def attention_heatmaps(exact: np.ndarray, estimated: np.ndarray, visible: np.ndarray, *, vmax: float,
                       dmax: float, head: int) -> str:
    """Exact weights | estimated weights | estimated − exact, one head; masked entries grey."""
    import matplotlib as mpl

    n, m = exact.shape
    width = min(11.0, 1.6 + 3 * max(2.2, 0.32 * m))
    fig = figure(width, min(4.2, 1.3 + 0.3 * n + 0.4))
    fig.get_layout_engine().set(wspace=0.06)
    axes = fig.subplots(1, 3, sharey=True)
    weights_cmap = mpl.colormaps[WEIGHTS_CMAP].with_extremes(bad=MASKED)
    diff_cmap = mpl.colormaps[DIFF_CMAP].with_extremes(bad=MASKED)
    hidden = ~visible.astype(bool)
    panels = ((exact, "exact (numpy)", weights_cmap, 0.0, vmax),
              (estimated, "estimated (qac)", weights_cmap, 0.0, vmax),
              (estimated - exact, "estimated − exact", diff_cmap, -dmax, dmax))
    images = []
    for ax, (data, title, cmap, lo, hi) in zip(axes, panels):
        images.append(ax.imshow(np.ma.masked_array(data, hidden), cmap=cmap, vmin=lo, vmax=hi,
                                aspect="equal", interpolation="nearest"))
        ax.set_title(title)
        ax.set_xlabel("key j")
        ax.set_xticks(range(m) if m <= 16 else range(0, m, max(1, m // 8)))
        ax.set_yticks(range(n) if n <= 16 else range(0, n, max(1, n // 8)))
        for spine in ax.spines.values():
            spine.set_visible(False)
    axes[0].set_ylabel(f"head {head}: query i")
    fig.colorbar(images[1], ax=list(axes[:2]), shrink=0.85, label="attention weight")
    fig.colorbar(images[2], ax=axes[2], shrink=0.85, label="difference")
    return png_uri(fig)


def normal_coverage(k: np.ndarray) -> np.ndarray:
    """P(|Z| ≤ k) = 2Φ(k) − 1 = erf(k/√2) for a standard normal Z."""
    return np.array([math.erf(x / math.sqrt(2)) for x in np.atleast_1d(k)])


def coverage_curve(error: np.ndarray, stderr: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Share of entries with |error| ≤ k·σ for each k (the same rule as ``Result.coverage``)."""
    error, stderr = np.abs(np.ravel(error)), np.ravel(stderr)
    if not error.size:
        return np.ones_like(k)
    return np.array([np.mean(error <= x * stderr + 1e-12) for x in k])


@styled
def calibration_plot(series: list[tuple[str, np.ndarray, np.ndarray, str]]) -> str:
    """Share of output entries within kσ against 2Φ(k) − 1, for each (label, error, σ, colour)."""
    k = np.linspace(0, 4, 161)
    fig = figure(5.2, 3.4)
    ax = fig.subplots()
    ax.plot(k, normal_coverage(k), color="black", lw=1.2, ls="--", label="normal errors: 2Φ(k) − 1")
    for label, error, stderr, colour in series:
        ax.step(k, coverage_curve(error, stderr, k), where="post", color=colour, lw=1.8, label=label)
    for x in (1, 2, 3):
        ax.axvline(x, color="#bbbbbb", lw=0.6, zorder=0)
    ax.set_xlim(0, 4)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("k (multiples of the reported σ)")
    ax.set_ylabel("share of output entries with |error| ≤ kσ")
    ax.legend(loc="lower right", frameon=False)
    return png_uri(fig)


@styled
def estimate_plot(exact: np.ndarray, series: list[tuple[str, np.ndarray, np.ndarray, str]]) -> str:
    """Error (estimate − exact) ± σ of every output entry against its exact value, for each
    (label, output, σ, colour); series side by side (a small horizontal offset) so bars stay apart."""
    fig = figure(5.2, 3.4)
    ax = fig.subplots()
    x = np.ravel(exact)
    span = float(np.ptp(x)) if x.size else 1.0
    for i, (label, output, stderr, colour) in enumerate(series):
        shift = (i - (len(series) - 1) / 2) * 0.012 * (span or 1.0)
        ax.errorbar(x + shift, np.ravel(output) - x, yerr=np.ravel(stderr), fmt="o", ms=3.0, lw=0.8, capsize=0,
                    color=colour, alpha=0.85, label=f"{label}: estimate − exact ± σ")
    ax.axhline(0.0, color="black", lw=0.8, ls="--")
    ax.set_xlabel("exact output entry (numpy)")
    ax.set_ylabel("output error ± reported σ")
    ax.legend(loc="best", frameon=False)
    return png_uri(fig)


@styled
def layer_plot(layers: list[dict]) -> str:
    """Per layer of a model run: max and RMS output error, and the 2σ coverage."""
    fig = figure(7.0, 2.8)
    left, right = fig.subplots(1, 2)
    index = [row["layer"] for row in layers]
    left.plot(index, [row["max_error"] for row in layers], "o-", color=RAW, label="max |error|")
    left.plot(index, [row["rms_error"] for row in layers], "s-", color=IDEAL, label="RMS error")
    left.set_xlabel("layer")
    left.set_ylabel("attention output error")
    left.legend(frameon=False)
    right.bar(index, [row["within_2_sigma"] for row in layers], color=MITIGATED, width=0.6)
    from matplotlib.ticker import MaxNLocator

    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.axhline(normal_coverage(np.array([2.0]))[0], color="black", ls="--", lw=1, label="normal: 0.954")
    right.set_ylim(0, 1.02)
    right.set_xlabel("layer")
    right.set_ylabel("share within 2σ")
    right.legend(frameon=False, loc="lower right")
    return png_uri(fig)
