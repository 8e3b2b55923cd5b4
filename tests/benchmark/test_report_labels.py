"""Point labels of the trade-off figure never overlap, even for coincident points."""

from __future__ import annotations

from itertools import combinations

from unlearnkit.benchmark.report import _new_figure, _overlap_area, _place_labels


def boxes(fig, anns):
    renderer = fig.canvas.get_renderer()
    return [a.get_window_extent(renderer) for a in anns]


def test_labels_of_coincident_and_close_points_do_not_overlap():
    fig, axes = _new_figure(1, 2, 12, 3.9)
    ax = axes[0][0]
    pts = {"original": (5.0, 90.0), "retrain": (5.0, 90.0), "sure": (5.2, 90.1)}
    for x, y in pts.values():
        ax.plot([x], [y], "o")
    ax.set_xlim(0, 40)
    ax.set_ylim(80, 95)
    named = [(ax, m, xy, "black") for m, xy in pts.items()]
    anns = _place_labels(fig, named)
    assert [a.get_text() for a in anns] == list(pts)
    fig.canvas.draw()
    for a, b in combinations(boxes(fig, anns), 2):
        assert _overlap_area(a, b) == 0.0
    # the naive placement (one fixed offset for all) would overlap: the check can fail
    naive = [
        ax.annotate(m, xy, textcoords="offset points", xytext=(6, -12)) for m, xy in pts.items()
    ]
    fig.canvas.draw()
    nb = boxes(fig, naive)
    assert _overlap_area(nb[0], nb[1]) > 0


def test_overlap_area_by_hand():
    from matplotlib.transforms import Bbox

    a, b = Bbox([[0, 0], [2, 2]]), Bbox([[1, 1], [3, 4]])
    assert _overlap_area(a, b) == 1.0
    assert _overlap_area(a, Bbox([[2, 0], [3, 1]])) == 0.0
