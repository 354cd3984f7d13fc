"""Generated model families: member counts, the fast array path against ONNX read back by the
frontend, options and determinism."""

import itertools

import networkx as nx
import numpy as np
import onnx
import pytest

import dse
from dse.errors import WorkloadError
from dse.workloads.families import NasBench101, families, family
from dse.workloads.families.nasbench101 import OPS, enumerate_cells, vertex_channels
from dse.workloads.families.recorder import LayerRecorder
from dse.workloads.layers import ITEM_ARRAYS, LAYER_ARRAYS, LayerBatch

_COLUMNS = ("op_class", "kernel", *LAYER_ARRAYS, "fused", "in_shape", "out_shape", "in_rank",
            "out_rank", "offsets", "input_elems", "output_elems")


def assert_same_layers(got: LayerBatch, want: LayerBatch) -> None:
    """Equal column by column, row by row (op types compared by name)."""
    assert got.names == want.names
    assert [got.op_names[i] for i in got.op] == [want.op_names[i] for i in want.op]
    for column in _COLUMNS:
        a, b = getattr(got, column), getattr(want, column)
        assert a.shape == b.shape, column
        bad = np.flatnonzero((a != b).reshape(len(a), -1).any(axis=1)) if len(a) else []
        assert not len(bad), f"{column} differs at rows {list(bad[:5])}: {a[bad[:3]]} != " \
            f"{b[bad[:3]]}"
    assert got.has_edges and want.has_edges
    for kind, (a, b) in zip(ITEM_ARRAYS, zip(_items(got), _items(want), strict=True),
                            strict=True):
        assert a.shape == b.shape, kind
        np.testing.assert_array_equal(a, b, err_msg=kind)


def _items(batch: LayerBatch) -> list[np.ndarray]:
    """Per item kind, its items as rows (layer, other index, elems), sorted: a member's items
    may come in any order."""
    out = []
    for names in ITEM_ARRAYS.values():
        table = np.stack([getattr(batch, n).astype(np.float64) for n in names], axis=1)
        out.append(table[np.lexsort(table.T[::-1])])
    return out


def via_frontend(fam, i):
    return LayerBatch.from_workloads([fam.workload(i)])


@pytest.fixture(scope="module")
def nb():
    return family("nasbench101")


# -- NAS-Bench-101: the space -----------------------------------------------------------------


def test_the_space_has_423624_unique_cells(nb):
    assert nb.size == len(enumerate_cells()) == 423_624


def test_cells_per_vertex_count(nb):
    # Cumulative counts by vertex count, printed by generate_graphs.py as it runs; checked
    # independently below for up to 5 vertices.
    assert [len(enumerate_cells(v)) for v in range(2, 8)] == [1, 7, 91, 2532, 64542, 423624]
    assert family("nasbench101", max_vertices=5).size == 2532


def _brute_force_unique(max_vertices):
    """Unique labelled cells by pairwise networkx isomorphism, from every upper-triangular
    matrix (no canonical forms involved)."""
    unique = 0
    for v in range(2, max_vertices + 1):
        pairs = [(x, y) for y in range(v) for x in range(y)]
        seen: dict[str, list[nx.DiGraph]] = {}  # by an invariant: degrees and ops
        for mask in range(2 ** len(pairs)):
            g = nx.DiGraph()
            g.add_nodes_from(range(v))
            g.add_edges_from(p for k, p in enumerate(pairs) if mask >> k & 1)
            if g.number_of_edges() > 9 or any(
                    (u < v - 1 and not g.out_degree(u)) or (u and not g.in_degree(u))
                    for u in range(v)):
                continue
            for labels in itertools.product(range(3), repeat=v - 2):
                h = g.copy()
                nx.set_node_attributes(h, dict(enumerate(("in", *labels, "out"))), "op")
                key = str(sorted((h.in_degree(n), h.out_degree(n), h.nodes[n]["op"])
                                 for n in h))
                bucket = seen.setdefault(key, [])
                if not any(nx.is_isomorphic(h, o, node_match=lambda a, b: a["op"] == b["op"])
                           for o in bucket):
                    bucket.append(h)
                    unique += 1
    return unique


def test_counts_agree_with_a_brute_force_isomorphism_check():
    assert _brute_force_unique(5) == len(enumerate_cells(5)) == 2532


def test_fewer_edges_give_a_subset():
    small = family("nasbench101", max_edges=5, max_vertices=6)
    assert set(enumerate_cells(6, 5)) <= set(enumerate_cells())
    assert 0 < small.size < 64542


def test_vertex_channels_as_the_benchmark_splits_them():
    # Cases of nasbench/tests/model_builder_test.py.
    def vc(cin, cout, m):
        return vertex_channels(np.array(m)[None], cin, cout)[0].tolist()

    branch = [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert vc(8, 8, branch) == [8, 4, 4, 8]
    assert vc(8, 15, branch) == [8, 8, 7, 15]
    three = [[0, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1],
             [0, 0, 0, 0, 0]]
    assert vc(8, 8, three) == [8, 3, 3, 2, 8]
    widest = [[0, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0]]
    assert vc(8, 9, widest) == [8, 5, 5, 4, 9]
    chain = [[0, 1, 0, 1, 0], [0, 0, 1, 0, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1],
             [0, 0, 0, 0, 0]]
    assert vc(8, 15, chain) == [8, 8, 7, 7, 15]
    assert vc(5, 1, [[0, 1], [0, 0]]) == [5, 1]


# The dataset's first record (nasbench.hash_iterator()): its stored matrix and ops, and its
# 'trainable_parameters'.
_RECORD = ([[0, 1, 0, 0, 1, 1, 0], [0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 1],
            [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 0]],
           ["input", "conv3x3-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "conv3x3-bn-relu",
            "conv1x1-bn-relu", "output"])


def test_a_dataset_record_has_its_trainable_parameters(nb):
    i = nb.index_of(*_RECORD)
    assert nb.batch([i]).totals("params").tolist() == [8_555_530]
    # the member is the very matrix the benchmark kept: the first of its class generated
    matrix, ops = nb.cell(i)
    assert matrix.tolist() == _RECORD[0] and ops == _RECORD[1]


def test_index_of_prunes_and_ignores_vertex_order(nb):
    matrix, ops = nb.cell(123_456)
    v = len(matrix)
    g = nx.DiGraph([(int(x), int(y)) for x, y in zip(*np.nonzero(matrix), strict=True)])
    topo = list(nx.lexicographical_topological_sort(g, key=lambda n: -n))  # another order
    at = {n: k if k < v - 1 else k + 1 for k, n in enumerate(topo)}  # room for one more
    moved = np.zeros((v + 1, v + 1), dtype=int)
    for x, y in g.edges:
        moved[at[x], at[y]] = 1
    moved[0, v - 1] = 1  # input -> a vertex that reaches nothing: pruned
    new_ops = [ops[n] for n in topo]
    new_ops.insert(v - 1, "maxpool3x3")
    assert moved[:v - 1, :v - 1].tolist() != matrix[:v - 1, :v - 1].tolist()
    assert nb.index_of(moved, new_ops) == 123_456


def test_bad_cells_are_refused(nb):
    with pytest.raises(WorkloadError, match="upper-triangular"):
        nb.index_of([[0, 1], [1, 0]], ["input", "output"])
    with pytest.raises(WorkloadError, match="unknown op 'conv5x5'"):
        nb.index_of([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv5x5", "output"])
    with pytest.raises(WorkloadError, match="does not reach"):
        nb.index_of([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", "maxpool3x3", "output"])
    with pytest.raises(WorkloadError, match=r"a cell of 7 vertices and 9 edges is outside this "
                       r"family \(max_vertices=3, max_edges=9\)"):
        family("nasbench101", max_vertices=3).index_of(*_RECORD)
    chain = np.eye(12, k=1, dtype=int)
    with pytest.raises(WorkloadError, match="a cell of 12 vertices and 11 edges is outside"):
        nb.index_of(chain, ["input", *["conv1x1-bn-relu"] * 10, "output"])


# -- the fast path against ONNX read back by the frontend -------------------------------------


def _sample(nb):
    """Seeded members plus the edge cases: the 2-vertex cell, cells whose input feeds the
    output, 7-vertex 9-edge cells, an all-maxpool cell, a cell needing a Sum and slices."""
    f = nb.features(np.arange(nb.size), network=False)
    rng = np.random.default_rng(14)
    picks = {0, nb.size - 1}
    for mask in (f["input_to_output"] & (f["vertices"] == 7), (f["vertices"] == 7) &
                 (f["edges"] == 9), f["maxpool3x3"] == 5, f["input_fanout"] >= 3,
                 f["vertices"] == 3, f["width"] == 4):
        picks.add(int(rng.choice(np.flatnonzero(mask))))
    picks.update(int(i) for i in rng.integers(0, nb.size, 20 - len(picks)))
    return sorted(picks)


def test_members_equal_their_onnx_read_by_the_frontend(nb):
    sample = _sample(nb)
    assert len(sample) == 20
    for i in sample:
        assert_same_layers(nb.batch([i]), via_frontend(nb, i))


def test_cells_that_slice_and_sum_match(nb):
    idx = np.arange(0, nb.size, 101)
    b = nb.batch(idx)
    names = np.array(b.op_names)[b.op]
    per = b.model_of_layer
    with_both = np.intersect1d(per[names == "Slice"], per[names == "Sum"])
    assert len(with_both)
    i = int(idx[with_both[0]])
    assert_same_layers(nb.batch([i]), via_frontend(nb, i))


@pytest.mark.parametrize("options", [
    {"stem_channels": 16, "stacks": 2, "cells_per_stack": 1, "resolution": 24, "classes": 3},
    # one-channel vertices (scalar BatchNorm weights are not parameters), an odd resolution
    # halved to 1, one class
    {"stem_channels": 8, "stacks": 6, "cells_per_stack": 1, "resolution": 9, "classes": 1}])
def test_the_recorder_matches_the_frontend_on_options(options):
    small = family("nasbench101", **options)
    for i in (0, 40_000, 61_689, small.size - 1):
        assert_same_layers(small.batch([i]), via_frontend(small, i))
        rec = LayerRecorder(small.member_name(i), small.input_shape(i))
        assert_same_layers(rec.batch(small.build(rec, i)), small.batch([i]))


def test_an_exported_file_loads_through_dse_workload(nb, tmp_path):
    path = tmp_path / "cell.onnx"
    onnx.save(nb.to_onnx(1234), str(path))
    w = dse.workload(path)
    got = LayerBatch.from_workloads([w])
    want = nb.batch([1234])
    for column in ("macs", "ops", "params", "weight_elems", "in_elems", "out_elems"):
        assert got.totals(column).tolist() == want.totals(column).tolist()


def test_batches_of_many_members_equal_one_at_a_time(nb):
    idx = np.array([400_000, 5, 0, 64_000, 5, 2_600])  # unsorted, repeated, mixed sizes
    many = nb.batch(idx)
    assert_same_layers(many, LayerBatch.concat([nb.batch([i]) for i in idx]))
    assert many.names[1] == many.names[4] == nb.member_name(5)


def test_features(nb):
    idx = np.arange(0, nb.size, 1009)
    f = nb.features(idx)
    assert (f["conv3x3"] + f["conv1x1"] + f["maxpool3x3"] == f["vertices"] - 2).all()
    assert (f["edges"] <= 9).all() and (f["depth"] >= 1).all()
    assert (f["depth"] <= f["vertices"] - 1).all()
    b = nb.batch(idx)
    assert f["params"].tolist() == b.totals("params").tolist()
    assert f["layers"].tolist() == np.diff(b.offsets).tolist()
    assert f["input_to_output"][0]  # the 2-vertex cell


def test_members_are_deterministic(nb):
    enumerate_cells.cache_clear()
    again = NasBench101()
    assert np.array_equal(again._keys, nb._keys)
    names = [nb.member_name(i) for i in range(0, nb.size, 4999)]
    assert len(set(names)) == len(names)
    assert_same_layers(again.batch([77, 350_000]), nb.batch([77, 350_000]))
    assert nb.member_name(0) == "nb101-2v-1-none"


def test_member_order_is_the_generation_order(nb):
    keys = enumerate_cells()
    assert np.all(np.diff(keys) > 0)
    matrix, ops = nb.cell(1)  # 3 vertices: input -> v1 -> output, v1 = conv3x3
    assert matrix.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    assert ops == ["input", OPS[0], "output"]


# -- parametric families ----------------------------------------------------------------------


@pytest.mark.parametrize("name, members", [
    ("mobilenet_v1", [0, 15]), ("mobilenet_v2", [0, 12, 29]), ("resnet", [0, 9, 27])])
def test_parametric_members_equal_their_onnx(name, members):
    fam = family(name)
    for i in members:
        assert_same_layers(fam.batch([i]), via_frontend(fam, i))


def test_grid_sizes_and_names():
    assert family("mobilenet_v1").size == 16
    assert family("mobilenet_v2").size == 30
    assert family("resnet").size == 30
    fam = family("mobilenet_v1", width=[0.5, 1.0], resolution=[96, 160, 224])
    assert [fam.member_name(i) for i in range(fam.size)] == [
        "mobilenet_v1_0.5_96", "mobilenet_v1_0.5_160", "mobilenet_v1_0.5_224",
        "mobilenet_v1_1_96", "mobilenet_v1_1_160", "mobilenet_v1_1_224"]
    assert family("resnet", depth=[50], width=[1.0]).member_name(0) == "resnet50_w1"


@pytest.mark.parametrize("fam, options, zoo", [
    ("mobilenet_v1", {"width": 0.25, "resolution": 128}, "mobilenet_v1_0.25_128"),
    ("mobilenet_v2", {"width": 1.4, "resolution": 224}, "mobilenet_v2_1.4_224"),
    ("resnet", {"depth": 18, "width": 1.0}, "resnet18"),
    ("resnet", {"depth": 50, "width": 1.0}, "resnet50")])
def test_width_one_members_are_the_zoo_models(fam, options, zoo):
    member = family(fam, **options).batch([0])
    w = dse.workload(zoo)
    for column in LAYER_ARRAYS:
        assert member.totals(column)[0] == pytest.approx(float(w.counts[column].sum()), abs=0)
    assert member.layers == len(w.counts)


def test_parametric_features():
    fam = family("resnet", depth=[18, 50], width=[0.5, 1.0])
    f = fam.features(range(fam.size))
    assert f["depth"].tolist() == [18, 18, 50, 50]
    assert f["params"][3] == dse.workload("resnet50").params
    assert (f["params"][0] < f["params"][1]) and f["conv"][2] == 53 and f["dwconv"][2] == 0
    assert f["eltwise"][0] == 8  # one residual Add per basic block
    mobile = family("mobilenet_v1", width=[1.0], resolution=[224]).features([0])
    assert mobile["dwconv"][0] == 13 and mobile["conv"][0] == 15


def test_members_too_large_to_export_are_refused():
    huge = family("resnet", depth=[152], width=[4.0], resolution=1024)
    assert huge.batch([0]).totals("params")[0] > 2**28  # the arrays are fine
    with pytest.raises(WorkloadError, match=r"weights would take .* GiB; the limit is 1 GiB"):
        huge.to_onnx(0)


# -- options, names and indices ---------------------------------------------------------------


def test_families_are_listed():
    assert families() == ["mobilenet_v1", "mobilenet_v2", "nasbench101", "resnet"]
    fam = family("resnet")
    assert family(fam) is fam


def test_unknown_family_suggests_the_closest():
    with pytest.raises(WorkloadError, match=r"unknown model family name 'nasbench201'; did you "
                       r"mean 'nasbench101'\? known model family names: mobilenet_v1"):
        family("nasbench201")


@pytest.mark.parametrize("name, options, match", [
    ("nasbench101", {"max_vertices": 8}, r"max_vertices: expected an int from 2 to 7, got 8"),
    ("nasbench101", {"max_edges": 0}, r"max_edges: expected an int from 1 to 9, got 0"),
    ("nasbench101", {"stem_channel": 64}, r"unknown option 'stem_channel'; did you mean "
                                          r"'stem_channels'\?"),
    ("nasbench101", {"stacks": 2.5}, r"stacks: expected an int from 1 to 6, got 2.5"),
    ("mobilenet_v1", {"width": [0.5, 9]}, r"width: expected a list of numbers from 0.1 to 4, "
                                             r"got \[0.5, 9\]"),
    ("mobilenet_v2", {"resolution": []}, r"resolution: expected a list of 1 to 64 ints from "
                                          r"32 to 1024, got \[\]"),
    ("mobilenet_v2", {"width": [0.5, 0.5]}, r"expected a list without repeated values"),
    ("resnet", {"depth": [18, 20]}, r"depth: expected a list of values among 18, 34, 50, 101, 152, "
                                    r"got \[18, 20\]"),
    ("resnet", {"resolution": "224"}, r"resolution: expected an int from 32 to 1024"),
])
def test_bad_options(name, options, match):
    with pytest.raises(WorkloadError, match=match):
        family(name, **options)


def test_every_bad_option_is_reported_at_once():
    with pytest.raises(WorkloadError) as info:
        family("nasbench101", max_vertices=9, classes=0, colour="red")
    assert len(info.value.problems) == 3


def test_bad_member_numbers(nb):
    with pytest.raises(WorkloadError, match=r"member 423624 does not exist; expected 0 to "
                       r"423,623 \(423,624 members\)"):
        nb.batch([0, 423_624])
    with pytest.raises(WorkloadError, match="member -1 does not exist"):
        family("resnet").to_onnx(-1)
    with pytest.raises(WorkloadError, match="expected member numbers"):
        nb.batch([0.5])
    assert nb.batch([]).models == 0


def test_nasbench_rows_without_edges_are_the_same_rows_and_price_alike():
    # a sweep whose targets never fall back to a host asks for no edges (faster to build)
    from dse.cost import batch_cost
    from dse.devices import default_catalog

    nb = family("nasbench101")
    idx = np.random.default_rng(3).choice(nb.size, 300, replace=False)
    full, bare = nb.batch(idx), nb.batch(idx, edges=False)
    assert full.has_edges and not bare.has_edges
    for column in ("offsets", "op", "kernel", "ops", "weight_elems", "in_elems", "out_elems",
                   "fused", "in_shape", "out_shape", "input_elems", "output_elems"):
        assert np.array_equal(getattr(full, column), getattr(bare, column)), column
    cat = default_catalog()
    for name in ("edgetpu_v2", "ncs2"):
        device = cat.device(name)
        precision = "int8" if "int8" in device.precisions else device.precisions[0]
        link = cat.link(device.link) if device.link else None
        a, b = (batch_cost(x, device, precision, link=link) for x in (full, bare))
        assert np.array_equal(a.time_s, b.time_s) and np.array_equal(a.energy_j, b.energy_j)
