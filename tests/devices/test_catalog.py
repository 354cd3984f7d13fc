"""The built-in catalog: it loads, it has what the issue lists, every number has a source."""

from __future__ import annotations

import pytest

from dse.devices import default_catalog, kind_names
from dse.devices.kinds import DPU_ARCHS
from dse.spec.sources import numeric_paths

#: What the catalog must hold (issue 3): devices, then platforms.
REQUIRED_DEVICES = [
    "ncs", "ncs2", "coral_usb", "coral_devboard_tpu", "coral_m2",
    "exynos5422_a7", "exynos5422_a15", "mali_t628",
    "kirin970_a53", "kirin970_a73", "mali_g72", "kirin970_npu",
    "rpi3bplus_cpu", "rpi4_cpu", "rpi5_cpu", "jetson_nano_cpu", "jetson_nano_gpu",
    *(f"dpu_{a.lower()}" for a in DPU_ARCHS),
    "max78000_cnn", "ethos_u55_alif", "mcxn947_neutron", "stm32h743_m7",
    "sd855_prime", "sd855_gold", "sd855_silver", "adreno640", "hexagon690",
    "x86_avx2",
]
REQUIRED_PLATFORMS = ["coral_devboard", "odroid_xu4", "hikey970", "pixel4", "raspberry_pi3bplus",
                      "raspberry_pi4", "raspberry_pi5", "jetson_nano", "zcu102", "zcu104",
                      "kv260", "ultra96", "max78000_feather", "alif_e7_appkit", "frdm_mcxn947",
                      "nucleo_h743zi2", "x86_desktop"]
REQUIRED_LINKS = ["usb2", "usb3", "usb3_hub", "pcie_gen2_x1", "soc_bus"]


@pytest.fixture(scope="module")
def cat():
    return default_catalog()


def test_catalog_has_what_the_issue_lists(cat):
    assert not set(REQUIRED_DEVICES) - set(cat.devices)
    assert not set(REQUIRED_PLATFORMS) - set(cat.platforms)
    assert not set(REQUIRED_LINKS) - set(cat.links)
    assert {d.kind for d in cat.devices.values()} == set(kind_names())


def test_every_number_cites_a_source(cat):
    for spec in [*cat.devices.values(), *cat.links.values(), *cat.platforms.values()]:
        derived = set(getattr(spec, "derived", ()))
        for path in numeric_paths(spec):
            if path in derived:
                continue
            source = next((s for s in spec.sources if any(
                path == f or path.startswith(f + ".") for f in s.fields)), None)
            assert source is not None, (spec.name, path)
            assert len(source.cite) > 15, (spec.name, source.id)
            if source.kind in ("datasheet", "paper"):
                assert source.url or len(source.cite) > 30, (spec.name, source.id)
        assert not [s for s in spec.sources if s.kind in ("fitted", "assumption")], spec.name


def test_figures_stated_in_the_data_readme(cat):
    # ../shared/data/README.md: the mobile-SoC study's figures and the DPU sizes.
    assert cat.device("exynos5422_a15").mem_bw_bytes_s == pytest.approx(3.44e9)
    assert cat.device("exynos5422_a7").mem_bw_bytes_s == pytest.approx(0.49e9)
    assert cat.device("mali_t628").mem_bw_bytes_s == pytest.approx(6.15e9)
    assert cat.device("mali_t628").peak_ops_s["fp32"] == pytest.approx(57.6e9)
    assert cat.device("mali_g72").peak_ops_s["fp32"] == pytest.approx(244.8e9)
    assert cat.device("kirin970_npu").peak_ops_s["fp16"] == pytest.approx(1.92e12)
    assert cat.platform("odroid_xu4").dram_bw_bytes_s == pytest.approx(14.9e9)
    for arch in DPU_ARCHS:
        spec = cat.device(f"dpu_{arch.lower()}")
        assert spec.peak_ops_s == {"int8": int(arch[1:]) * spec.clock_hz}
    assert cat.device("coral_usb").onchip_mem_bytes == 8 * 2**20
    assert cat.device("coral_usb").dram_bytes is None
    assert cat.device("coral_usb").peak_ops_s == {"int8": 4e12}
    zcu102 = cat.platform("zcu102")
    assert sum(g.count for g in zcu102.accelerators.values()) == 3


def test_platforms_compose(cat):
    p = cat.compose("raspberry_pi4", {"ncs2": 4}, link="usb3_hub")
    assert p.accelerators["ncs2"].count == 4
    assert cat.attached_link(p, "ncs2").shared
    assert cat.compose("raspberry_pi4", {"coral_usb": 1}).name == "raspberry_pi4+1xcoral_usb"


def test_hosts_and_accelerators_fit_their_roles(cat):
    for platform in cat.platforms.values():
        for name in platform.host:
            assert cat.device(name).kind in ("cpu", "mcu")
        for name in platform.accelerators:
            assert cat.device(name).kind not in ("cpu", "mcu")
            assert cat.attached_link(platform, name) is not None
