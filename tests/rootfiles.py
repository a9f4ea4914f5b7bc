"""Write ROOT files for tests with uproot (no ROOT installation needed).

Builders return uproot-writable objects; ``write_file`` stores a mapping of paths
(``"dir/sub/name"`` creates directories) to such objects.  Arrays passed to the
builders are the *inner* bins; under/overflow default to zero and can be given
with ``flow=(under, over)`` for 1D.  Typical use::

    from tests import rootfiles

    path = rootfiles.write_file(tmp_path / "f.root", {
        "EMC/hEnergy": rootfiles.th1("hEnergy", [1, 2, 3], edges=[0, 1, 2, 4]),
        "EMC/hMap": rootfiles.th2("hMap", np.ones((4, 3))),
    })

Also: ``write_th1_file`` (a flat file of many TH1F), ``write_bench_file`` (the
benchmark layout), ``write_sample_file`` (one of everything: nested directories,
a TList, labels, variable bins, weights, profiles, 2D/3D and a non-histogram),
``rename_keys`` (key names uproot cannot write, such as ones containing ``/``)
and ``th1_claiming`` (a histogram whose axis claims more bins than it stores).
"""

from __future__ import annotations

import array
import os
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import uproot
from uproot.writing import identify

__all__ = [
    "axis",
    "rename_keys",
    "th1",
    "th1_claiming",
    "th2",
    "th3",
    "tlist",
    "tprofile",
    "tprofile2d",
    "write_bench_file",
    "write_file",
    "write_sample_file",
    "write_th1_file",
]

_ARRAY_TYPES = {"C": ">i1", "S": ">i2", "I": ">i4", "F": ">f4", "D": ">f8"}


def axis(
    name: str,
    nbins: int,
    low: float = 0.0,
    high: float = 1.0,
    *,
    edges: Sequence[float] | None = None,
    title: str = "",
    labels: Sequence[str] | None = None,
) -> Any:
    """A ``TAxis``; ``edges`` makes it variable, ``labels`` names bins 1..n in order."""
    xbins = None
    if edges is not None:
        xbins = identify.to_TArray(np.asarray(edges, dtype=np.float64))
        nbins, low, high = len(edges) - 1, float(edges[0]), float(edges[-1])
    label_list = None
    if labels is not None:
        strings = []
        for number, text in enumerate(labels, start=1):
            string = identify.to_TObjString(text)
            string._bases[0]._members["@fUniqueID"] = number  # ROOT's bin number
            strings.append(string)
        label_list = identify.to_THashList(strings)
    return identify.to_TAxis(name, title, nbins, low, high, fXbins=xbins, fLabels=label_list)


def _flat(values: Any, dtype: str) -> np.ndarray[Any, Any]:
    # Inner bins [x, y, z] -> ROOT's fArray with zero flow bins, x fastest.
    inner = np.asarray(values, dtype=np.float64)
    padded = np.pad(inner, 1)
    return np.ravel(padded, order="F").astype(dtype)


def _stats(values: Any, centers: Sequence[np.ndarray[Any, Any]]) -> dict[str, float]:
    w = np.asarray(values, dtype=np.float64)
    grids = np.meshgrid(*centers, indexing="ij")
    out = {"fTsumw": float(w.sum()), "fTsumw2": float((w * w).sum())}
    for letter, grid in zip("xyz", grids, strict=False):
        out[f"fTsumw{letter}"] = float((w * grid).sum())
        out[f"fTsumw{letter}2"] = float((w * grid * grid).sum())
    if len(grids) >= 2:
        out["fTsumwxy"] = float((w * grids[0] * grids[1]).sum())
    if len(grids) == 3:
        out["fTsumwxz"] = float((w * grids[0] * grids[2]).sum())
        out["fTsumwyz"] = float((w * grids[1] * grids[2]).sum())
    return out


def _centers(ax: Any) -> np.ndarray[Any, Any]:
    xbins = ax.member("fXbins")
    if xbins is not None and len(xbins):
        edges = np.asarray(xbins, dtype=np.float64)
    else:
        edges = np.linspace(ax.member("fXmin"), ax.member("fXmax"), ax.member("fNbins") + 1)
    return (edges[:-1] + edges[1:]) / 2


def _axes(values: np.ndarray[Any, Any], axes: Sequence[Any | None]) -> list[Any]:
    out = []
    for index, given in enumerate(axes):
        name = "xyz"[index] + "axis"
        size = values.shape[index]
        out.append(given if given is not None else axis(name, size, 0.0, float(size)))
    return out


def th1(
    name: str,
    values: Any,
    *,
    edges: Sequence[float] | None = None,
    title: str = "",
    xaxis: Any | None = None,
    kind: str = "F",
    sumw2: Any | None = None,
    entries: float | None = None,
    flow: tuple[float, float] = (0.0, 0.0),
    labels: Sequence[str] | None = None,
) -> Any:
    """A ``TH1<kind>`` with inner bin ``values``; ``sumw2`` (inner) makes it weighted."""
    values = np.asarray(values, dtype=np.float64)
    if xaxis is None:
        xaxis = axis("xaxis", len(values), 0.0, float(len(values)), edges=edges, labels=labels)
    data = _flat(values, _ARRAY_TYPES[kind])
    data[0], data[-1] = flow
    stats = _stats(values, [_centers(xaxis)])
    if sumw2 is not None:
        stats["fTsumw2"] = float(np.sum(sumw2))
        sumw2 = _flat(sumw2, ">f8")
    return identify.to_TH1x(
        name, title, data,
        float(values.sum() + sum(flow)) if entries is None else entries,
        stats["fTsumw"], stats["fTsumw2"], stats["fTsumwx"], stats["fTsumwx2"],
        None if sumw2 is None else identify.to_TArray(sumw2),
        xaxis,
    )  # fmt: skip


def th2(
    name: str,
    values: Any,
    *,
    title: str = "",
    xaxis: Any | None = None,
    yaxis: Any | None = None,
    kind: str = "F",
    sumw2: Any | None = None,
) -> Any:
    """A ``TH2<kind>`` with inner bins ``values[x, y]``."""
    values = np.asarray(values, dtype=np.float64)
    xaxis, yaxis = _axes(values, [xaxis, yaxis])
    s = _stats(values, [_centers(xaxis), _centers(yaxis)])
    return identify.to_TH2x(
        name, title, _flat(values, _ARRAY_TYPES[kind]), float(values.sum()),
        s["fTsumw"], s["fTsumw2"], s["fTsumwx"], s["fTsumwx2"],
        s["fTsumwy"], s["fTsumwy2"], s["fTsumwxy"],
        None if sumw2 is None else identify.to_TArray(_flat(sumw2, ">f8")),
        xaxis, yaxis,
    )  # fmt: skip


def th3(name: str, values: Any, *, title: str = "", kind: str = "D") -> Any:
    """A ``TH3<kind>`` with inner bins ``values[x, y, z]`` on [0, n] per axis."""
    values = np.asarray(values, dtype=np.float64)
    xaxis, yaxis, zaxis = _axes(values, [None, None, None])
    s = _stats(values, [_centers(xaxis), _centers(yaxis), _centers(zaxis)])
    return identify.to_TH3x(
        name, title, _flat(values, _ARRAY_TYPES[kind]), float(values.sum()),
        s["fTsumw"], s["fTsumw2"], s["fTsumwx"], s["fTsumwx2"],
        s["fTsumwy"], s["fTsumwy2"], s["fTsumwxy"],
        s["fTsumwz"], s["fTsumwz2"], s["fTsumwxz"], s["fTsumwyz"],
        None, xaxis, yaxis, zaxis,
    )  # fmt: skip


def tprofile(
    name: str,
    sumwy: Any,
    sumwy2: Any,
    sumw: Any,
    *,
    title: str = "",
    bin_sumw2: Any | None = None,
    error_mode: int = 0,
) -> Any:
    """A ``TProfile`` from per-bin sums of w*y, w*y² and w (inner bins, x on [0, n])."""
    sumw = np.asarray(sumw, dtype=np.float64)
    xaxis = axis("xaxis", len(sumw), 0.0, float(len(sumw)))
    s = _stats(sumw, [_centers(xaxis)])
    return identify.to_TProfile(
        name, title, _flat(sumwy, ">f8"), float(sumw.sum()),
        s["fTsumw"], s["fTsumw2"], s["fTsumwx"], s["fTsumwx2"],
        float(np.sum(sumwy)), float(np.sum(sumwy2)),
        identify.to_TArray(_flat(sumwy2, ">f8")),
        identify.to_TArray(_flat(sumw, ">f8")),
        identify.to_TArray(np.zeros(0) if bin_sumw2 is None else _flat(bin_sumw2, ">f8")),
        xaxis, fErrorMode=error_mode,
    )  # fmt: skip


def tprofile2d(name: str, sumwz: Any, sumwz2: Any, sumw: Any, *, title: str = "") -> Any:
    """A ``TProfile2D`` from per-bin sums (inner bins ``[x, y]``, axes on [0, n])."""
    sumw = np.asarray(sumw, dtype=np.float64)
    xaxis, yaxis = _axes(sumw, [None, None])
    s = _stats(sumw, [_centers(xaxis), _centers(yaxis)])
    return identify.to_TProfile2D(
        name, title, _flat(sumwz, ">f8"), float(sumw.sum()),
        s["fTsumw"], s["fTsumw2"], s["fTsumwx"], s["fTsumwx2"],
        s["fTsumwy"], s["fTsumwy2"], s["fTsumwxy"],
        float(np.sum(sumwz)), float(np.sum(sumwz2)),
        identify.to_TArray(_flat(sumwz2, ">f8")),
        identify.to_TArray(_flat(sumw, ">f8")),
        identify.to_TArray(np.zeros(0)),
        xaxis, yaxis,
    )  # fmt: skip


def tlist(items: Sequence[Any], name: str = "") -> Any:
    """A ``TList`` of uproot-writable objects (histograms or nested lists).

    uproot writes no streamer records for objects inside a list, so readers of
    such files exercise their fallback path; ROOT-written lists carry them.
    """
    return identify.to_TList(list(items), name=name)


def th1_claiming(name: str, nbins: int) -> Any:
    """A ``TH1F`` whose x axis says ``nbins`` bins but whose ``fArray`` holds three cells.

    Costs nothing to write whatever ``nbins`` is; a reader that trusts the axis
    and allocates for it is what a decompression bomb exploits.
    """
    xaxis = identify.to_TAxis("xaxis", "", nbins, 0.0, 1.0)
    return identify.to_TH1x(
        name, "", np.zeros(3, ">f4"), 0.0, 0.0, 0.0, 0.0, 0.0, None, xaxis
    )  # fmt: skip


def rename_keys(path: str | os.PathLike[str], renames: Mapping[str, str]) -> Path:
    """Rewrite key names in the file's bytes: ``{"odd|name": "odd/name"}``.

    For names uproot cannot write (it turns ``/`` into directories).  Each old
    and new name must have the same length in bytes; names that are not valid
    UTF-8 are given with ``surrogateescape`` surrogates, as uproot reads them.
    Compressed object payloads keep the old name in their ``fName``.
    """
    data = Path(path).read_bytes()
    for old, new in renames.items():
        old_bytes = old.encode("utf-8", "surrogateescape")
        new_bytes = new.encode("utf-8", "surrogateescape")
        if len(old_bytes) != len(new_bytes) or old_bytes not in data:
            raise ValueError(f"cannot rename {old!r} to {new!r} in {path}")
        data = data.replace(old_bytes, new_bytes)
    Path(path).write_bytes(data)
    return Path(path)


def write_file(path: str | os.PathLike[str], objects: Mapping[str, Any]) -> Path:
    """Write ``objects`` (path -> uproot-writable object) to a new file; returns its path."""
    with uproot.recreate(path) as file:
        for key, obj in objects.items():
            file[key] = obj
    return Path(path)


def write_th1_file(
    path: str | os.PathLike[str], count: int = 10, nbins: int = 100, seed: int = 1
) -> Path:
    """``count`` TH1F ``h0``..``h<count-1>`` of Poisson(100) counts at the top level."""
    rng = np.random.default_rng(seed)
    return write_file(path, {f"h{i}": th1(f"h{i}", rng.poisson(100, nbins)) for i in range(count)})


def write_bench_file(
    path: str | os.PathLike[str], directories: int = 10, per_directory: int = 100,
    nbins: int = 1000, seed: int = 1,
) -> Path:  # fmt: skip
    """The benchmark layout: TH1F ``dir<d>/h<i>`` with ``nbins`` Poisson bins each."""
    rng = np.random.default_rng(seed)
    edges = axis("xaxis", nbins, 0.0, 1.0)
    with uproot.recreate(path) as file:
        for d in range(directories):
            for i in range(per_directory):
                file[f"dir{d}/h{i}"] = th1(f"h{i}", rng.poisson(100, nbins), xaxis=edges)
    return Path(path)


def write_sample_file(path: str | os.PathLike[str]) -> Path:
    """One of each supported case, under stable names the tests rely on."""
    grid = np.arange(12, dtype=np.float64).reshape(4, 3)
    return write_file(path, {
        "flat": th1("flat", [1, 2, 3, 4], title="Flat;x [cm];counts", flow=(5, 6)),
        "EMC/variable": th1("variable", [1, 2, 3], edges=[0.0, 1.0, 2.5, 10.0]),
        "EMC/weighted": th1("weighted", [1.5, 2.5], sumw2=[1.25, 3.25], kind="D"),
        "EMC/labelled": th1("labelled", [7, 8, 9], labels=["good", "bad", "ugly"], kind="I"),
        "EMC/deeper/map": th2("map", grid, title="map;col;row"),
        "EMC/deeper/short": th1("short", [1, 2], kind="S"),
        "EMC/deeper/char": th1("char", [3, 4], kind="C"),
        "TPC/cube": th3("cube", np.arange(24.0).reshape(2, 3, 4)),
        "TPC/profile": tprofile("profile", [2.0, 6.0], [4.0, 20.0], [1.0, 2.0]),
        "TPC/profile2d": tprofile2d("profile2d", grid * 2, grid * 4, grid),
        "notes": identify.to_TObjString("not a histogram"),
        "lists": tlist([th1("inlist", [1, 1]), tlist([th1("nested", [2])], name="inner")]),
    })  # fmt: skip


def write_with_root(root: Any, path: str | os.PathLike[str]) -> Path:
    """Write a file with ROOT itself (``root`` is the imported ``ROOT`` module).

    Covers what uproot cannot write: containers with streamer records (``TList``,
    ``TObjArray``), a fitted histogram, weighted profiles (``fBinSumw2``), 2D
    labels, ``TH1L``, NaN contents, and non-histograms (``TGraph``, ``TCanvas``,
    ``TEfficiency``, ``THnSparseD``) under stable names.
    """
    add_directory = root.TH1.AddDirectoryStatus()
    root.TH1.AddDirectory(False)  # restored below: it decides fBits of what ROOT reads later
    try:
        return _write_with_root(root, path)
    finally:
        root.TH1.AddDirectory(add_directory)


def _write_with_root(root: Any, path: str | os.PathLike[str]) -> Path:
    rng = root.TRandom3(7)
    out = root.TFile(os.fspath(path), "RECREATE")
    keep: list[Any] = []

    def filled(hist: Any, count: int = 200, weighted: bool = False) -> Any:
        for _ in range(count):
            weight = rng.Uniform(0.5, 2.0) if weighted else 1.0
            args = [rng.Gaus(0.5, 0.3) for _ in range(hist.GetDimension())]
            if hist.InheritsFrom("TProfile") or hist.InheritsFrom("TProfile2D"):
                args.append(rng.Gaus(3, 1))  # the profiled value
            hist.Fill(*args, weight)
        keep.append(hist)
        return hist

    for kind in "CSILFD":
        filled(getattr(root, f"TH1{kind}")(f"h1{kind}", f"TH1{kind};x;y", 20, 0, 1)).Write()
        filled(getattr(root, f"TH2{kind}")(f"h2{kind}", f"TH2{kind}", 5, 0, 1, 4, 0, 1)).Write()
        cube = getattr(root, f"TH3{kind}")(f"h3{kind}", f"TH3{kind}", 3, 0, 1, 2, 0, 1, 2, 0, 1)
        filled(cube).Write()
    edges = array.array("d", [0.0, 0.1, 0.3, 0.7, 1.0])
    variable = filled(root.TH1D("variable", "variable", 4, edges), weighted=True)
    variable.Write()
    labelled = root.TH2F("labelled2d", "labels", 3, 0, 3, 2, 0, 2)
    for bin_, text in enumerate(["one", "two", "three"], start=1):
        labelled.GetXaxis().SetBinLabel(bin_, text)
    labelled.GetYaxis().SetBinLabel(2, "second")
    labelled.Fill(0.5, 0.5)
    labelled.Write()
    filled(root.TProfile("profile_weighted", "p", 10, 0, 1, "s"), weighted=True).Write()
    filled(root.TProfile2D("profile2d", "p2", 4, 0, 1, 3, 0, 1), weighted=True).Write()
    odd = root.TH1D("odd", "nan and inf", 3, 0, 1)
    odd.SetBinContent(1, float("nan"))
    odd.SetBinContent(2, 1e-300)
    odd.Write()
    fitted = filled(root.TH1F("fitted", "fitted", 20, 0, 1), 500)
    fitted.Fit("gaus", "Q0")
    fitted.Write()
    subdir = out.mkdir("EMC").mkdir("deeper")
    subdir.cd()
    filled(root.TH1F("indir", "in a directory", 5, 0, 1)).Write()
    out.cd()
    lst = root.TList()
    lst.SetName("alist")
    lst.Add(filled(root.TH1F("inlist", "in a list", 5, 0, 1)))
    inner = root.TList()
    inner.SetName("innerlist")
    inner.Add(filled(root.TH2D("innerhist", "nested", 3, 0, 1, 3, 0, 1)))
    lst.Add(inner)
    lst.Write("alist", root.TObject.kSingleKey)
    objarray = root.TObjArray()
    objarray.SetName("anarray")
    objarray.Add(filled(root.TProfile("arrayprofile", "in an array", 4, 0, 1)))
    objarray.Write("anarray", root.TObject.kSingleKey)
    graph = root.TGraph(3, array.array("d", [1, 2, 3]), array.array("d", [3, 2, 1]))
    graph.Write("graph")
    root.gROOT.SetBatch(True)
    # A canvas name must be new in the process, or ROOT deletes the previous one.
    canvas = root.TCanvas(f"canvas_{len(keep)}_{id(out)}", "canvas", 200, 200)
    canvas.Write("canvas")
    canvas.Close()
    efficiency = root.TEfficiency("efficiency", "eff", 4, 0, 1)
    efficiency.Write()
    sparse = root.THnSparseD("sparse", "sparse", 2, array.array("i", [4, 4]),
                             array.array("d", [0, 0]), array.array("d", [1, 1]))  # fmt: skip
    sparse.Write()
    out.Close()
    return Path(path)
