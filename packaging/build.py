"""Builds the desktop bundle: a one-folder PyInstaller build of Velocitas and an archive of it.

    python packaging/build.py [--out build/bundle] [--naive] [--deb] [--codesign-identity ID]

Steps: stage the package as its wheel lays it out (``strategies/`` becomes
``velocitas_desktop/builtin_strategies``, ``resources/`` ``velocitas_desktop/resources``, no
tests), draw the icons from ``packaging/velocitas.svg``, run PyInstaller on
``packaging/velocitas.spec``, then archive the folder (``.tar.gz``, or ``.zip`` on Windows).
The browser view must be built first (``make bundle`` does it). ``--naive`` builds the
reference bundle without excludes, for bench/bundle.py. Works on Linux, Windows and macOS;
``--deb`` (Linux with dpkg-deb) also wraps the folder in a Debian package.
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import shutil
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "velocitas.spec"
ICON_SVG = PACKAGING / "velocitas.svg"
DESKTOP_ENTRY = PACKAGING / "velocitas.desktop"
NAME = "velocitas"
# the sizes each platform's icon format carries
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_TYPES = {b"icp4": 16, b"icp5": 32, b"ic07": 128, b"ic08": 256, b"ic09": 512, b"ic10": 1024}


class BuildError(RuntimeError):
    """A step of the build failed; the message says which and what to do."""


def version() -> str:
    """The version from its one source, ``velocitas_desktop.__version__`` (read, not imported)."""
    tree = ast.parse((ROOT / "velocitas_desktop" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__version__"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    raise BuildError("velocitas_desktop/__init__.py has no __version__")


def stage(folder: Path) -> Path:
    """The package as the wheel lays it out, without bytecode or anything test-only."""
    if folder.exists():
        shutil.rmtree(folder)
    package = folder / "velocitas_desktop"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
    shutil.copytree(ROOT / "velocitas_desktop", package, ignore=skip)
    shutil.copytree(ROOT / "strategies", package / "builtin_strategies", ignore=skip)
    shutil.copytree(ROOT / "resources", package / "resources", ignore=skip)
    if not (package / "webview" / "dist" / "index.html").is_file():
        raise BuildError("the browser view is not built (velocitas_desktop/webview/dist): run "
                         "`make web`, or `cd web && npm ci && npm run build`, first")
    return folder


def draw_icons(folder: Path) -> Path:
    """velocitas.png (256 px), .ico (Windows) and .icns (macOS) drawn from the SVG with Qt,
    offscreen, so no image tool is needed on any system."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(ICON_SVG))
    if not renderer.isValid():
        raise BuildError(f"{ICON_SVG} is not a valid SVG")

    def png(size: int) -> bytes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        return bytes(buffer.data())

    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{NAME}.png").write_bytes(png(256))
    (folder / f"{NAME}.ico").write_bytes(ico({size: png(size) for size in ICO_SIZES}))
    (folder / f"{NAME}.icns").write_bytes(icns({kind: png(size)
                                               for kind, size in ICNS_TYPES.items()}))
    return folder


def ico(images: dict[int, bytes]) -> bytes:
    """A Windows icon of PNG images (Vista and later read PNG entries)."""
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries, data = b"", b""
    for size, image in images.items():
        side = 0 if size >= 256 else size  # 0 means 256 in an ICO entry
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(image), offset)
        offset += len(image)
        data += image
    return header + entries + data


def icns(images: dict[bytes, bytes]) -> bytes:
    """A macOS icon of PNG images (OS X 10.7 and later)."""
    body = b"".join(kind + struct.pack(">I", 8 + len(image)) + image
                    for kind, image in images.items())
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def pyinstaller(out: Path, staged: Path, icons: Path, naive: bool,
                identity: str | None, entitlements: str | None) -> Path:
    command = [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm",
               "--log-level", "WARN", "--distpath", str(out / "dist"),
               "--workpath", str(out / "work"),
               "--", "--stage", str(staged), "--icons", str(icons)]
    if naive:
        command.append("--naive")
    if identity:
        command += ["--codesign-identity", identity]
    if entitlements:
        command += ["--entitlements", entitlements]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(command, cwd=out, env=env, check=False)
    if result.returncode != 0:
        raise BuildError(f"PyInstaller failed (exit code {result.returncode}); its log is above")
    return out / "dist" / NAME


def strip_debug_info(bundle: Path) -> None:
    """Drop the debug sections of the Python library where it carries them (a Python built
    from source on Linux: 23 MB of its 28). Nothing else is touched: stripping numpy's
    OpenBLAS breaks its loading, and Windows and macOS builds carry no such sections."""
    strip = shutil.which("strip")
    if not sys.platform.startswith("linux") or strip is None:
        return
    for library in (bundle / "_internal").glob("libpython3*.so*"):
        if not library.is_symlink():
            subprocess.run([strip, "--strip-debug", str(library)], check=True)


def add_desktop_files(bundle: Path, icons: Path) -> None:
    """The Linux desktop entry and the icon ride in the folder, for an installer (or the
    .deb below) to put in place."""
    share = bundle / "share"
    share.mkdir(exist_ok=True)
    shutil.copy2(DESKTOP_ENTRY, share / DESKTOP_ENTRY.name)
    shutil.copy2(icons / f"{NAME}.png", share / f"{NAME}.png")
    shutil.copy2(ICON_SVG, share / ICON_SVG.name)


def archive(bundle: Path, target: Path) -> Path:
    """The folder as ``NAME/…`` in a .zip (Windows) or a .tar.gz (elsewhere, keeping the
    executable bits and symbolic links)."""
    if sys.platform == "win32":
        path = target.with_suffix(".zip")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zipped:
            for file in sorted(bundle.rglob("*")):
                zipped.write(file, Path(NAME) / file.relative_to(bundle))
        return path
    path = target.with_name(target.name + ".tar.gz")
    with tarfile.open(path, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=NAME)
    return path


def debian_package(bundle: Path, out: Path, ver: str) -> Path:
    """A .deb that installs the folder in /opt/velocitas, the command in /usr/bin, the desktop
    entry and the icon where desktops look; built with dpkg-deb alone."""
    if shutil.which("dpkg-deb") is None:
        raise BuildError("--deb needs dpkg-deb (Debian's dpkg package)")
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    root = out / "deb"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(bundle, root / "opt" / NAME, symlinks=True)
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / NAME).symlink_to(f"/opt/{NAME}/{NAME}")
    apps = root / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copy2(DESKTOP_ENTRY, apps / DESKTOP_ENTRY.name)
    icon_dir = root / "usr" / "share" / "icons" / "hicolor" / "256x256" / "apps"
    icon_dir.mkdir(parents=True)
    shutil.copy2(bundle / "share" / f"{NAME}.png", icon_dir / f"{NAME}.png")
    size_kb = sum(f.stat().st_size for f in root.rglob("*")
                  if f.is_file() and not f.is_symlink()) // 1024
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN" / "control").write_text(
        f"Package: {NAME}\nVersion: {ver}\nArchitecture: {arch}\n"
        "Maintainer: Velocitas <velocitas@localhost>\nSection: misc\nPriority: optional\n"
        f"Installed-Size: {size_kb}\n"
        "Depends: libc6, libegl1, libgl1, libxkbcommon0, libxkbcommon-x11-0, libfontconfig1, "
        "libdbus-1-3, libxcb-cursor0\n"
        "Description: desktop trading terminal for crypto traders\n"
        " Paper trading on live prices, backtests, optimisation, trend analysis and a\n"
        " browser view, in one self-contained folder.\n", encoding="utf-8")
    path = out / f"{NAME}_{ver}_{arch}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", "-Zxz", str(root), str(path)],
                   check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(root)
    return path


def folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def build(out: Path, naive: bool = False, deb: bool = False, identity: str | None = None,
          entitlements: str | None = None) -> Path:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    ver = version()
    started = time.monotonic()
    staged = stage(out / "stage")
    icons = draw_icons(out / "icons")
    bundle = pyinstaller(out, staged, icons, naive, identity, entitlements)
    if not naive:
        strip_debug_info(bundle)
    add_desktop_files(bundle, icons)
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    packed = archive(bundle, out / f"{NAME}-{ver}-{system}-{platform.machine().lower()}")
    lines = [f"bundle:  {bundle} ({folder_size(bundle) / 1e6:.0f} MB)",
             f"archive: {packed} ({packed.stat().st_size / 1e6:.0f} MB)"]
    if deb:
        package = debian_package(bundle, out, ver)
        lines.append(f"debian:  {package} ({package.stat().st_size / 1e6:.0f} MB)")
    shutil.rmtree(staged)
    print("\n".join(lines), f"built in {time.monotonic() - started:.0f} s", sep="\n")
    return bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bundle",
                        help="build folder (default build/bundle; git ignores build/)")
    parser.add_argument("--naive", action="store_true",
                        help="no excludes: the reference bundle bench/bundle.py compares with")
    parser.add_argument("--deb", action="store_true", help="also build a Debian package")
    parser.add_argument("--codesign-identity", default=None,
                        help="macOS: the signing identity PyInstaller signs with")
    parser.add_argument("--entitlements", default=None, help="macOS: entitlements file")
    args = parser.parse_args(argv)
    try:
        build(args.out, args.naive, args.deb, args.codesign_identity, args.entitlements)
    except BuildError as exc:
        print(f"packaging/build.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
