# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PNG line charts of range-query series, drawn with matplotlib's Agg backend (no display, no pyplot state).

``render_png(...)`` returns the PNG bytes; writing them is the caller's. A ``Figure`` is built directly and
drawn by ``FigureCanvasAgg`` (https://matplotlib.org/stable/gallery/user_interfaces/canvasagg.html), so nothing
here touches pyplot's global figure registry or a GUI backend. matplotlib is needed only when a chart is
drawn: ``MATPLOTLIB_IMPORT_ERROR`` says whether it could be imported, and the caller reports
``missing_required_lib('matplotlib')`` before anything is written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import io
import math
import traceback

from ansible_collections.halobuzz.ops.plugins.module_utils.prometheus.catalogue import (
    UNIT_LABELS,
    display_scale,
)

try:
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure
    MATPLOTLIB_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported with missing_required_lib by the caller
    MATPLOTLIB_IMPORT_ERROR = traceback.format_exc()

WIDTH_INCHES, HEIGHT_INCHES, DPI = 9.0, 3.6, 100
_UTC = datetime.timezone.utc


def _when(unix_time):
    return datetime.datetime.fromtimestamp(unix_time, _UTC)


def render_png(title, unit, lines, start, end, thresholds=(), markers=()):
    """PNG bytes of one chart.

    lines: ``[(label, [(unix time, value or None)])]`` in the metric's unit (scaled here for display: ratio
    as %, seconds as ms, bytes as MiB); a None value is a gap. thresholds: ``[(label, value)]`` drawn as
    dashed horizontal lines; markers: ``[(unix time, label)]`` drawn as vertical lines (e.g. the runs of an
    incident). An empty chart says "no data" in the middle rather than failing.
    """
    scale = display_scale(unit)
    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    plotted = 0
    for label, points in lines:
        xs = [_when(t) for t, v in points]
        ys = [float('nan') if v is None else v * scale for t, v in points]
        if not all(math.isnan(y) for y in ys):  # at least one number
            # a marker per point while there are few (a sandbox minutes old, a short window): still visible
            axes.plot(xs, ys, label=label, linewidth=1.6, marker='.' if len(points) <= 40 else None)
            plotted += 1
    for label, value in thresholds:
        axes.axhline(value * scale, color='#202020', linestyle='--', linewidth=1.1, label=label)
    for at, label in markers:
        if start <= at <= end:
            axes.axvline(_when(at), color='#7f7f7f', linestyle=':', linewidth=1.2)
            axes.annotate(label, xy=(_when(at), 1.0), xycoords=('data', 'axes fraction'), rotation=90,
                          va='top', ha='right', fontsize=7, color='#404040')
    if not plotted:
        axes.text(0.5, 0.5, 'no data in this window', transform=axes.transAxes, ha='center', va='center',
                  color='#7f7f7f')
    axes.set_xlim(_when(start), _when(end))
    axes.xaxis.set_major_formatter(DateFormatter('%H:%M', tz=_UTC))
    axes.set_title(title, fontsize=11)
    axes.set_xlabel('UTC')
    axes.set_ylabel(UNIT_LABELS.get(unit, unit))
    axes.grid(True, alpha=0.3)
    if plotted or thresholds:
        axes.legend(loc='upper left', fontsize=7, framealpha=0.8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png')
    return buffer.getvalue()
