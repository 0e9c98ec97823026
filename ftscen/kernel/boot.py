"""Build the module against installed headers, pack an initramfs, boot the kernel under QEMU.

What the real kernel needs, and where ftscen looks for it (the first that exists wins):

* headers: ``$FTSCEN_KERNEL_BUILD``, ``/lib/modules/RELEASE/build``,
  ``/usr/src/linux-headers-RELEASE``;
* image: ``$FTSCEN_KERNEL_IMAGE``, ``/boot/vmlinuz-RELEASE``,
  ``/opt/ftscen-kernel/boot/vmlinuz-RELEASE`` (an image unpacked with ``dpkg-deb -x``);
* ``qemu-system-x86_64``, a static ``busybox``, ``make`` and ``gcc``.

The initramfs is written here as a newc cpio archive (no ``cpio`` tool needed). The guest's
``/init`` loads the module, runs each unit's step script and prints the unit's kernel log
lines right after it (``dmesg -c``), so a boot that dies part way still says which units
finished. KVM is used only when ``/dev/kvm`` opens and a probe boot with it works; otherwise
TCG (this is what a nested, paravirtual KVM needs: it cannot boot stock kernels).
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ftscen.core.errors import UsageError

RELEASE = "6.1.0-56-amd64"
BEGIN, END = "FTSCEN-BOOT-BEGIN", "FTSCEN-BOOT-END"
APT_HINT = (
    "apt-get install qemu-system-x86 busybox-static make gcc linux-headers-{r}; "
    "the image: apt-get download linux-image-{r} && dpkg-deb -x linux-image-{r}_*.deb "
    "/opt/ftscen-kernel"
)


@dataclass(frozen=True)
class Tools:
    build_dir: Path
    image: Path
    qemu: str
    busybox: str


def _first(candidates: list[str | None]) -> Path | None:
    return next((Path(c) for c in candidates if c and Path(c).exists()), None)


def find_tools(release: str = RELEASE) -> Tools:
    """Everything a crosscheck needs, or one UsageError naming all that is missing."""
    build = _first(
        [
            os.environ.get("FTSCEN_KERNEL_BUILD"),
            f"/lib/modules/{release}/build",
            f"/usr/src/linux-headers-{release}",
        ]
    )
    image = _first(
        [
            os.environ.get("FTSCEN_KERNEL_IMAGE"),
            f"/boot/vmlinuz-{release}",
            f"/opt/ftscen-kernel/boot/vmlinuz-{release}",
        ]
    )
    qemu, busybox = shutil.which("qemu-system-x86_64"), _busybox()
    found = {
        f"linux-headers-{release}": build,
        f"the kernel image vmlinuz-{release}": image,
        "qemu-system-x86_64 (qemu-system-x86)": qemu,
        "a static busybox (busybox-static)": busybox,
        "make": shutil.which("make"),
        "gcc": shutil.which("gcc"),
    }
    missing = [what for what, where in found.items() if where is None]
    if missing:
        raise UsageError(
            "the real-kernel check needs "
            + ", ".join(missing)
            + "; install with: "
            + APT_HINT.format(r=release)
        )
    assert build and image and qemu and busybox
    return Tools(build, image, qemu, busybox)


def _busybox() -> str | None:
    for path in ("/bin/busybox", "/usr/bin/busybox"):
        if Path(path).exists() and b"ld-linux" not in Path(path).read_bytes()[:4096]:
            return path
    return None


def missing_reason(release: str = RELEASE) -> str | None:
    """Why a real-kernel check cannot run here (None: it can)."""
    try:
        find_tools(release)
    except UsageError as exc:
        return str(exc)
    return None


def build_module(directory: Path, build_dir: Path) -> str:
    """``make -C BUILD M=DIR modules``; returns the compiler's diagnostics (empty when clean)."""
    proc = subprocess.run(
        ["make", "-s", "-C", str(build_dir), f"M={directory.resolve()}", "modules"],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise UsageError(f"building the module in {directory} failed:\n{proc.stderr[-4000:]}")
    return proc.stderr


INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
dmesg -n 1
echo {begin}
insmod /ftscen_mod.ko || echo "ftscen: insmod failed"
dmesg -c > /dev/null
for u in $(cat /units); do
  . /steps/$u.sh
  dmesg -c | grep -e 'ftscen: ' -e ' flags:' -e 'WARNING: ' > /log
  cat /log
  echo "ftscen: unit $u finished"
  grep -q "ftscen: u$u s-2 ret -19" /log && echo "ftscen: ftrace disabled" && break
done
echo {end}
poweroff -f
"""


def _newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    """A newc cpio archive of (name, mode, data) entries, with its trailer."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        raw = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(raw), 0]
        out += b"070701" + b"".join(f"{v:08x}".encode() for v in fields) + raw
        out += b"\0" * (-len(out) % 4)
        out += data + b"\0" * (-len(data) % 4)
    return bytes(out)


def initramfs(ko: Path, busybox: str, scripts: dict[int, str], units: list[int]) -> bytes:
    """The guest's root: busybox, the module, one step script per unit, the units to run."""
    d, f, x = 0o040755, 0o100644, 0o100755
    entries = [(n, d, b"") for n in ("bin", "dev", "proc", "sys", "steps")]
    entries += [
        ("bin/busybox", x, Path(busybox).read_bytes()),
        ("init", x, INIT.format(begin=BEGIN, end=END).encode()),
        ("ftscen_mod.ko", f, ko.read_bytes()),
        ("units", f, " ".join(map(str, units)).encode() + b"\n"),
    ]
    head = SCRIPT_FUNC
    entries += [(f"steps/{u}.sh", f, (head + scripts[u]).encode()) for u in units]
    return gzip.compress(_newc(entries), 1)


SCRIPT_FUNC = 'step() { echo "$1 $2" > /proc/ftscen || echo "ftscen: u$1 s$2 write failed"; }\n'


def qemu_command(tools: Tools, initrd: Path, kvm: bool) -> list[str]:
    accel = ["-accel", "kvm", "-cpu", "host"] if kvm else ["-accel", "tcg", "-cpu", "max"]
    append = "console=ttyS0 panic=-1 oops=panic quiet loglevel=1 nokaslr log_buf_len=8M"
    return [
        tools.qemu, *accel, "-m", "512", "-smp", "1", "-net", "none", "-nographic",
        "-no-reboot", "-kernel", str(tools.image), "-initrd", str(initrd), "-append", append,
    ]  # fmt: skip


def kvm_usable() -> bool:
    """Only when asked (FTSCEN_KVM=1) and /dev/kvm opens: a nested paravirtual KVM aborts or
    hangs stock kernels, so TCG is the default that always works."""
    if os.environ.get("FTSCEN_KVM") != "1":
        return False
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError:
        return False
    return True


def boot(
    tools: Tools, initrd: Path, timeout: float, on_line: Callable[[str], None] = lambda _: None
) -> tuple[str, bool]:
    """Run the guest, passing each console line on as it comes; (console text, whether it ran
    to its end marker). A guest still running after ``timeout`` seconds is killed."""
    cmd = qemu_command(tools, initrd, kvm_usable())
    lines: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL) as proc:
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                lines.append(line)
                on_line(line)
        finally:
            timer.cancel()
            proc.kill()
    text = "\n".join(lines)
    return text, END in text
